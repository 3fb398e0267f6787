"""Fused mixture-of-experts MLP over int4 expert weights.

Expert weights are stacked ``PreparedInt4``: ``w13 [E, 2I, H]`` (gate rows ``0..I``, up rows
``I..2I``) and ``w2 [E, H, I]``. The forward is five launches whatever the number of experts:
routing (``moe_routing.topk_routing``), alignment (``moe_routing.moe_align_block_size``), then one
grouped GEMM over all experts for gate/up with SiLU-and-multiply in its epilogue (two accumulators
per tile, so the ``[T*k, 2I]`` intermediate never exists), one grouped GEMM for the down projection
that scales each row by its router weight, and a sum over the ``k`` rows of each token (skipping
pairs that name no expert, whose rows were never written).
Each tile of ``block_m`` rows belongs to one expert, so an expert's weights are streamed once per
tile of its tokens and experts with no tokens cost nothing. A shared expert (Qwen2-MoE, DeepSeek)
is a dense gated MLP whose output is added, optionally scaled by ``sigmoid(x @ gate.T)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import triton
import triton.language as tl

from kernels.int4_gemm import PreparedInt4, dequant_int4_tile, int4_gemm
from kernels.moe_routing import moe_align_block_size, topk_routing, topk_routing_reference
from kernels.runtime import dot_in_f32, next_pow2
from kernels.silu_mul import silu_mul, silu_mul_reference


@dataclass
class SharedExpert:
    w13: PreparedInt4  # [2I, H]
    w2: PreparedInt4  # [H, I]
    gate: torch.Tensor | None = None  # [1, H] dense, Qwen2-MoE's shared_expert_gate


@dataclass(frozen=True)
class MoEConfig:
    block_m: int
    block_n: int
    block_k: int
    num_warps: int = 4
    num_stages: int = 2


def default_moe_config(pairs: int, num_experts: int, n: int, k: int, group_size: int) -> MoEConfig:
    """Row tiles sized to the mean tokens per expert; narrow column tiles while few tiles exist."""
    per_expert = pairs / num_experts
    block_m = 16 if per_expert <= 16 else 32 if per_expert <= 48 else 64
    block_n = min(32 if per_expert <= 16 else 64, next_pow2(n))
    block_k = max(group_size, min(128 if block_m <= 32 else 64, next_pow2(k)))
    warps = 8 if block_m * block_n >= 64 * 64 else 4  # 4 warps spill the two prefill accumulators
    return MoEConfig(block_m, block_n, block_k, warps, 3 if block_m > 16 else 2)


def fused_moe_reference(
    x: torch.Tensor,
    router_logits: torch.Tensor,
    w13: PreparedInt4,
    w2: PreparedInt4,
    top_k: int,
    renormalize: bool = True,
    shared: SharedExpert | None = None,
) -> torch.Tensor:
    """Route, then per used expert: dequantize, one matmul up, SiLU-mul, one matmul down."""
    weights, ids = topk_routing_reference(router_logits, top_k, renormalize)
    out = torch.zeros(x.shape, dtype=torch.float32, device=x.device)
    for e in ids.unique().tolist():
        tok, slot = (ids == e).nonzero(as_tuple=True)
        h = silu_mul_reference(x[tok] @ w13[e].dequantize(x.dtype).T)
        y = h @ w2[e].dequantize(x.dtype).T
        out.index_add_(0, tok, y.float() * weights[tok, slot, None])
    out = out.to(x.dtype)
    return out if shared is None else out + shared_expert_reference(x, shared)


def shared_expert_reference(x: torch.Tensor, shared: SharedExpert) -> torch.Tensor:
    h = silu_mul_reference(x @ shared.w13.dequantize(x.dtype).T)
    y = h @ shared.w2.dequantize(x.dtype).T
    if shared.gate is not None:
        y = y * torch.sigmoid(x @ shared.gate.to(x.dtype).T)
    return y


def shared_expert(x: torch.Tensor, shared: SharedExpert) -> torch.Tensor:
    y = int4_gemm(silu_mul(int4_gemm(x, shared.w13)), shared.w2)
    if shared.gate is not None:
        y = y * torch.sigmoid(x @ shared.gate.to(x.dtype).T)
    return y


def fused_moe(
    x: torch.Tensor,
    router_logits: torch.Tensor,
    w13: PreparedInt4,
    w2: PreparedInt4,
    top_k: int,
    renormalize: bool = True,
    shared: SharedExpert | None = None,
) -> torch.Tensor:
    """``x [T, H]``, ``router_logits [T, E]`` -> ``[T, H]`` in ``x.dtype``."""
    weights, ids = topk_routing(router_logits, top_k, renormalize)
    out = fused_experts(x, w13, w2, weights, ids)
    if shared is not None:
        out += shared_expert(x, shared)
    return out


def fused_experts(
    x: torch.Tensor,
    w13: PreparedInt4,
    w2: PreparedInt4,
    topk_weights: torch.Tensor,
    topk_ids: torch.Tensor,
    configs: tuple[MoEConfig, MoEConfig] | None = None,
) -> torch.Tensor:
    """Experts' weighted sum for given routing (any router: weights fp32 ``[T, k]``, ids ``[T, k]``;
    ids outside ``[0, E)`` contribute nothing); ``configs`` overrides the (up, down) tiling."""
    tokens, hidden = x.shape
    num_experts, two_inter, _ = w13.shape
    inter = two_inter // 2
    top_k = topk_ids.shape[1]
    pairs = tokens * top_k
    x = x.contiguous()
    topk_weights, topk_ids = topk_weights.contiguous(), topk_ids.contiguous()
    up_cfg, down_cfg = configs or (
        default_moe_config(pairs, num_experts, inter, hidden, w13.group_size),
        default_moe_config(pairs, num_experts, hidden, inter, w2.group_size),
    )
    if up_cfg.block_m != down_cfg.block_m:
        raise ValueError("both GEMMs walk the same aligned rows: block_m must match")
    sorted_ids, expert_ids, num_padded = moe_align_block_size(topk_ids, num_experts, up_cfg.block_m)
    act = torch.empty(pairs, inter, dtype=x.dtype, device=x.device)
    down = torch.empty(pairs, hidden, dtype=x.dtype, device=x.device)
    gemms = (
        (x, w13, act, inter, hidden, up_cfg, top_k, True),
        (act, w2, down, hidden, inter, down_cfg, 1, False),
    )
    for a, w, c, n, k, cfg, a_div, gated in gemms if pairs else ():
        grid = (expert_ids.numel() * triton.cdiv(n, cfg.block_n),)
        _moe_gemm_kernel[grid](
            a,
            w.qweight,
            w.scales,
            w.mins,
            c,
            topk_weights,
            sorted_ids,
            expert_ids,
            num_padded,
            n,
            k,
            pairs,
            a.stride(0),
            c.stride(0),
            w.qweight.stride(0),
            w.scales.stride(0),
            k // 2,
            k // w.group_size,
            A_DIV=a_div,
            GATED=gated,
            ROUTED=not gated,
            GROUP=w.group_size,
            BLOCK_M=cfg.block_m,
            BLOCK_N=cfg.block_n,
            BLOCK_K=cfg.block_k,
            DOT_F32=dot_in_f32(x.dtype),
            num_warps=cfg.num_warps,
            num_stages=cfg.num_stages,
        )
    out = torch.empty(tokens, hidden, dtype=x.dtype, device=x.device)
    if tokens:
        block = min(1024, next_pow2(hidden))
        _moe_sum_kernel[(tokens, triton.cdiv(hidden, block))](
            down,
            topk_ids,
            out,
            hidden,
            num_experts,
            TOP_K=top_k,
            BLOCK_K=next_pow2(top_k),
            BLOCK=block,
        )
    return out


@triton.jit
def _moe_gemm_kernel(
    a_ptr,
    q_ptr,
    s_ptr,
    m_ptr,
    c_ptr,
    route_w_ptr,
    sorted_ptr,
    expert_ptr,
    num_padded_ptr,
    N,
    K,
    pairs,
    stride_am,
    stride_cm,
    stride_qe,
    stride_se,
    KB,
    KG,
    A_DIV: tl.constexpr,
    GATED: tl.constexpr,
    ROUTED: tl.constexpr,
    GROUP: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_K: tl.constexpr,
    DOT_F32: tl.constexpr,
):
    """Rows ``sorted_ids`` of tile ``pid_m`` times expert ``expert_ids[pid_m]``'s weight rows.

    ``a`` rows are ``pair // A_DIV`` (token rows of ``x`` for the up GEMM, pair rows after it).
    GATED: weight rows ``n`` and ``n + N`` give gate and up, the output is ``silu(gate) * up``.
    """
    pid = tl.program_id(0)
    num_n = tl.cdiv(N, BLOCK_N)
    pid_m = pid // num_n
    pid_n = pid % num_n
    if pid_m * BLOCK_M < tl.load(num_padded_ptr):
        rows = tl.load(sorted_ptr + pid_m * BLOCK_M + tl.arange(0, BLOCK_M))
        r_mask = rows < pairs
        expert = tl.load(expert_ptr + pid_m).to(tl.int64)
        q_e = q_ptr + expert * stride_qe
        s_e = s_ptr + expert * stride_se
        m_e = m_ptr + expert * stride_se
        rn = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
        n_mask = rn < N
        rk = tl.arange(0, BLOCK_K)
        a_rows = a_ptr + (rows // A_DIV)[:, None] * stride_am
        acc = tl.zeros([BLOCK_M, BLOCK_N], dtype=tl.float32)
        acc_up = tl.zeros([BLOCK_M, BLOCK_N], dtype=tl.float32)
        for k0 in range(0, K, BLOCK_K):
            kk = k0 + rk
            a = tl.load(a_rows + kk[None, :], mask=r_mask[:, None] & (kk < K)[None, :], other=0)
            w = dequant_int4_tile(q_e, s_e, m_e, rn, n_mask, k0, KB, KG, GROUP, BLOCK_N, BLOCK_K)
            if DOT_F32:
                a = a.to(tl.float32)
                acc += tl.dot(a, tl.trans(w), input_precision="ieee")
            else:
                acc += tl.dot(a, tl.trans(w.to(a.dtype)))
            if GATED:
                w_up = dequant_int4_tile(
                    q_e, s_e, m_e, rn + N, n_mask, k0, KB, KG, GROUP, BLOCK_N, BLOCK_K
                )
                if DOT_F32:
                    acc_up += tl.dot(a, tl.trans(w_up), input_precision="ieee")
                else:
                    acc_up += tl.dot(a, tl.trans(w_up.to(a.dtype)))
        if GATED:
            acc = acc * tl.sigmoid(acc) * acc_up
        if ROUTED:
            acc = acc * tl.load(route_w_ptr + rows, mask=r_mask, other=0)[:, None]
        c = c_ptr + rows[:, None] * stride_cm + rn[None, :]
        tl.store(c, acc, mask=r_mask[:, None] & n_mask[None, :])


@triton.jit
def _moe_sum_kernel(
    down_ptr,
    ids_ptr,
    out_ptr,
    hidden,
    num_experts,
    TOP_K: tl.constexpr,
    BLOCK_K: tl.constexpr,
    BLOCK: tl.constexpr,
):
    """``out[t] = sum_j down[t * TOP_K + j]`` over the pairs that name an expert."""
    t = tl.program_id(0)
    cols = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    c_mask = cols < hidden
    j = tl.arange(0, BLOCK_K)
    ids = tl.load(ids_ptr + t * TOP_K + j, mask=j < TOP_K, other=-1)
    used = (j < TOP_K) & (ids >= 0) & (ids < num_experts)
    rows = tl.load(
        down_ptr + (t * TOP_K + j)[:, None] * hidden + cols[None, :],
        mask=used[:, None] & c_mask[None, :],
        other=0,
    )
    tl.store(out_ptr + t * hidden + cols, tl.sum(rows.to(tl.float32), axis=0), mask=c_mask)
