"""Decode attention over the paged KV cache, with GQA: each query row attends to a cache prefix.

Cache layout as in ``kernels.kv_cache``: ``[num_blocks, block_size, num_kv_heads, head_dim]``.
``block_tables [S, max_blocks]`` (int32) lists each sequence's blocks. Query row ``i`` attends to the
first ``seq_lens[i]`` tokens of sequence ``query_seq[i]`` (default ``i``: one decode token per
sequence); 0 marks a padding row, whose output is zeros. With ``query_seq`` and per-token lengths
(position + 1, the engine's ``token_seq``/``token_ctx``) it also serves mixed prefill/decode batches
once their keys are written, causally and correctly, though each prefill token re-reads its prefix.

One program serves a (sequence, kv head, partition) and all the query heads sharing that kv head, so
each K/V tile is read once per group (GQA), and the query heads form the M side of ``tl.dot``.
Long contexts are split into partitions of ``partition_size`` tokens that run in parallel, each
writing a normalized partial output and its log-sum-exp; a second kernel merges them. The number of
partitions depends only on tensor shapes (``block_tables`` width), so a CUDA graph can capture it.
"""

from __future__ import annotations

import math

import torch
import triton
import triton.language as tl

from kernels.runtime import dot_in_f32, next_pow2, num_sms

# Two pipeline stages: with three, the kernel spills registers at 8 splits, group 4 under Triton 3.7
# (torch 2.13's), and decode attention streams the cache once, so a deeper pipeline buys nothing.
PAGED_DECODE_STAGES = 2


