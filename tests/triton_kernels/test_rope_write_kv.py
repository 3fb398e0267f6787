import pytest
import torch

from kernels.rope_write_kv import rope_write_kv, rope_write_kv_reference


@pytest.mark.parametrize("rot_half", [8, 5])  # full rotary, partial rotary (tail copied)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_rope_write_kv_matches_rotary_then_write(rot_half, dtype, assert_close):
    tokens, heads, kv_heads, head_dim, block_size = 4, 6, 2, 16, 4
    qkv = torch.randn(tokens, (heads + 2 * kv_heads) * head_dim).to(dtype)
    qkv_before = qkv.clone()
    positions = torch.tensor([3, 0, 11, 7])
    angles = torch.arange(12)[:, None] * torch.rand(rot_half)[None, :]
    cos, sin = angles.cos(), angles.sin()
    slots = torch.tensor([5, -1, 0, 13])
    caches = [torch.zeros(4, block_size, kv_heads, head_dim, dtype=dtype) for _ in range(4)]
    q_out = torch.empty(tokens, heads, head_dim, dtype=dtype)
    q_ref = torch.empty_like(q_out)
    args = (heads, kv_heads, head_dim, positions, cos, sin, slots)
    rope_write_kv(qkv, *args, caches[0], caches[1], q_out)
    rope_write_kv_reference(qkv, *args, caches[2], caches[3], q_ref)
    assert torch.equal(qkv, qkv_before)
    assert_close(q_out, q_ref, dtype)
    assert_close(caches[0], caches[2], dtype)
    assert torch.equal(caches[1], caches[3])  # values are copied exactly
    assert int((caches[1] != 0).any(-1).any(-1).sum()) == 3  # the slot -1 token wrote nothing


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_qk_norm_fused_before_rotation(dtype, assert_close):
    """Qwen3: per-head RMSNorm of q and k, then rotary, then the cache write, in one kernel."""
    tokens, heads, kv_heads, head_dim = 3, 4, 2, 16
    qkv = (torch.randn(tokens, (heads + 2 * kv_heads) * head_dim) * 3).to(dtype)
    positions = torch.tensor([2, 9, 4])
    angles = torch.arange(10)[:, None] * torch.rand(head_dim // 2)[None, :]
    cos, sin = angles.cos(), angles.sin()
    slots = torch.tensor([1, 6, 3])
    q_norm, k_norm = torch.rand(head_dim) + 0.5, torch.rand(head_dim) + 0.5
    caches = [torch.zeros(2, 4, kv_heads, head_dim, dtype=dtype) for _ in range(4)]
    q_out, q_ref = (torch.empty(tokens, heads, head_dim, dtype=dtype) for _ in range(2))
    args = (heads, kv_heads, head_dim, positions, cos, sin, slots)
    rope_write_kv(qkv, *args, caches[0], caches[1], q_out, q_norm, k_norm, 1e-6)
    rope_write_kv_reference(qkv, *args, caches[2], caches[3], q_ref, q_norm, k_norm, 1e-6)
    assert_close(q_out, q_ref, dtype)
    assert_close(caches[0], caches[2], dtype)
    rms = q_out.float().pow(2).mean(-1).sqrt()
    assert torch.all((rms > 0.3) & (rms < 2.0))  # normalized, unlike the raw input
    with pytest.raises(ValueError):
        rope_write_kv(qkv, *args, caches[0], caches[1], q_out, q_norm, None)
