import pytest
import torch

from kernels.rotary import rotary, rotary_reference


def cos_sin(positions: torch.Tensor, half: int, base: float = 10000.0):
    inv_freq = 1.0 / base ** (torch.arange(half, dtype=torch.float32) / half)
    angles = positions.float()[:, None] * inv_freq[None, :]
    return angles.cos(), angles.sin()


def hf_rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """HF Llama's apply_rotary_pos_emb on one tensor [T, H, D] (cos/sin duplicated to D)."""
    c = torch.cat((cos, cos), -1)[:, None, :]
    s = torch.cat((sin, sin), -1)[:, None, :]
    x1, x2 = x.chunk(2, dim=-1)
    return x * c + torch.cat((-x2, x1), dim=-1) * s


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_rotary_in_place_on_fused_qkv_views(dtype, assert_close):
    tokens, hq, hk, d = 3, 5, 2, 16
    qkv = torch.randn(tokens, (hq + 2 * hk) * d).to(dtype)
    q = qkv[:, : hq * d].view(tokens, hq, d)
    k = qkv[:, hq * d : (hq + hk) * d].view(tokens, hk, d)
    v_before = qkv[:, (hq + hk) * d :].clone()
    cos, sin = cos_sin(torch.tensor([0, 7, 300]), d // 2)
    ref_q, ref_k = rotary_reference(q.clone(), k.clone(), cos, sin)
    out_q, out_k = rotary(q, k, cos, sin)
    assert out_q.data_ptr() == q.data_ptr()
    assert_close(q, ref_q, dtype)
    assert_close(k, ref_k, dtype)
    assert torch.equal(qkv[:, (hq + hk) * d :], v_before)


def test_rotary_matches_hf_llama_and_gathers_positions(assert_close):
    tokens, d = 4, 8
    positions = torch.tensor([5, 0, 2, 9])
    cos_cache, sin_cache = cos_sin(torch.arange(16), d // 2)
    q, k = torch.randn(tokens, 3, d), torch.randn(tokens, 1, d)
    cos, sin = cos_sin(positions, d // 2)
    expected_q, expected_k = hf_rotate(q, cos, sin), hf_rotate(k, cos, sin)
    rotary(q, k, cos_cache, sin_cache, positions=positions)
    assert_close(q, expected_q, torch.float32)
    assert_close(k, expected_k, torch.float32)


def test_partial_rotary_leaves_the_tail(assert_close):
    q, k = torch.randn(2, 2, 12), torch.randn(2, 1, 12)
    tail = q[..., 8:].clone()
    cos, sin = cos_sin(torch.tensor([1, 4]), 4)
    ref_q, _ = rotary_reference(q.clone(), k.clone(), cos, sin)
    rotary(q, k, cos, sin)
    assert torch.equal(q[..., 8:], tail)
    assert_close(q, ref_q, torch.float32)
