"""The engine's CPU kernels in plain PyTorch, for machines the C kernels of csrc/ do not build or
run on (x86 without AVX2, no gcc, macOS, ARM). ``inference.cpu_kernels`` picks this module or
``inference.native``; both expose the same functions, on the same tensors in the same layouts.

The arithmetic is the C kernels': the int8-activation linears quantize each row per 32 columns
into the same two int8 digits and add ``min * (exact sum of x)`` per group; weights dequantize
exactly (``code * scale`` is representable in float32). Only the summation order differs, so
results agree with the C kernels to float32 rounding. A quantized weight is dequantized to
float32 on every call, from an int8 copy of its codes in column order made on first use and kept
on the weight tensor: one byte per weight, where a float32 copy would take four.
"""

from __future__ import annotations

import threading
from typing import NamedTuple

import torch

# the caches' layout is the C kernels' one: a model runner allocates them the same either way
from inference.native import kv_cache_shapes as kv_cache_shapes


def set_num_threads(n: int) -> None:
    torch.set_num_threads(n)


class _Codes(NamedTuple):
    """A quantized weight ready for ``_matmul``: codes int8 [N, K] in column order, float32
    scales [N, K / group, 1] and, for int4, float32 minimums transposed to [K / group, N]."""

    codes: torch.Tensor
    scales: torch.Tensor
    mins_t: torch.Tensor | None
    group: int


def _nibbles(b: torch.Tensor) -> torch.Tensor:
    """Bytes [..., j] -> [..., 2, j]: the low nibbles, then the high ones."""
    return torch.stack((b & 0x0F, b >> 4), dim=-2)


