"""The engine's CPU kernels in plain PyTorch, for machines the C kernels of csrc/ do not build or
run on (no AVX-512 VNNI, no gcc, macOS, ARM). ``inference.cpu_kernels`` picks this module or
``inference.native``; both expose the same functions, on the same tensors in the same layouts.

The arithmetic is the C kernels': the int8-activation linears quantize each row per 32 columns
into the same two int8 digits and add ``min * (exact sum of x)`` per group; weights dequantize
exactly (``code * scale`` is representable in float32). Only the summation order differs, so
results agree with the C kernels to float32 rounding. A quantized weight is dequantized to
float32 on every call, from an int8 copy of its codes in column order made on first use and kept
on the weight tensor: one byte per weight, where a float32 copy would take four.
"""

from __future__ import annotations

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

    Per 32 columns, with d = max|x| / 127: q1 = round(x / d) and q2 = round(128 (x / d - q1)),
    both int8 (rounding half to even, as the C conversion does); x ~ (128 q1 + q2) * d / 128."""
    m, k = x.shape
    g = x.reshape(m, k // 32, 32)
    d = g.abs().amax(-1, keepdim=True) / 127
    u = g * torch.where(d > 0, d.reciprocal(), 0.0)
    q1 = u.round().clamp_(-127, 127)
    q2 = ((u - q1) * 128).round_().clamp_(-128, 127)
    xq = (q1.mul_(128).add_(q2)).mul_(d * (1.0 / 128))
    return xq.view(m, k), g.sum(-1)


def _matmul(x, xs, w: _Codes, bias, out) -> None:
    """out = x @ (codes * scales).T (+ xs @ mins) (+ bias); xs: x's sums per group."""
    n, k = w.codes.shape
    dense = w.codes.to(torch.float32).view(n, k // w.group, w.group).mul_(w.scales)
    y = torch.mm(x, dense.view(n, k).T)
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
    c = h.shape[-1]
    rows = h.view(-1, c)
    r = (rows.square().sum(-1, keepdim=True) / c + eps).rsqrt_()
    torch.mul(rows, r, out=out.view(-1, c)).mul_(weight)


def silu_mul(gate_up, out):
    f = gate_up.shape[1] // 2
    torch.mul(torch.nn.functional.silu(gate_up[:, :f]), gate_up[:, f:], out=out)


def _rotate(x: torch.Tensor, c: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """Rotate-half rotary embedding of x [T, heads, D] by cos/sin [T, 1, D / 2]."""
    a, b = x.chunk(2, dim=-1)
    return torch.cat((a * c - b * s, b * c + a * s), dim=-1)


def rope_store_kv(
    qkv, n_heads, n_kv_heads, head_dim, positions, cos, sin, slots, k_cache, v_cache, q_out
):
    """Rotate q into q_out; rotate k and copy v into the caches (layouts: see ``kv_cache_shapes``)."""
    t, h, hkv, d = qkv.shape[0], n_heads, n_kv_heads, head_dim
    c, s = cos[positions].unsqueeze(1), sin[positions].unsqueeze(1)
    q_out.copy_(_rotate(qkv[:, : h * d].view(t, h, d), c, s))
    k = _rotate(qkv[:, h * d : (h + hkv) * d].view(t, hkv, d), c, s)
    bs = v_cache.shape[1]
    k_cache[slots // bs, :, :, slots % bs] = k
    v_cache.view(-1, hkv, d).index_copy_(0, slots, qkv[:, (h + hkv) * d :].view(t, hkv, d))


def paged_attention(q, k_cache, v_cache, block_tables, token_seq, token_ctx, scale, out):
    """q, out [T, H, D]; caches as ``kv_cache_shapes``; block_tables int32 [S, max_blocks].

    Token t attends to the first token_ctx[t] positions of sequence token_seq[t]. The tokens of
    one sequence (a prompt chunk, or one decode token) are one masked softmax over its keys."""
    t, h, d = q.shape
    hkv, bs = v_cache.shape[2], v_cache.shape[1]
    group = h // hkv
    seqs, counts = torch.unique_consecutive(token_seq, return_counts=True)
    ctx = token_ctx.tolist()
    start = 0
    for seq, n in zip(seqs.tolist(), counts.tolist(), strict=True):
        stop = start + n
        keys = max(ctx[start:stop])
        blocks = block_tables[seq, : -(-keys // bs)].long()
        k = k_cache[blocks].permute(1, 0, 3, 2).reshape(hkv, -1, d)[:, :keys]
        v = v_cache[blocks].reshape(-1, hkv, d)[:keys].transpose(0, 1)
        qs = (q[start:stop] * scale).view(n, hkv, group, d).permute(1, 2, 0, 3)
        scores = torch.matmul(qs.reshape(hkv, group * n, d), k.transpose(1, 2))
        visible = torch.arange(keys) < token_ctx[start:stop, None]
        scores.masked_fill_(~visible.repeat(group, 1), float("-inf"))
        o = torch.matmul(scores.softmax(-1), v).view(hkv, group, n, d)
        out[start:stop] = o.permute(2, 0, 1, 3).reshape(n, h, d)
        start = stop
