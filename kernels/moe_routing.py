"""Mixture-of-experts routing: softmax top-k, then tokens grouped and padded per expert.

``topk_routing`` picks each token's ``top_k`` experts from the router logits (softmax over all
experts, optionally renormalized over the chosen ones, as Qwen3-MoE and Mixtral do).

``moe_align_block_size`` lays the ``T * top_k`` (token, expert) pairs out for a grouped GEMM with
``block_size``-row tiles: ``sorted_ids`` lists flat pair indices (``token * top_k + j``) expert by
expert, in token order within an expert, each expert's run padded with the sentinel ``T * top_k`` up
to a multiple of ``block_size``; ``expert_ids[b]`` is the expert of tile ``b`` (-1 past the end) and
``num_padded[0]`` the used length. Pairs naming no expert (an id < 0 or >= E, as the engine's
router or expert parallelism may produce) are left out. Buffers are sized for the worst case so that the step needs no
host synchronisation (CUDA graphs): ``T*k + min(E, T*k) * (block_size - 1)`` entries.
One program does it all: counts, prefix sum, and a stable scatter whose in-chunk ranks come from a
comparison matrix, so the result is deterministic and equal to a stable sort.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from kernels.runtime import next_pow2


def topk_routing_reference(
    logits: torch.Tensor, top_k: int, renormalize: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    probs = logits.float().softmax(-1)
    weights, ids = probs.topk(top_k, dim=-1)
    if renormalize:
        weights = weights / weights.sum(-1, keepdim=True)
    return weights, ids.to(torch.int32)


def topk_routing(
    logits: torch.Tensor, top_k: int, renormalize: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """``logits [T, E]`` -> ``(weights fp32 [T, k], ids int32 [T, k])``, best first."""
    tokens, experts = logits.shape
    weights = torch.empty(tokens, top_k, dtype=torch.float32, device=logits.device)
    ids = torch.empty(tokens, top_k, dtype=torch.int32, device=logits.device)
    if tokens:
        _topk_softmax_kernel[(tokens,)](
            logits,
            weights,
            ids,
            experts,
            logits.stride(0),
            TOP_K=top_k,
            RENORM=renormalize,
            BLOCK_E=next_pow2(experts),
            BLOCK_K=next_pow2(top_k),
        )
    return weights, ids


def max_padded_len(pairs: int, num_experts: int, block_size: int) -> int:
    return pairs + min(num_experts, pairs) * (block_size - 1)


def moe_align_block_size_reference(
    topk_ids: torch.Tensor, num_experts: int, block_size: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    flat = topk_ids.flatten().long()
    pairs = flat.numel()
    size = max_padded_len(pairs, num_experts, block_size)
    sorted_ids = torch.full((size,), pairs, dtype=torch.int32, device=flat.device)
    expert_ids = torch.full(
        (triton.cdiv(size, block_size),), -1, dtype=torch.int32, device=flat.device
    )
    pos = 0
    for e in range(num_experts):
        members = (flat == e).nonzero().flatten()
        if members.numel():
            sorted_ids[pos : pos + members.numel()] = members.to(torch.int32)
            blocks = triton.cdiv(members.numel(), block_size)
            expert_ids[pos // block_size : pos // block_size + blocks] = e
            pos += blocks * block_size
    return sorted_ids, expert_ids, torch.tensor([pos], dtype=torch.int32, device=flat.device)


def moe_align_block_size(
    topk_ids: torch.Tensor, num_experts: int, block_size: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``topk_ids [T, k]`` -> ``(sorted_ids, expert_ids, num_padded)``, all int32 on its device."""
    flat = topk_ids.reshape(-1)
    pairs = flat.numel()
    size = max_padded_len(pairs, num_experts, block_size)
    blocks = triton.cdiv(size, block_size)
    sorted_ids = torch.empty(size, dtype=torch.int32, device=flat.device)
    expert_ids = torch.empty(blocks, dtype=torch.int32, device=flat.device)
    num_padded = torch.empty(1, dtype=torch.int32, device=flat.device)
    if not pairs:
        return sorted_ids, expert_ids, num_padded.zero_()
    _moe_align_kernel[(1,)](
        flat,
        sorted_ids,
        expert_ids,
        num_padded,
        pairs,
        num_experts,
        size,
        blocks,
        BLOCK_SIZE=block_size,
        E_PAD=next_pow2(num_experts),
        CHUNK=min(128, max(16, next_pow2(max(pairs, blocks)))),
        num_warps=8,
    )
    return sorted_ids, expert_ids, num_padded


