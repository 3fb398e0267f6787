"""Rotary embedding and the KV-cache write fused: one launch per layer instead of two.

Takes the fused QKV projection output ``[T, (H + 2 Hk) * D]`` as it is: writes rotated queries to
``q_out [T, H, D]``, rotated keys and unchanged values into the paged cache (layout and slots as in
``kernels.kv_cache``; a negative slot skips the token's K/V), reading each input byte once. Rotation
as in ``kernels.rotary`` (neox style, ``cos``/``sin`` caches ``[max_pos, rot/2]`` indexed by
``positions``; dims past ``rot`` are copied). Optional per-head RMSNorm weights for q and k
(Qwen3's q_norm/k_norm) are applied before the rotation in the same pass, which needs full rotary.
Arguments in the order of the engine's C kernel ``inference.native.rope_store_kv``.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from kernels.kv_cache import write_kv_reference
from kernels.rms_norm import rms_norm_reference
from kernels.rotary import rotary_reference, rotate_heads
from kernels.runtime import next_pow2


def _split(qkv: torch.Tensor, heads: int, kv_heads: int, head_dim: int):
    t = qkv.shape[0]
    q = qkv[:, : heads * head_dim].view(t, heads, head_dim)
    k = qkv[:, heads * head_dim : (heads + kv_heads) * head_dim].view(t, kv_heads, head_dim)
    v = qkv[:, (heads + kv_heads) * head_dim :].view(t, kv_heads, head_dim)
    return q, k, v


def rope_write_kv_reference(
    qkv,
    heads,
    kv_heads,
    head_dim,
    positions,
    cos,
    sin,
    slot_mapping,
    k_cache,
    v_cache,
    q_out,
    q_norm=None,
    k_norm=None,
    eps=1e-6,
) -> torch.Tensor:
    q, k, v = _split(qkv, heads, kv_heads, head_dim)
    if q_norm is not None:
        q, k = rms_norm_reference(q, q_norm, eps), rms_norm_reference(k, k_norm, eps)
    q, k = rotary_reference(q.clone(), k.clone(), cos, sin, positions)
    write_kv_reference(k, v, k_cache, v_cache, slot_mapping)
    return q_out.copy_(q)


def rope_write_kv(
    qkv: torch.Tensor,
    heads: int,
    kv_heads: int,
    head_dim: int,
    positions: torch.Tensor,
    cos: torch.Tensor,
    sin: torch.Tensor,
    slot_mapping: torch.Tensor,
    k_cache: torch.Tensor,
    v_cache: torch.Tensor,
    q_out: torch.Tensor,
    q_norm: torch.Tensor | None = None,
    k_norm: torch.Tensor | None = None,
    eps: float = 1e-6,
) -> torch.Tensor:
    """Returns ``q_out``; ``qkv`` is left as it was."""
    tokens = qkv.shape[0]
    half = cos.shape[-1]
    if (q_norm is None) != (k_norm is None) or (q_norm is not None and 2 * half != head_dim):
        raise ValueError("q/k norms come together and need full rotary")
    if qkv.stride(-1) != 1 or q_out.stride(-1) != 1 or k_cache.stride() != v_cache.stride():
        raise ValueError("rope_write_kv needs contiguous rows and one layout for K and V caches")
    if 2 * half > head_dim or cos.stride() != sin.stride():
        raise ValueError("cos/sin must share a layout and rotate at most head_dim dims")
    if tokens:
        _rope_write_kv_kernel[(tokens,)](
            qkv,
            q_out,
            k_cache,
            v_cache,
            cos,
            sin,
            positions,
            slot_mapping,
            heads,
            kv_heads,
            head_dim,
            half,
            k_cache.shape[1],
            qkv.stride(0),
            q_out.stride(0),
            q_out.stride(1),
            cos.stride(0),
            k_cache.stride(0),
            k_cache.stride(1),
            k_cache.stride(2),
            q_norm if q_norm is not None else cos,
            k_norm if k_norm is not None else cos,
            eps,
            NORM=q_norm is not None,
            BLOCK_H=next_pow2(max(heads, kv_heads)),
            BLOCK_R=next_pow2(half),
            BLOCK_D=next_pow2(head_dim),
        )
    return q_out


@triton.jit
def _copy_heads(
    src,
    dst,
    src_stride_h,
    dst_stride_h,
    n_heads,
    lo,
    hi,
    BLOCK_H: tl.constexpr,
    BLOCK_D: tl.constexpr,
):
    """Copy dims ``lo <= d < hi`` of ``n_heads`` heads."""
    h = tl.arange(0, BLOCK_H)[:, None]
    d = tl.arange(0, BLOCK_D)[None, :]
    mask = (h < n_heads) & (d >= lo) & (d < hi)
    tl.store(dst + h * dst_stride_h + d, tl.load(src + h * src_stride_h + d, mask=mask), mask=mask)


@triton.jit
def _rope_write_kv_kernel(
    qkv_ptr,
    q_ptr,
    kc_ptr,
    vc_ptr,
    cos_ptr,
    sin_ptr,
    pos_ptr,
    slot_ptr,
    heads,
    kv_heads,
    head_dim,
    half,
    block_size,
    s_qkv,
    sq0,
    sq1,
    sc0,
    sc_block,
    sc_tok,
    sc_head,
    qn_ptr,
    kn_ptr,
    eps,
    NORM: tl.constexpr,
    BLOCK_H: tl.constexpr,
    BLOCK_R: tl.constexpr,
    BLOCK_D: tl.constexpr,
):
    t = tl.program_id(0)
    pos = tl.load(pos_ptr + t).to(tl.int64)
    r = tl.arange(0, BLOCK_R)
    c = tl.load(cos_ptr + pos * sc0 + r, mask=r < half, other=0).to(tl.float32)[None, :]
    s = tl.load(sin_ptr + pos * sc0 + r, mask=r < half, other=0).to(tl.float32)[None, :]
    row = qkv_ptr + t * s_qkv
    q_dst = q_ptr + t * sq0
    rotate_heads(row, q_dst, head_dim, sq1, heads, half, c, s, qn_ptr, eps, NORM, BLOCK_H, BLOCK_R)
    _copy_heads(row, q_dst, head_dim, sq1, heads, 2 * half, head_dim, BLOCK_H, BLOCK_D)
    slot = tl.load(slot_ptr + t).to(tl.int64)
    if slot >= 0:
        dst = (slot // block_size) * sc_block + (slot % block_size) * sc_tok
        k_src = row + heads * head_dim
        k_dst = kc_ptr + dst
        rotate_heads(
            k_src,
            k_dst,
            head_dim,
            sc_head,
            kv_heads,
            half,
            c,
            s,
            kn_ptr,
            eps,
            NORM,
            BLOCK_H,
            BLOCK_R,
        )
        _copy_heads(
            k_src, kc_ptr + dst, head_dim, sc_head, kv_heads, 2 * half, head_dim, BLOCK_H, BLOCK_D
        )
        v_src = k_src + kv_heads * head_dim
        _copy_heads(v_src, vc_ptr + dst, head_dim, sc_head, kv_heads, 0, head_dim, BLOCK_H, BLOCK_D)
