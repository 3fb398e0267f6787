import pytest
import torch

from kernels.silu_mul import silu_mul, silu_mul_reference


@pytest.mark.parametrize("shape", [(1, 2 * 37), (6, 2 * 64), (2, 3, 2 * 5)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_silu_mul_matches_reference(shape, dtype, assert_close):
    x = (torch.randn(shape) * 3).to(dtype)
    out = silu_mul(x)
    assert out.shape == (*shape[:-1], shape[-1] // 2)
    assert_close(out, silu_mul_reference(x), dtype)


def test_silu_mul_is_the_gated_activation():
    x = torch.tensor([[0.0, 2.0, 5.0, 3.0]])
    expected = torch.tensor([[0.0 * 5.0, 2.0 / (1 + torch.exp(torch.tensor(-2.0))) * 3.0]])
    torch.testing.assert_close(silu_mul(x), expected)
