"""GGUF tensor data in torch: dequantizers and lossless conversion of 4-bit blocks to ``Int4Weight``.

Each dequantizer repeats the float32 operations of ``gguf.quants`` in the same order, so results agree
bit for bit with ``gguf.quants.dequantize``. Work is vectorized over blocks, in slices that bound the
temporary memory a large embedding table needs.

Input is what ``gguf.GGUFReader`` gives as ``ReaderTensor.data``: an array whose last axis holds one
row (raw bytes for block types, elements for F32/F16); output is float32 with that row expanded.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType

from inference.int4 import Int4Weight, pack_codes

QT = GGMLQuantizationType
SUPPORTED = frozenset({QT.F32, QT.F16, QT.BF16, QT.Q8_0, QT.Q4_0, QT.Q4_1, QT.Q4_K, QT.Q6_K})
INT4_CONVERTIBLE = frozenset({QT.Q4_0, QT.Q4_1, QT.Q4_K})
_SLICE_BLOCKS = 1 << 16


def row_bytes(data: np.ndarray | torch.Tensor) -> torch.Tensor:
    """The data as a uint8 torch tensor [..., bytes per row], sharing memory where possible."""
    if isinstance(data, torch.Tensor):
        return data.contiguous().view(torch.uint8)
    arr = np.ascontiguousarray(data)
    with warnings.catch_warnings():  # read-only memory maps: we never write to the input
        warnings.simplefilter("ignore", UserWarning)
        return torch.from_numpy(arr.view(np.uint8))


def _f16(b: torch.Tensor) -> torch.Tensor:
    """Two bytes per block -> float32 [n, 1]."""
    return b.contiguous().view(torch.float16).to(torch.float32)


def _nibbles(qs: torch.Tensor) -> torch.Tensor:
    """[..., k] bytes -> [..., 2, k]: low nibbles, then high nibbles."""
    return torch.stack((qs & 0x0F, qs >> 4), dim=-2)


def _q8_0(b: torch.Tensor) -> torch.Tensor:
    d = _f16(b[:, :2])
    x = b[:, 2:].contiguous().view(torch.int8).to(torch.float32)
    return x * d


def _q4_0_codes(b: torch.Tensor) -> torch.Tensor:
    return _nibbles(b[:, 2:]).reshape(b.shape[0], 32)


def _q4_0(b: torch.Tensor) -> torch.Tensor:
    d = _f16(b[:, :2])
    q = (_q4_0_codes(b).to(torch.int8) - 8).to(torch.float32)
    return d * q


def _q4_1_codes(b: torch.Tensor) -> torch.Tensor:
    return _nibbles(b[:, 4:]).reshape(b.shape[0], 32)


def _q4_1(b: torch.Tensor) -> torch.Tensor:
    d, m = _f16(b[:, :2]), _f16(b[:, 2:4])
    return (d * _q4_1_codes(b).to(torch.float32)) + m


def _q4_k_scales(b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per 32-element sub-block: scale ``d * sc`` and subtracted min ``dmin * m``, float32 [n, 8]."""
    d, dmin = _f16(b[:, :2]), _f16(b[:, 2:4])
    s = b[:, 4:16].reshape(-1, 3, 4)
    dd, mm, md = s[:, 0], s[:, 1], s[:, 2]
    sc = torch.cat((dd & 0x3F, (md & 0x0F) | ((dd >> 2) & 0x30)), dim=-1)
    mn = torch.cat((mm & 0x3F, (md >> 4) | ((mm >> 2) & 0x30)), dim=-1)
    return d * sc.to(torch.float32), dmin * mn.to(torch.float32)


def _q4_k_codes(b: torch.Tensor) -> torch.Tensor:
    """Codes [n, 8, 32]: sub-block 2i is the low nibbles of 32-byte chunk i, 2i+1 the high ones."""
    return _nibbles(b[:, 16:].reshape(-1, 4, 32)).reshape(-1, 8, 32)


def _q4_k(b: torch.Tensor) -> torch.Tensor:
    scale, dmin = _q4_k_scales(b)
    q = _q4_k_codes(b).to(torch.float32)
    return (scale.unsqueeze(-1) * q - dmin.unsqueeze(-1)).reshape(-1, 256)


