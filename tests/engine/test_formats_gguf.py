"""GGUF dequantizers against ``gguf.quants`` (the reference), and lossless 4-bit -> Int4Weight."""

import numpy as np
import pytest
import torch
from gguf import quants
from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType

from inference.formats import gguf_quants
from inference.formats.gguf_quants import dequantize, to_int4

QT = GGMLQuantizationType
# byte offsets of the f16 scale fields inside one block, per type
F16_FIELDS = {QT.Q8_0: (0,), QT.Q4_0: (0,), QT.Q4_1: (0, 2), QT.Q4_K: (0, 2), QT.Q6_K: (208,)}


def random_blocks(qtype, rows, blocks_per_row, seed=0):
    """Random raw blocks whose f16 fields hold finite, moderate scales of either sign."""
    rng = np.random.default_rng(seed)
    _, type_size = GGML_QUANT_SIZES[qtype]
    raw = rng.integers(0, 256, size=(rows, blocks_per_row, type_size), dtype=np.uint8)
    for off in F16_FIELDS[qtype]:
        scale = rng.uniform(1e-4, 0.1, size=(rows, blocks_per_row)) * rng.choice([-1, 1], (rows, 1))
        raw[..., off : off + 2] = scale.astype(np.float16)[..., None].view(np.uint8)
    return raw.reshape(rows, blocks_per_row * type_size)


def assert_bitwise_equal(ours: torch.Tensor, ref: np.ndarray):
    ref_t = torch.from_numpy(np.ascontiguousarray(ref))
    assert ours.dtype == torch.float32 and ours.shape == ref_t.shape
    assert torch.equal(ours.view(torch.int32), ref_t.view(torch.int32))


@pytest.mark.parametrize("qtype", [QT.F32, QT.F16, QT.BF16, QT.Q8_0, QT.Q4_0, QT.Q4_1])
def test_quantized_random_data_matches_gguf(qtype):
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((5, 7 * 32)) * rng.uniform(0.01, 3, (5, 1))).astype(np.float32)
    x[0, :32] = 0.0  # an all-zero block (d == 0)
    data = quants.quantize(x, qtype)
    assert_bitwise_equal(dequantize(data, qtype), quants.dequantize(data, qtype))


@pytest.mark.parametrize("qtype", [QT.Q8_0, QT.Q4_1, QT.Q4_K, QT.Q6_K])
def test_random_raw_blocks_match_gguf(qtype):
    blocks = 7 if GGML_QUANT_SIZES[qtype][0] == 32 else 3
    raw = random_blocks(qtype, rows=5, blocks_per_row=blocks)
    assert_bitwise_equal(dequantize(raw, qtype), quants.dequantize(raw, qtype))


def test_q4_0_raw_blocks_match_gguf_up_to_signed_zero():
    """Raw Q4_0 with negative scales: equal as values; gguf gives -0.0 for code 8, we give +0.0 or -0.0
    the same way, so the bits match too."""
    raw = random_blocks(QT.Q4_0, rows=4, blocks_per_row=9)
    assert_bitwise_equal(dequantize(raw, QT.Q4_0), quants.dequantize(raw, QT.Q4_0))


def test_three_dimensional_and_torch_input():
    raw = random_blocks(QT.Q4_K, rows=6, blocks_per_row=2).reshape(2, 3, -1)
    ours = dequantize(torch.from_numpy(raw), QT.Q4_K)
    assert ours.shape == (2, 3, 512)
    assert_bitwise_equal(ours, quants.dequantize(raw, QT.Q4_K))


def test_large_tensors_are_processed_in_slices(monkeypatch):
    monkeypatch.setattr(gguf_quants, "_SLICE_BLOCKS", 4)
    raw = random_blocks(QT.Q6_K, rows=3, blocks_per_row=5)
    assert_bitwise_equal(dequantize(raw, QT.Q6_K), quants.dequantize(raw, QT.Q6_K))


def test_unsupported_type_and_partial_block_raise():
    with pytest.raises(NotImplementedError):
        dequantize(np.zeros((2, 22), np.uint8), QT.Q5_0)
    with pytest.raises(ValueError):
        dequantize(np.zeros((2, 19), np.uint8), QT.Q4_0)


@pytest.mark.parametrize("qtype", [QT.Q4_1, QT.Q4_K])
def test_int4_conversion_is_bit_exact(qtype):
    raw = random_blocks(qtype, rows=6, blocks_per_row=3, seed=2)
    w = to_int4(raw, qtype)
    assert w.group_size == 32 and w.shape == (
        6,
        raw.shape[1] // GGML_QUANT_SIZES[qtype][1] * GGML_QUANT_SIZES[qtype][0],
    )
    assert_bitwise_equal(w.dequantize(), quants.dequantize(raw, qtype))


def test_q4_0_int4_conversion_equal_values_signed_zero_aside():
    """``q * d + (-8 d)`` is exact, like gguf's ``d * (q - 8)``; only code 8 with d < 0 differs:
    gguf gives -0.0, the Int4Weight form +0.0."""
    raw = random_blocks(QT.Q4_0, rows=6, blocks_per_row=5, seed=3)
    ours = to_int4(raw, QT.Q4_0).dequantize()
    ref = torch.from_numpy(quants.dequantize(raw, QT.Q4_0))
    assert torch.equal(ours, ref)
    differ = ours.view(torch.int32) != ref.view(torch.int32)
    assert differ.any() and (ref[differ] == 0).all()


def test_int4_conversion_of_gguf_quantized_weights():
    x = np.random.default_rng(4).standard_normal((8, 64)).astype(np.float32)
    for qtype in (QT.Q4_0, QT.Q4_1):
        data = quants.quantize(x, qtype)
        assert torch.equal(
            to_int4(data, qtype).dequantize(), torch.from_numpy(quants.dequantize(data, qtype))
        )


def test_int4_conversion_rejects_other_types():
    with pytest.raises(ValueError):
        to_int4(np.zeros((2, 34), np.uint8), QT.Q8_0)
