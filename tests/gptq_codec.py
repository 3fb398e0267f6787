"""GPTQ packing written from the format spec, and a scalar dequantization oracle: shared by the
GPTQ tests and the oracle tests that feed GPTQ checkpoints to transformers."""

import numpy as np
import torch


def to_int32(values: np.ndarray) -> torch.Tensor:
    """Unsigned 32-bit words -> int32 with two's-complement wrap, as checkpoints store them."""
    return torch.from_numpy(values.astype(np.uint32).view(np.int32))


def pack_gptq(codes, zeros, scales, fmt):
    """Spec packing: codes [in, out] along the input, zeros [groups, out] along the output."""
    n_in, n_out = codes.shape
    qweight = np.zeros((n_in // 8, n_out), np.uint64)
    for k in range(8):
        qweight |= codes[k::8].astype(np.uint64) << (4 * k)
    stored = (zeros - 1) & 0x0F if fmt == "gptq" else zeros
    qzeros = np.zeros((zeros.shape[0], n_out // 8), np.uint64)
    for k in range(8):
        qzeros |= stored[:, k::8].astype(np.uint64) << (4 * k)
    return to_int32(qweight), to_int32(qzeros), torch.from_numpy(scales.astype(np.float16))


def oracle_dequantize(qweight, qzeros, scales, g_idx, fmt):
    """W[o, i] = scale[g, o] * (q[i, o] - zero[g, o]), one element at a time, in float32."""
    qw, qz, sc = qweight.numpy(), qzeros.numpy(), scales.numpy().astype(np.float32)
    n_in, n_out = qw.shape[0] * 8, qw.shape[1]
    w = np.zeros((n_out, n_in), np.float32)
    for o in range(n_out):
        for i in range(n_in):
            g = int(g_idx[i])
            q = (int(qw[i // 8, o]) >> (4 * (i % 8))) & 0xF
            z = (int(qz[g, o // 8]) >> (4 * (o % 8))) & 0xF
            z += 1 if fmt == "gptq" else 0
            w[o, i] = sc[g, o] * np.float32(q - z)
    return torch.from_numpy(w)


def gptq_quantize(weight: np.ndarray, group_size: int, sym: bool):
    """Round-to-nearest GPTQ-style quantization of W [out, in] -> codes [in, out], zeros, scales."""
    n_out, n_in = weight.shape
    groups = weight.reshape(n_out, n_in // group_size, group_size)
    lo, hi = np.minimum(groups.min(-1), 0), np.maximum(groups.max(-1), 0)
    if sym:
        hi = np.maximum(-lo, hi)
        lo = -hi
    scales = ((hi - lo) / 15).astype(np.float16)
    s = scales.astype(np.float32)
    zeros = (
        np.full_like(lo, 8, dtype=np.int64)
        if sym
        else np.clip(np.round(-lo / s), 0, 15).astype(np.int64)
    )
    codes = np.clip(np.round(groups / s[..., None]) + zeros[..., None], 0, 15).astype(np.int64)
    return codes.reshape(n_out, n_in).T.copy(), zeros.T.copy(), scales.T.copy()