def _q6_k(b: torch.Tensor) -> torch.Tensor:
    n = b.shape[0]
    ql, qh = b[:, :128], b[:, 128:192]
    sc = b[:, 192:208].contiguous().view(torch.int8).to(torch.float32)
    d = (_f16(b[:, 208:210]) * sc).reshape(n, 16, 1)
    lo = _nibbles(ql.reshape(n, 2, 64)).reshape(n, 8, 32)
    hi = torch.stack([(qh.reshape(n, 2, 32) >> s) & 0x03 for s in (0, 2, 4, 6)], dim=2)
    q = ((lo | (hi.reshape(n, 8, 32) << 4)).to(torch.int8) - 32).reshape(n, 16, 16)
    return (d * q.to(torch.float32)).reshape(n, 256)


def _bf16(b: torch.Tensor) -> torch.Tensor:
    return (b.contiguous().view(torch.int16).to(torch.int32) << 16).view(torch.float32)


def _f16_values(b: torch.Tensor) -> torch.Tensor:
    return b.contiguous().view(torch.float16).to(torch.float32)


def _f32_values(b: torch.Tensor) -> torch.Tensor:
    return b.contiguous().view(torch.float32)


_BLOCK_FNS = {
    QT.F32: _f32_values,
    QT.F16: _f16_values,
    QT.BF16: _bf16,
    QT.Q8_0: _q8_0,
    QT.Q4_0: _q4_0,
    QT.Q4_1: _q4_1,
    QT.Q4_K: _q4_k,
    QT.Q6_K: _q6_k,
}


def dequantize(data: np.ndarray | torch.Tensor, qtype: int | GGMLQuantizationType) -> torch.Tensor:
    """GGUF tensor data -> float32, bit for bit what ``gguf.quants.dequantize`` returns."""
    qtype = QT(qtype)
    if qtype not in SUPPORTED:
        raise NotImplementedError(f"GGUF tensor type {qtype.name} is not supported")
    raw = row_bytes(data)
    block_size, type_size = GGML_QUANT_SIZES[qtype]
    if raw.shape[-1] % type_size:
        raise ValueError(f"{qtype.name} row of {raw.shape[-1]} bytes is not whole blocks")
    out_shape = (*raw.shape[:-1], raw.shape[-1] // type_size * block_size)
    blocks = raw.reshape(-1, type_size)
    out = torch.empty(blocks.shape[0], block_size, dtype=torch.float32)
    fn = _BLOCK_FNS[qtype]
    for start in range(0, blocks.shape[0], _SLICE_BLOCKS):
        out[start : start + _SLICE_BLOCKS] = fn(blocks[start : start + _SLICE_BLOCKS]).reshape(
            -1, block_size
        )
    return out.reshape(out_shape)


def to_int4(data: np.ndarray | torch.Tensor, qtype: int | GGMLQuantizationType) -> Int4Weight:
    """Q4_0 / Q4_1 / Q4_K matrix [out, row bytes] -> ``Int4Weight`` with group 32, losslessly.

    Q4_0 becomes ``min = -8 * d``, Q4_1 keeps ``(d, m)``, Q4_K takes each sub-block's
    ``(d * sc, -dmin * m)``. Every product involved is exact in float32 (an f16 scale times a code of
    at most 6 bits), so ``Int4Weight.dequantize()`` equals ``dequantize()`` value for value.
    """
    qtype = QT(qtype)
    if qtype not in INT4_CONVERTIBLE:
        raise ValueError(f"{qtype.name} does not convert losslessly to int4")
    raw = row_bytes(data)
    if raw.dim() != 2:
        raise ValueError(f"expected a matrix, got shape {tuple(raw.shape)}")
    n_out = raw.shape[0]
    block_size, type_size = GGML_QUANT_SIZES[qtype]
    blocks = raw.reshape(-1, type_size)
    if qtype == QT.Q4_0:
        codes = _q4_0_codes(blocks)
        scales = _f16(blocks[:, :2])
        mins = scales * -8.0
    elif qtype == QT.Q4_1:
        codes = _q4_1_codes(blocks)
        scales, mins = _f16(blocks[:, :2]), _f16(blocks[:, 2:4])
    else:
        codes = _q4_k_codes(blocks)
        scales, dmin = _q4_k_scales(blocks)
        mins = -dmin
    return Int4Weight(
        qweight=pack_codes(codes.reshape(n_out, -1)),
        scales=scales.reshape(n_out, -1).contiguous(),
        mins=mins.reshape(n_out, -1).contiguous(),
        group_size=32,
    )
