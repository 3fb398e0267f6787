import pytest
import torch

from kernels.rms_norm import rms_norm, rms_norm_reference

DTYPES = [torch.float32, torch.float16, torch.bfloat16]


@pytest.mark.parametrize("shape", [(1, 37), (5, 64), (2, 3, 100)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_rms_norm_matches_reference(shape, dtype, assert_close):
    x = torch.randn(shape).to(dtype)
    w = torch.randn(shape[-1])
    assert_close(rms_norm(x, w, 1e-6), rms_norm_reference(x, w, 1e-6), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_fused_residual_add_updates_residual_in_place(dtype, assert_close):
    x = torch.randn(3, 53).to(dtype)
    residual = torch.randn(3, 53).to(dtype)
    w = torch.rand(53) + 0.5
    ref_out, ref_h = rms_norm_reference(x, w, 1e-5, residual.clone())
    out, new_residual = rms_norm(x, w, 1e-5, residual)
    assert new_residual is residual
    assert_close(residual, ref_h, dtype)
    assert_close(out, ref_out, dtype)


def test_per_head_norm_in_place_on_a_strided_view(assert_close):
    """Qwen3's q_norm: heads of a fused QKV output, normalized where they lie."""
    qkv = torch.randn(4, 5 * 16)
    q = qkv[:, : 3 * 16].view(4, 3, 16)
    untouched = qkv[:, 3 * 16 :].clone()
    w = torch.randn(16)
    expected = rms_norm_reference(q.clone(), w, 1e-6)
    rms_norm(q, w, 1e-6, out=q)
    assert_close(q, expected, torch.float32)
    assert torch.equal(qkv[:, 3 * 16 :], untouched)
