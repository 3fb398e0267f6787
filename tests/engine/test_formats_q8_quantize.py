"""Float -> Q8Weight for embeddings and output heads."""

import pytest
import torch

from inference.formats.q8_quantize import quantize_q8


def test_error_within_half_a_step_and_zero_blocks_exact():
    torch.manual_seed(0)
    w = torch.randn(16, 96) * torch.rand(16, 1)
    w[3, 32:64] = 0.0
    q = quantize_q8(w)
    assert (
        q.qweight.dtype == torch.int8
        and q.scales.dtype == torch.float16
        and q.scales.shape == (16, 3)
    )
    step = q.scales.float().repeat_interleave(32, dim=1)
    err = (q.dequantize() - w).abs()
    assert (err <= step * 0.5 + 1e-7).all()
    assert torch.equal(q.dequantize()[3, 32:64], torch.zeros(32))
    assert q.qweight.abs().max() == 127


def test_refuses_widths_not_multiple_of_32():
    with pytest.raises(ValueError):
        quantize_q8(torch.zeros(2, 40))
