"""The engine's dispatch surface: same answers on both paths, and the choice it makes."""

import pytest
import torch

from kernels import ops
from kernels.bench_util import random_int4

CPU = torch.device("cpu")


@pytest.mark.parametrize("force", [True, False])
def test_every_op_agrees_across_paths(force, assert_close):
    x = torch.randn(3, 64)
    w = random_int4(40, 64, 32, CPU)
    assert_close(
        ops.int4_linear(x, w, force_triton=force),
        ops.int4_linear(x, w, force_triton=False),
        torch.float32,
    )
    bias = torch.randn(40)
    assert_close(
        ops.int4_linear(x, w, bias, force_triton=force),
        ops.int4_linear(x, w, force_triton=False) + bias,
        torch.float32,
    )
    assert_close(
        ops.silu_mul(x, force_triton=force), ops.silu_mul(x, force_triton=False), torch.float32
    )

    residual = torch.randn(3, 64)
    expected_residual = x + residual
    out, new_residual = ops.rms_norm(x, torch.ones(64), 1e-6, residual, force_triton=force)
    assert new_residual is residual
    assert_close(residual, expected_residual, torch.float32)
    assert_close(
        out,
        ops.rms_norm(expected_residual, torch.ones(64), 1e-6, force_triton=False),
        torch.float32,
    )

    heads = torch.randn(3, 4, 16)
    expected = ops.rms_norm(heads.clone(), torch.ones(16), 1e-6, force_triton=False)
    ops.rms_norm(heads, torch.ones(16), 1e-6, out=heads, force_triton=force)
    assert_close(heads, expected, torch.float32)


@pytest.mark.parametrize("force", [True, False])
def test_attention_ops_round_trip_through_the_cache(force, assert_close):
    """Rotate five tokens, cache them in blocks 2 and 3, attend from the last one."""
    q, key, value = torch.randn(5, 4, 16), torch.randn(5, 2, 16), torch.randn(5, 2, 16)
    cos, sin = torch.rand(6, 8), torch.rand(6, 8)
    positions = torch.arange(5)
    q_ref, k_ref = q.clone(), key.clone()
    ops.rotary(q, key, cos, sin, positions, force_triton=force)
    ops.rotary(q_ref, k_ref, cos, sin, positions, force_triton=False)
    assert_close(q, q_ref, torch.float32)
    assert_close(key, k_ref, torch.float32)
    k_cache = torch.zeros(4, 4, 2, 16)
    v_cache = torch.zeros_like(k_cache)
    ops.write_kv(key, value, k_cache, v_cache, torch.arange(8, 13), force_triton=force)
    tables = torch.tensor([[2, 3]], dtype=torch.int32)
    lens = torch.tensor([5], dtype=torch.int32)
    out = ops.paged_decode_attention(
        q[4:], k_cache, v_cache, tables, lens, 0.25, force_triton=force
    )
    keys, values = key.repeat_interleave(2, dim=1), value.repeat_interleave(2, dim=1)
    scores = torch.einsum("hd,thd->ht", q[4], keys) * 0.25
    assert_close(out[0], torch.einsum("ht,thd->hd", scores.softmax(-1), values), torch.float32)


@pytest.mark.parametrize("force", [True, False])
def test_fused_moe_op(force, assert_close):
    w13 = random_int4(2 * 32, 32, 16, CPU, lead=(6,))
    w2 = random_int4(32, 32, 16, CPU, lead=(6,))
    x, logits = torch.randn(4, 32), torch.randn(4, 6)
    out = ops.fused_moe(x, logits, w13, w2, 2, force_triton=force)
    assert_close(out, ops.fused_moe(x, logits, w13, w2, 2, force_triton=False), torch.float32)


def test_dispatch_follows_device_then_environment(monkeypatch):
    cpu = torch.zeros(1)
    monkeypatch.delenv("PARLEY_KERNELS", raising=False)
    assert ops.use_triton(cpu) is False
    assert ops.use_triton(cpu, force=True) is True
    monkeypatch.setenv("PARLEY_KERNELS", "triton")
    assert ops.use_triton(cpu) is True
    monkeypatch.setenv("PARLEY_KERNELS", "torch")
    assert ops.use_triton(cpu) is False
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    with pytest.raises(RuntimeError, match="TRITON_INTERPRET"):
        ops.use_triton(cpu, force=True)
