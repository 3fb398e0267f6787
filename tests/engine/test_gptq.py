"""GPTQ tensors -> Int4Weight, against a scalar dequantization oracle written from the packing spec."""

import numpy as np
import pytest
import torch
from gptq_codec import gptq_quantize, oracle_dequantize, pack_gptq, to_int32

from inference.formats.gptq import checkpoint_format, gptq_to_int4


@pytest.mark.parametrize("fmt", ["gptq", "gptq_v2"])
def test_matches_oracle_on_random_tensors(fmt):
    rng = np.random.default_rng(0)
    n_in, n_out, group = 64, 24, 32
    codes = rng.integers(0, 16, (n_in, n_out))
    zeros = rng.integers(1 if fmt == "gptq" else 0, 16, (n_in // group, n_out))
    scales = rng.uniform(1e-3, 0.05, (n_in // group, n_out))
    qweight, qzeros, sc = pack_gptq(codes, zeros, scales, fmt)
    g_idx = torch.arange(n_in, dtype=torch.int32) // group
    assert (qweight < 0).any()  # high nibbles >= 8 give negative words: the sign must not leak
    w = gptq_to_int4(qweight, qzeros, sc, g_idx, fmt)
    assert w.shape == (n_out, n_in) and w.group_size == group
    ref = oracle_dequantize(qweight, qzeros, sc, g_idx, fmt)
    assert torch.equal(w.dequantize(), ref)  # (q - z) * s is exact in float32 for f16 scales


@pytest.mark.parametrize(
    ("fmt", "sym", "group"), [("gptq", True, 32), ("gptq", False, 128), ("gptq_v2", False, 32)]
)
def test_round_trip_from_float_weight(fmt, sym, group):
    rng = np.random.default_rng(1)
    weight = rng.standard_normal((16, 256)).astype(np.float32) * 0.05
    codes, zeros, scales = gptq_quantize(weight, group, sym)
    if fmt == "gptq":
        zeros = np.maximum(
            zeros, 1
        )  # a zero of 0 does not survive the classic format (stored as -1)
    qweight, qzeros, sc = pack_gptq(codes, zeros, scales, fmt)
    w = gptq_to_int4(qweight, qzeros, sc, None, fmt).dequantize()
    g_idx = np.arange(256) // group
    assert torch.equal(w, oracle_dequantize(qweight, qzeros, sc, g_idx, fmt))
    step = torch.from_numpy(scales.T.astype(np.float32)).repeat_interleave(group, dim=1)
    assert ((w - torch.from_numpy(weight)).abs() <= step + 1e-6).all()


def test_classic_format_zero_nibble_15_means_16():
    qweight = to_int32(np.zeros((4, 8), np.uint32))  # every code 0
    qzeros = to_int32(np.full((1, 1), 0xFFFFFFFF, np.uint32))  # every stored zero 15
    scales = torch.full((1, 8), 0.5, dtype=torch.float16)
    assert torch.equal(
        gptq_to_int4(qweight, qzeros, scales).dequantize(), torch.full((8, 32), -8.0)
    )
    assert torch.equal(
        gptq_to_int4(qweight, qzeros, scales, fmt="gptq_v2").dequantize(), torch.full((8, 32), -7.5)
    )


def test_act_order_and_bad_shapes_are_refused():
    rng = np.random.default_rng(2)
    qweight, qzeros, sc = pack_gptq(
        rng.integers(0, 16, (64, 8)), rng.integers(1, 16, (2, 8)), np.ones((2, 8)), "gptq"
    )
    g_idx = torch.from_numpy(rng.permutation(np.arange(64) // 32).astype(np.int32))
    with pytest.raises(ValueError, match="act-order"):
        gptq_to_int4(qweight, qzeros, sc, g_idx)
    with pytest.raises(ValueError, match="inconsistent"):
        gptq_to_int4(qweight, qzeros[:, :0], sc)


def test_checkpoint_format_reads_new_and_legacy_keys():
    assert checkpoint_format({"quant_method": "gptq", "bits": 4}) == "gptq"
    assert checkpoint_format({"bits": 4, "checkpoint_format": "gptq_v2"}) == "gptq_v2"
    assert checkpoint_format({"bits": 4, "format": "GPTQ_V2"}) == "gptq_v2"
    with pytest.raises(ValueError):
        checkpoint_format({"bits": 8})
    with pytest.raises(ValueError):
        checkpoint_format({"bits": 4, "format": "marlin"})
