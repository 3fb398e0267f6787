"""On-load int4 quantization: error bounds, exact cases, refusal of shapes it cannot group."""

import pytest
import torch

from inference.formats.int4_quantize import quantize_int4


def minmax_error(w: torch.Tensor, group: int) -> torch.Tensor:
    """Squared error per group of plain min/max asymmetric int4 (what the search must not exceed)."""
    g = w.reshape(-1, group)
    lo, hi = g.amin(-1, keepdim=True), g.amax(-1, keepdim=True)
    s = (hi - lo) / 15
    q = torch.clamp(torch.round((g - lo) / s), 0, 15)
    return ((q * s + lo - g) ** 2).sum(-1)


@pytest.mark.parametrize("group", [32, 128])
def test_error_never_above_minmax_and_lower_overall(group):
    torch.manual_seed(0)
    w = torch.distributions.StudentT(4.0).sample((64, 256)) * 0.02
    q = quantize_int4(w, group)
    assert q.qweight.dtype == torch.uint8 and q.qweight.shape == (64, 128)
    assert q.scales.shape == q.mins.shape == (64, 256 // group)
    ours = ((q.dequantize() - w) ** 2).reshape(-1, group).sum(-1)
    ref = minmax_error(w, group)
    assert (ours <= ref * (1 + 1e-5) + 1e-12).all()
    assert ours.sum() < 0.95 * ref.sum()


def test_weights_on_an_int4_grid_come_back_exactly():
    torch.manual_seed(1)
    codes = torch.randint(0, 16, (8, 64)).float()
    codes[:, ::32] = 0
    codes[:, 1::32] = 15  # every group spans the whole code range
    scale = torch.rand(8, 2, 1) * 0.1 + 0.01
    lo = -torch.rand(8, 2, 1)
    w = (codes.reshape(8, 2, 32) * scale + lo).reshape(8, 64)
    assert torch.allclose(quantize_int4(w, 32).dequantize(), w, atol=1e-6, rtol=0)


def test_constant_groups_and_half_precision_input():
    w = torch.full((4, 32), 0.25, dtype=torch.bfloat16)
    w[1] = 0.0
    assert torch.equal(quantize_int4(w, 32).dequantize(), w.float())


def test_refuses_groups_that_do_not_divide():
    with pytest.raises(ValueError):
        quantize_int4(torch.zeros(4, 48), 32)
    with pytest.raises(ValueError):
        quantize_int4(torch.zeros(4, 64), 48)