def _from_superblocks(b: torch.Tensor, k: int, q8: bool) -> torch.Tensor:
    """Rows in the super-block layout of csrc/int8_linear.c -> values [N, K] in column order.

    Per 128 columns, lane ``l`` holds columns 8l..8l+7 as step 0 (8l..8l+3) and step 1
    (8l+4..8l+7); q4 keeps a lane's two steps in the two nibbles of its 4 bytes, q8 stores all
    lanes' step 0 before all lanes' step 1. A last, partial super-block keeps only its lanes."""
    n, full = b.shape[0], k // 128
    per_sb = 128 if q8 else 64
    parts = []
    for sb, lanes in ((b[:, : full * per_sb], 16), (b[:, full * per_sb :], (k % 128) // 8)):
        if lanes == 0 or sb.shape[1] == 0:
            continue
        if q8:
            steps = sb.reshape(n, -1, 2, lanes, 4).transpose(2, 3)
        else:
            steps = _nibbles(sb.reshape(n, -1, lanes, 4))
        parts.append(steps.reshape(n, -1))
    return torch.cat(parts, dim=1)


def _cached(qweight: torch.Tensor, make) -> _Codes:
    """The ``_Codes`` of a weight, made once; it lives as long as the weight tensor does."""
    codes = getattr(qweight, "_portable_codes", None)
    if codes is None:
        codes = make()
        qweight._portable_codes = codes
    return codes


def _scales(s: torch.Tensor) -> torch.Tensor:
    return s.to(torch.float32).unsqueeze(-1).contiguous()


def _i8_q4_codes(qweight, scales, mins, k) -> _Codes:
    codes = _from_superblocks(qweight, k, q8=False).view(torch.int8)
    return _Codes(codes, _scales(scales), mins.to(torch.float32).T.contiguous(), 32)


def _i8_q8_codes(qweight, scales, k) -> _Codes:
    codes = (_from_superblocks(qweight, k, q8=True) ^ 0x80).view(torch.int8)
    return _Codes(codes, _scales(scales), None, 32)


def _two_digits(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """x as the int8-activation kernels see it, and its exact sums per 32 columns.

    Per 32 columns, with d = max|x| / 127 and u = x * (1 / d), the C kernels hold
    q1 = round(u) and q2 = round(128 (u - q1)), rounding half to even, and compute with
    128 q1 + q2, which is round(128 u) exactly (u - q1 is exact, and 128 q1 even); |u| <= 127,
    so neither digit saturates. x ~ (128 q1 + q2) * d / 128."""
    m, k = x.shape
    g = x.reshape(m, k // 32, 32)
    d = g.abs().amax(-1, keepdim=True) / 127
    inv = d.reciprocal().nan_to_num_(posinf=0.0)  # an all-zero group stays zero
    xq = (g * inv).mul_(128).round_().mul_(d * (1.0 / 128))
    return xq.view(m, k), g.sum(-1)


# Weights are dequantized at most this many at a time (4 MB of float32, read back by the matmul
# while still in cache), into a buffer kept per thread: fresh pages from the OS on every call (a
# 49k-token output head is 113 MB) cost more than the arithmetic.
_CHUNK = 1 << 20
_scratch = threading.local()


def _buffer(numel: int) -> torch.Tensor:
    buf = getattr(_scratch, "buf", None)
    if buf is None or buf.numel() < numel:
        buf = _scratch.buf = torch.empty(numel)
    return buf[:numel]


def _matmul(x, xs, w: _Codes, bias, out) -> None:
    """out = x @ (codes * scales).T (+ xs @ mins) (+ bias); xs: x's sums per group."""
    n, k = w.codes.shape
    rows = min(n, max(1, _CHUNK // k))
    buf = _buffer(rows * k)
    y = x.new_empty(x.shape[0], n)
    for r in range(0, n, rows):
        codes = w.codes[r : r + rows]
        dense = buf[: codes.numel()].view(-1, k // w.group, w.group)
        dense.copy_(codes.view(-1, k // w.group, w.group)).mul_(w.scales[r : r + rows])
        torch.mm(x, dense.view(-1, k).T, out=y[:, r : r + rows])
    if w.mins_t is not None:
        y.addmm_(xs, w.mins_t)
    if bias is not None:
        y.add_(bias)
    out.copy_(y)


def _group_sums(x: torch.Tensor, group: int) -> torch.Tensor:
    return x.reshape(x.shape[0], -1, group).sum(-1)


def linear_q4(x, qweight, sm, group_size, bias, out):
    """out[M, N] = x[M, K] @ W.T + bias; W in the float-activation layout of layers/linear.py
    (per 32 columns 16 bytes: column j low nibble, j + 16 high) with (scale, min) pairs ``sm``."""

    def make() -> _Codes:
        n = qweight.shape[0]
        codes = _nibbles(qweight.reshape(n, -1, 16)).reshape(n, -1).view(torch.int8)
        return _Codes(codes, _scales(sm[..., 0]), sm[..., 1].to(torch.float32).T.contiguous(),
                      group_size)  # fmt: skip

    w = _cached(qweight, make)
    _matmul(x, _group_sums(x, w.group), w, bias, out)


def linear_i8_q4(x, qweight, scales, mins, bias, out):
    """Int8-activation linear; weights in the super-block layout of csrc/int8_linear.c."""
    w = _cached(qweight, lambda: _i8_q4_codes(qweight, scales, mins, x.shape[1]))
    _matmul(*_two_digits(x), w, bias, out)


def linear_i8_q8(x, qweight, scales, bias, out):
    w = _cached(qweight, lambda: _i8_q8_codes(qweight, scales, x.shape[1]))
    _matmul(*_two_digits(x), w, bias, out)


def linear_q8(x, qweight, scales, bias, out):
    w = _cached(qweight, lambda: _Codes(qweight, _scales(scales), None, 32))
    _matmul(x, None, w, bias, out)


def linear_f32(x, weight, bias, out):
    out.copy_(torch.nn.functional.linear(x, weight, bias))


def _embed(ids, w: _Codes, out) -> None:
    t, k = out.shape
    rows = w.codes.index_select(0, ids).to(torch.float32).view(t, k // 32, 32)
    torch.mul(rows, w.scales.index_select(0, ids), out=out.view(t, k // 32, 32))


def embed_q8(ids, qweight, scales, out):
    """Rows of a Q8_0 table (int8 [V, K], float16 scales [V, K / 32]), dequantized exactly."""
    _embed(ids, _cached(qweight, lambda: _Codes(qweight, _scales(scales), None, 32)), out)


def embed_i8_q8(ids, qweight, scales, out):
    """Rows of a q8 table in the super-block layout (a tied embedding), dequantized exactly."""
    _embed(ids, _cached(qweight, lambda: _i8_q8_codes(qweight, scales, out.shape[1])), out)


def add_rmsnorm(h, add, weight, eps, out):
    """h += add (if given, in place); out = rmsnorm(h) * weight. Rows of h.shape[-1]."""
    if add is not None:
        h.add_(add)
    out.copy_(torch.nn.functional.rms_norm(h, (h.shape[-1],), weight, eps))


def silu_mul(gate_up, out):
    f = gate_up.shape[1] // 2
    torch.mul(torch.nn.functional.silu(gate_up[:, :f]), gate_up[:, f:], out=out)


def _rotate(x: torch.Tensor, c: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """Rotate-half rotary embedding of x [T, heads, D] by cos/sin [T, D / 2]."""
    a, b = x.chunk(2, dim=-1)
    c, s = c.unsqueeze(1), s.unsqueeze(1)
    return torch.cat((a * c - b * s, b * c + a * s), dim=-1)


def rope_store_kv(
    qkv, n_heads, n_kv_heads, head_dim, positions, cos, sin, slots, k_cache, v_cache, q_out
):
    """Rotate q into q_out; rotate k and copy v into the caches (layouts: see ``kv_cache_shapes``)."""
    t, h, hkv, d = qkv.shape[0], n_heads, n_kv_heads, head_dim
    qk = _rotate(qkv[:, : (h + hkv) * d].view(t, h + hkv, d), cos[positions], sin[positions])
    q_out.copy_(qk[:, :h])
    bs = v_cache.shape[1]
    k_cache[slots // bs, :, :, slots % bs] = qk[:, h:]
    v_cache.view(-1, hkv, d).index_copy_(0, slots, qkv[:, (h + hkv) * d :].view(t, hkv, d))


def _attend(q, tables, ctx, k_cache, v_cache, scale) -> torch.Tensor:
    """Attention of B query groups q [B, H, n, D]; group b reads the cache blocks tables[b] and
    its i-th query the first ctx[b, i] keys. Returns [B, H, n, D]."""
    b, hkv, d, bs = q.shape[0], k_cache.shape[1], q.shape[3], k_cache.shape[3]
    nb = -(-int(ctx.max()) // bs)
    blocks = tables[:, :nb].reshape(-1)
    k = k_cache.index_select(0, blocks).view(b, nb, hkv, d, bs)
    k = k.permute(0, 2, 1, 4, 3).reshape(b, hkv, nb * bs, d)
    v = v_cache.index_select(0, blocks).view(b, nb * bs, hkv, d).transpose(1, 2)
    visible = torch.arange(nb * bs) < ctx.unsqueeze(-1)
    return torch.nn.functional.scaled_dot_product_attention(
        q, k, v, attn_mask=visible.unsqueeze(1), scale=scale, enable_gqa=True
    )


def paged_attention(q, k_cache, v_cache, block_tables, token_seq, token_ctx, scale, out):
    """q, out [T, H, D]; caches as ``kv_cache_shapes``; block_tables int32 [S, max_blocks].

    Token t attends to the first token_ctx[t] positions of sequence token_seq[t]. A decode step
    (one token per sequence) is one batch padded to its longest context; otherwise each run of
    a sequence's tokens (a prompt chunk) is one masked attention over that sequence's keys."""
    t, h, d = q.shape
    seqs, counts = torch.unique_consecutive(token_seq, return_counts=True)
    if len(seqs) == t:
        tables = block_tables.index_select(0, token_seq)
        o = _attend(q.view(t, h, 1, d), tables, token_ctx.view(t, 1), k_cache, v_cache, scale)
        out.copy_(o.view(t, h, d))
        return
    start = 0
    for seq, n in zip(seqs.tolist(), counts.tolist(), strict=True):
        stop = start + n
        o = _attend(
            q[start:stop].transpose(0, 1).unsqueeze(0),
            block_tables[seq : seq + 1],
            token_ctx[start:stop].view(1, n),
            k_cache,
            v_cache,
            scale,
        )
        out[start:stop] = o[0].transpose(0, 1)
        start = stop