@triton.jit
def _topk_softmax_kernel(
    logits_ptr,
    w_ptr,
    id_ptr,
    experts,
    stride_l,
    TOP_K: tl.constexpr,
    RENORM: tl.constexpr,
    BLOCK_E: tl.constexpr,
    BLOCK_K: tl.constexpr,
):
    t = tl.program_id(0)
    e = tl.arange(0, BLOCK_E)
    e_mask = e < experts
    x = tl.load(logits_ptr + t * stride_l + e, mask=e_mask, other=float("-inf")).to(tl.float32)
    p = tl.where(e_mask, tl.exp(x - tl.max(x, axis=0)), 0.0)
    p = tl.where(e_mask, p / tl.sum(p, axis=0), -1.0)
    kk = tl.arange(0, BLOCK_K)
    weights = tl.zeros([BLOCK_K], tl.float32)
    ids = tl.zeros([BLOCK_K], tl.int32)
    for j in tl.static_range(TOP_K):
        best = tl.max(p, axis=0)
        # Clamped so that non-finite logits can never name an expert that does not exist.
        idx = tl.minimum(tl.argmax(p, axis=0), experts - 1)
        weights = tl.where(kk == j, best, weights)
        ids = tl.where(kk == j, idx, ids)
        p = tl.where(e == idx, -2.0, p)
    if RENORM:
        weights = weights / tl.sum(weights, axis=0)
    k_mask = kk < TOP_K
    tl.store(w_ptr + t * TOP_K + kk, weights, mask=k_mask)
    tl.store(id_ptr + t * TOP_K + kk, ids, mask=k_mask)


@triton.jit
def _moe_align_kernel(
    ids_ptr,
    sorted_ptr,
    expert_ids_ptr,
    num_padded_ptr,
    pairs,
    num_experts,
    size,
    blocks,
    BLOCK_SIZE: tl.constexpr,
    E_PAD: tl.constexpr,
    CHUNK: tl.constexpr,
):
    experts = tl.arange(0, E_PAD)
    c = tl.arange(0, CHUNK)
    counts = tl.zeros([E_PAD], tl.int32)
    for start in range(0, pairs, CHUNK):
        ids = tl.load(ids_ptr + start + c, mask=start + c < pairs, other=E_PAD)
        ids = tl.where((ids >= 0) & (ids < num_experts), ids, E_PAD)
        counts += tl.sum((ids[:, None] == experts[None, :]).to(tl.int32), axis=0)
    padded = tl.cdiv(counts, BLOCK_SIZE) * BLOCK_SIZE
    ends = tl.cumsum(padded, axis=0)
    starts = ends - padded
    total = tl.sum(padded, axis=0)
    tl.store(num_padded_ptr, total)
    for start in range(0, size, CHUNK):
        tl.store(sorted_ptr + start + c, pairs, mask=start + c < size)
    for start in range(0, blocks, CHUNK):
        b = start + c
        first = b * BLOCK_SIZE
        owner = tl.sum((ends[None, :] <= first[:, None]).to(tl.int32), axis=1)
        tl.store(expert_ids_ptr + b, tl.where(first < total, owner, -1), mask=b < blocks)
    tl.debug_barrier()
    seen = tl.zeros([E_PAD], tl.int32)
    for start in range(0, pairs, CHUNK):
        valid = start + c < pairs
        ids = tl.load(ids_ptr + start + c, mask=valid, other=E_PAD)
        valid &= (ids >= 0) & (ids < num_experts)
        ids = tl.where(valid, ids, E_PAD)
        onehot = (ids[:, None] == experts[None, :]).to(tl.int32)
        earlier = (ids[:, None] == ids[None, :]) & (c[None, :] < c[:, None])
        rank = tl.sum(earlier.to(tl.int32), axis=1)
        base = tl.sum(onehot * (starts + seen)[None, :], axis=1)
        tl.store(sorted_ptr + base + rank, start + c, mask=valid)
        seen += tl.sum(onehot, axis=0)
