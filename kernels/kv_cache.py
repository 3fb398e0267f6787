"""The paged KV cache layout and the kernel that writes new keys and values into it.

Layout (shared with ``paged_attention``): ``k_cache`` and ``v_cache`` are each
``[num_blocks, block_size, num_kv_heads, head_dim]``, one tensor per layer, in the model dtype. A
sequence owns a list of blocks (its row of ``block_tables``); token ``i`` of a sequence lives in block
``block_tables[seq, i // block_size]`` at offset ``i % block_size``. A *slot* names one token position
in the whole cache: ``slot = block * block_size + offset``. ``slot_mapping[t]`` gives the slot of new
token ``t``; a negative slot (padding in a CUDA-graph batch) is skipped.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from kernels.runtime import next_pow2


def write_kv_reference(
    key: torch.Tensor,
    value: torch.Tensor,
    k_cache: torch.Tensor,
    v_cache: torch.Tensor,
    slot_mapping: torch.Tensor,
) -> None:
    block_size = k_cache.shape[1]
    keep = slot_mapping >= 0
    slots = slot_mapping[keep].long()
    blocks, offsets = slots // block_size, slots % block_size
    k_cache[blocks, offsets] = key[keep].to(k_cache.dtype)
    v_cache[blocks, offsets] = value[keep].to(v_cache.dtype)


def write_kv(
    key: torch.Tensor,
    value: torch.Tensor,
    k_cache: torch.Tensor,
    v_cache: torch.Tensor,
    slot_mapping: torch.Tensor,
) -> None:
    """Store ``key``/``value [T, Hk, D]`` (strided views allowed) at ``slot_mapping [T]``."""
    tokens, heads, head_dim = key.shape
    if key.stride(-1) != 1 or value.stride(-1) != 1 or k_cache.stride(-1) != 1:
        raise ValueError("write_kv needs contiguous head dims")
    if k_cache.stride() != v_cache.stride():
        raise ValueError("k_cache and v_cache must share a layout")
    if tokens:
        _write_kv_kernel[(tokens,)](
            key,
            value,
            k_cache,
            v_cache,
            slot_mapping,
            heads,
            head_dim,
            k_cache.shape[1],
            key.stride(0),
            key.stride(1),
            value.stride(0),
            value.stride(1),
            k_cache.stride(0),
            k_cache.stride(1),
            k_cache.stride(2),
            BLOCK_H=next_pow2(heads),
            BLOCK_D=next_pow2(head_dim),
        )


@triton.jit
def _write_kv_kernel(
    k_ptr,
    v_ptr,
    kc_ptr,
    vc_ptr,
    slot_ptr,
    heads,
    head_dim,
    block_size,
    sk0,
    sk1,
    sv0,
    sv1,
    sc_block,
    sc_tok,
    sc_head,
    BLOCK_H: tl.constexpr,
    BLOCK_D: tl.constexpr,
):
    t = tl.program_id(0)
    slot = tl.load(slot_ptr + t).to(tl.int64)
    if slot >= 0:
        h = tl.arange(0, BLOCK_H)[:, None]
        d = tl.arange(0, BLOCK_D)[None, :]
        mask = (h < heads) & (d < head_dim)
        dst = (slot // block_size) * sc_block + (slot % block_size) * sc_tok + h * sc_head + d
        k = tl.load(k_ptr + t * sk0 + h * sk1 + d, mask=mask)
        v = tl.load(v_ptr + t * sv0 + h * sv1 + d, mask=mask)
        tl.store(kc_ptr + dst, k, mask=mask)
        tl.store(vc_ptr + dst, v, mask=mask)
