"""Rotary position embedding applied to q and k in place, neox (half-rotation) style as in HF Llama.

For the first ``rot = 2 * cos.shape[-1]`` dims of each head, with ``x1 = x[:rot/2]``, ``x2 = x[rot/2:rot]``:
``x1' = x1 cos - x2 sin``, ``x2' = x2 cos + x1 sin``; dims past ``rot`` are untouched (partial rotary).
``cos``/``sin`` are either per token ``[T, rot/2]`` or a cache ``[max_pos, rot/2]`` indexed by
``positions [T]`` inside the kernel, which saves two gather launches per decode step.
q and k may be strided views of a fused QKV output ``[T, heads, head_dim]``; one program per token.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from kernels.runtime import next_pow2


def rotary_reference(
    q: torch.Tensor,
    k: torch.Tensor,
    cos: torch.Tensor,
    sin: torch.Tensor,
    positions: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    if positions is not None:
        cos, sin = cos[positions], sin[positions]
    half = cos.shape[-1]
    c, s = cos.float()[:, None, :], sin.float()[:, None, :]
    for t in (q, k):
        x1, x2 = t[..., :half].float(), t[..., half : 2 * half].float()
        rotated = torch.cat((x1 * c - x2 * s, x2 * c + x1 * s), dim=-1)
        t[..., : 2 * half] = rotated.to(t.dtype)
    return q, k


def rotary(
    q: torch.Tensor,
    k: torch.Tensor,
    cos: torch.Tensor,
    sin: torch.Tensor,
    positions: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotate ``q [T, Hq, D]`` and ``k [T, Hk, D]`` in place; returns them."""
    tokens, hq, head_dim = q.shape
    hk = k.shape[1]
    half = cos.shape[-1]
    if 2 * half > head_dim or q.stride(-1) != 1 or k.stride(-1) != 1:
        raise ValueError("rotary needs contiguous head dims at least as wide as 2 * cos.shape[-1]")
    if cos.stride() != sin.stride():
        raise ValueError("cos and sin must share a layout")
    if tokens:
        _rotary_kernel[(tokens,)](
            q,
            k,
            cos,
            sin,
            positions if positions is not None else cos,
            hq,
            hk,
            half,
            q.stride(0),
            q.stride(1),
            k.stride(0),
            k.stride(1),
            cos.stride(0),
            HAS_POS=positions is not None,
            BLOCK_H=next_pow2(max(hq, hk)),
            BLOCK_R=next_pow2(half),
        )
    return q, k


@triton.jit
def rotate_heads(
    src,
    dst,
    src_stride_h,
    dst_stride_h,
    n_heads,
    half,
    c,
    s,
    norm_w,
    eps,
    NORM: tl.constexpr,
    BLOCK_H: tl.constexpr,
    BLOCK_R: tl.constexpr,
):
    """Rotate the first ``2 * half`` dims of ``n_heads`` heads from ``src`` into ``dst``.

    NORM: RMS-normalize each (fully rotated) head by ``norm_w`` first, as Qwen3's q/k norms do.
    """
    h = tl.arange(0, BLOCK_H)
    r = tl.arange(0, BLOCK_R)
    mask = (h < n_heads)[:, None] & (r < half)[None, :]
    p1 = src + h[:, None] * src_stride_h + r[None, :]
    x1 = tl.load(p1, mask=mask, other=0).to(tl.float32)
    x2 = tl.load(p1 + half, mask=mask, other=0).to(tl.float32)
    if NORM:
        rstd = tl.rsqrt((tl.sum(x1 * x1, axis=1) + tl.sum(x2 * x2, axis=1)) / (2 * half) + eps)
        w1 = tl.load(norm_w + r, mask=r < half, other=0).to(tl.float32)
        w2 = tl.load(norm_w + half + r, mask=r < half, other=0).to(tl.float32)
        x1 = x1 * rstd[:, None] * w1[None, :]
        x2 = x2 * rstd[:, None] * w2[None, :]
    q1 = dst + h[:, None] * dst_stride_h + r[None, :]
    tl.store(q1, x1 * c - x2 * s, mask=mask)
    tl.store(q1 + half, x2 * c + x1 * s, mask=mask)


@triton.jit
def _rotary_kernel(
    q_ptr,
    k_ptr,
    cos_ptr,
    sin_ptr,
    pos_ptr,
    hq,
    hk,
    half,
    sq0,
    sq1,
    sk0,
    sk1,
    sc0,
    HAS_POS: tl.constexpr,
    BLOCK_H: tl.constexpr,
    BLOCK_R: tl.constexpr,
):
    t = tl.program_id(0)
    if HAS_POS:
        row = tl.load(pos_ptr + t).to(tl.int64)
    else:
        row = t.to(tl.int64)
    r = tl.arange(0, BLOCK_R)
    r_mask = r < half
    c = tl.load(cos_ptr + row * sc0 + r, mask=r_mask, other=0).to(tl.float32)[None, :]
    s = tl.load(sin_ptr + row * sc0 + r, mask=r_mask, other=0).to(tl.float32)[None, :]
    q_row = q_ptr + t * sq0
    k_row = k_ptr + t * sk0
    rotate_heads(q_row, q_row, sq1, sq1, hq, half, c, s, cos_ptr, 0.0, False, BLOCK_H, BLOCK_R)
    rotate_heads(k_row, k_row, sk1, sk1, hk, half, c, s, cos_ptr, 0.0, False, BLOCK_H, BLOCK_R)