def paged_decode_attention_reference(
    q: torch.Tensor,
    k_cache: torch.Tensor,
    v_cache: torch.Tensor,
    block_tables: torch.Tensor,
    seq_lens: torch.Tensor,
    scale: float,
    query_seq: torch.Tensor | None = None,
) -> torch.Tensor:
    block_size, kv_heads = k_cache.shape[1], k_cache.shape[2]
    group = q.shape[1] // kv_heads
    out = torch.zeros_like(q)
    rows = range(q.shape[0]) if query_seq is None else query_seq.tolist()
    for b, (row, length) in enumerate(zip(rows, seq_lens.tolist(), strict=True)):
        if length == 0:
            continue
        blocks = block_tables[row, : (length + block_size - 1) // block_size].long()
        keys = k_cache[blocks].flatten(0, 1)[:length].float().repeat_interleave(group, dim=1)
        values = v_cache[blocks].flatten(0, 1)[:length].float().repeat_interleave(group, dim=1)
        scores = torch.einsum("hd,thd->ht", q[b].float(), keys) * scale
        out[b] = torch.einsum("ht,thd->hd", scores.softmax(-1), values).to(q.dtype)
    return out


def default_partition_size(batch: int, kv_heads: int, max_len: int, sms: int) -> int:
    """Smallest power of two >= 64 (at most 1024) giving about two programs per SM, if it can."""
    size = 1024
    while size > 64 and batch * kv_heads * math.ceil(max_len / size) < 2 * sms:
        size //= 2
    return size


def paged_decode_attention(
    q: torch.Tensor,
    k_cache: torch.Tensor,
    v_cache: torch.Tensor,
    block_tables: torch.Tensor,
    seq_lens: torch.Tensor,
    scale: float,
    *,
    query_seq: torch.Tensor | None = None,
    partition_size: int | None = None,
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """``q [B, Hq, D]`` -> ``[B, Hq, D]``; ``partition_size`` a power of two >= 16."""
    batch, q_heads, head_dim = q.shape
    block_size, kv_heads = k_cache.shape[1], k_cache.shape[2]
    if q_heads % kv_heads or q.stride(-1) != 1 or k_cache.stride() != v_cache.stride():
        raise ValueError("need Hq a multiple of Hk, contiguous head dims, one layout for K and V")
    max_len = block_tables.shape[1] * block_size
    part = partition_size or default_partition_size(batch, kv_heads, max_len, num_sms(q.device))
    if part < 16 or part & (part - 1):
        raise ValueError(f"partition_size must be a power of two >= 16, got {part}")
    splits = max(1, math.ceil(max_len / part))
    y = out if out is not None else torch.empty_like(q)
    if batch == 0:
        return y
    group = q_heads // kv_heads
    if splits > 1:
        part_out = torch.empty(
            batch, q_heads, splits, head_dim, dtype=torch.float32, device=q.device
        )
        part_lse = torch.empty(batch, q_heads, splits, dtype=torch.float32, device=q.device)
    else:
        part_out, part_lse = y, y
    _paged_decode_kernel[(batch, kv_heads, splits)](
        q,
        k_cache,
        v_cache,
        block_tables,
        seq_lens,
        query_seq if query_seq is not None else seq_lens,
        y,
        part_out,
        part_lse,
        scale * 1.4426950408889634,  # log2(e): the kernel works in base 2
        group,
        head_dim,
        block_size,
        q.stride(0),
        q.stride(1),
        k_cache.stride(0),
        k_cache.stride(1),
        k_cache.stride(2),
        block_tables.stride(0),
        y.stride(0),
        y.stride(1),
        HAS_QUERY_SEQ=query_seq is not None,
        SPLITS=splits,
        PARTITION=part,
        BLOCK_N=min(32, part),  # 64 spills registers at head_dim 128 (sm_90, compile_check)
        BLOCK_H=max(16, next_pow2(group)),
        BLOCK_D=next_pow2(head_dim),
        DOT_F32=dot_in_f32(q.dtype),
        num_stages=PAGED_DECODE_STAGES,
    )
    if splits > 1:
        _merge_partitions_kernel[(batch, q_heads)](
            part_out,
            part_lse,
            seq_lens,
            y,
            head_dim,
            y.stride(0),
            y.stride(1),
            SPLITS=splits,
            PARTITION=part,
            BLOCK_S=next_pow2(splits),
            BLOCK_D=next_pow2(head_dim),
        )
    return y


@triton.jit
def _paged_decode_kernel(
    q_ptr,
    kc_ptr,
    vc_ptr,
    bt_ptr,
    len_ptr,
    qseq_ptr,
    out_ptr,
    po_ptr,
    plse_ptr,
    qk_scale,
    group,
    head_dim,
    block_size,
    sq0,
    sq1,
    sc_block,
    sc_tok,
    sc_head,
    sbt,
    so0,
    so1,
    HAS_QUERY_SEQ: tl.constexpr,
    SPLITS: tl.constexpr,
    PARTITION: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_H: tl.constexpr,
    BLOCK_D: tl.constexpr,
    DOT_F32: tl.constexpr,
):
    b = tl.program_id(0)
    kvh = tl.program_id(1)
    split = tl.program_id(2)
    seq_len = tl.load(len_ptr + b)
    if HAS_QUERY_SEQ:
        table = bt_ptr + tl.load(qseq_ptr + b).to(tl.int64) * sbt
    else:
        table = bt_ptr + b * sbt
    start = split * PARTITION
    if (start < seq_len) | (split == 0):
        end = tl.minimum(start + PARTITION, seq_len)
        hi = tl.arange(0, BLOCK_H)
        heads = kvh * group + hi
        h_mask = hi < group
        d = tl.arange(0, BLOCK_D)
        d_mask = d < head_dim
        qm = h_mask[:, None] & d_mask[None, :]
        q = tl.load(q_ptr + b * sq0 + heads[:, None] * sq1 + d[None, :], mask=qm, other=0)
        q = (q.to(tl.float32) * qk_scale).to(q.dtype)
        if DOT_F32:
            q = q.to(tl.float32)
        m_i = tl.full([BLOCK_H], float("-inf"), tl.float32)
        l_i = tl.zeros([BLOCK_H], tl.float32)
        acc = tl.zeros([BLOCK_H, BLOCK_D], tl.float32)
        for n0 in range(start, end, BLOCK_N):
            t = n0 + tl.arange(0, BLOCK_N)
            t_mask = t < end
            block = tl.load(table + t // block_size, mask=t_mask, other=0).to(tl.int64)
            row = block * sc_block + (t % block_size) * sc_tok + kvh * sc_head
            kv_mask = t_mask[:, None] & d_mask[None, :]
            k = tl.load(kc_ptr + row[:, None] + d[None, :], mask=kv_mask, other=0)
            v = tl.load(vc_ptr + row[:, None] + d[None, :], mask=kv_mask, other=0)
            if DOT_F32:
                s = tl.dot(q, tl.trans(k.to(tl.float32)), input_precision="ieee")
            else:
                s = tl.dot(q, tl.trans(k))
            s = tl.where(t_mask[None, :], s, float("-inf"))
            m_new = tl.maximum(m_i, tl.max(s, axis=1))
            p = tl.exp2(s - m_new[:, None])
            alpha = tl.exp2(m_i - m_new)
            l_i = l_i * alpha + tl.sum(p, axis=1)
            if DOT_F32:
                pv = tl.dot(p, v.to(tl.float32), input_precision="ieee")
            else:
                pv = tl.dot(p.to(v.dtype), v)
            acc = acc * alpha[:, None] + pv
            m_i = m_new
        l_safe = tl.where(l_i > 0, l_i, 1.0)
        acc = acc / l_safe[:, None]
        if SPLITS == 1:
            tl.store(out_ptr + b * so0 + heads[:, None] * so1 + d[None, :], acc, mask=qm)
        else:
            row_id = (b * group * tl.num_programs(1) + heads) * SPLITS + split
            tl.store(po_ptr + row_id[:, None] * head_dim + d[None, :], acc, mask=qm)
            tl.store(plse_ptr + row_id, m_i + tl.log2(l_safe), mask=h_mask)


@triton.jit
def _merge_partitions_kernel(
    po_ptr,
    plse_ptr,
    len_ptr,
    out_ptr,
    head_dim,
    so0,
    so1,
    SPLITS: tl.constexpr,
    PARTITION: tl.constexpr,
    BLOCK_S: tl.constexpr,
    BLOCK_D: tl.constexpr,
):
    b = tl.program_id(0)
    h = tl.program_id(1)
    seq_len = tl.load(len_ptr + b)
    used = tl.maximum(tl.cdiv(seq_len, PARTITION), 1)
    s = tl.arange(0, BLOCK_S)
    s_mask = s < used
    base = (b * tl.num_programs(1) + h) * SPLITS
    lse = tl.load(plse_ptr + base + s, mask=s_mask, other=float("-inf"))
    top = tl.max(lse, axis=0)
    top = tl.where(top == float("-inf"), 0.0, top)
    w = tl.where(s_mask, tl.exp2(lse - top), 0.0)
    w = w / tl.maximum(tl.sum(w, axis=0), 1e-30)
    d = tl.arange(0, BLOCK_D)
    d_mask = d < head_dim
    parts = tl.load(
        po_ptr + (base + s)[:, None] * head_dim + d[None, :],
        mask=s_mask[:, None] & d_mask[None, :],
        other=0,
    )
    tl.store(out_ptr + b * so0 + h * so1 + d, tl.sum(parts * w[:, None], axis=0), mask=d_mask)
