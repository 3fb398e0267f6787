"""The dispatch surface the engine calls: Triton on CUDA tensors, the PyTorch reference elsewhere.

Every function takes ``force_triton``: ``True`` runs the Triton kernel even on CPU tensors (needs
``TRITON_INTERPRET=1`` set before triton is imported, as the tests do), ``False`` runs the
reference, ``None`` follows ``PARLEY_KERNELS`` (``triton`` | ``torch``) or else the tensor's device.
"""

from __future__ import annotations

import os

import torch

from kernels import fused_moe as _moe
from kernels import int4_gemm as _gemm
from kernels import kv_cache as _kv
from kernels import paged_attention as _attn
from kernels import rms_norm as _norm
from kernels import rope_write_kv as _rope_kv
from kernels import rotary as _rope
from kernels import silu_mul as _act
from kernels.fused_moe import SharedExpert
from kernels.int4_gemm import PreparedInt4
from kernels.runtime import interpreting


def use_triton(t: torch.Tensor, force: bool | None = None) -> bool:
    if force is None:
        mode = os.environ.get("PARLEY_KERNELS", "")
        force = {"triton": True, "torch": False}.get(mode, t.is_cuda)
    if force and not t.is_cuda and not interpreting():
        raise RuntimeError("Triton kernels on CPU tensors need TRITON_INTERPRET=1 before import")
    return force


def int4_linear(
    x: torch.Tensor,
    w: PreparedInt4,
    bias: torch.Tensor | None = None,
    force_triton: bool | None = None,
) -> torch.Tensor:
    y = _gemm.int4_gemm(x, w) if use_triton(x, force_triton) else _gemm.int4_gemm_reference(x, w)
    return y if bias is None else y + bias


def rms_norm(
    x: torch.Tensor,
    weight: torch.Tensor,
    eps: float,
    residual: torch.Tensor | None = None,
    out: torch.Tensor | None = None,
    force_triton: bool | None = None,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """``out`` may be ``x`` (in place); with ``residual``, it is updated to ``x + residual``."""
    if use_triton(x, force_triton):
        return _norm.rms_norm(x, weight, eps, residual, out)
    result = _norm.rms_norm_reference(x, weight, eps, residual)
    y, h = (result, None) if residual is None else result
    if out is not None:
        y = out.copy_(y)
    if residual is None:
        return y
    residual.copy_(h)
    return y, residual


def rotary(
    q: torch.Tensor,
    k: torch.Tensor,
    cos: torch.Tensor,
    sin: torch.Tensor,
    positions: torch.Tensor | None = None,
    force_triton: bool | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    fn = _rope.rotary if use_triton(q, force_triton) else _rope.rotary_reference
    return fn(q, k, cos, sin, positions)


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
    force_triton: bool | None = None,
) -> torch.Tensor:
    """Rotated q into ``q_out``; rotated k and v into the cache, as ``native.rope_store_kv``;
    with Qwen3's per-head ``q_norm``/``k_norm`` applied first when given."""
    fast = use_triton(qkv, force_triton)
    fn = _rope_kv.rope_write_kv if fast else _rope_kv.rope_write_kv_reference
    args = (heads, kv_heads, head_dim, positions, cos, sin, slot_mapping, k_cache, v_cache, q_out)
    return fn(qkv, *args, q_norm, k_norm, eps)


def silu_mul(x: torch.Tensor, force_triton: bool | None = None) -> torch.Tensor:
    return _act.silu_mul(x) if use_triton(x, force_triton) else _act.silu_mul_reference(x)


def write_kv(
    key: torch.Tensor,
    value: torch.Tensor,
    k_cache: torch.Tensor,
    v_cache: torch.Tensor,
    slot_mapping: torch.Tensor,
    force_triton: bool | None = None,
) -> None:
    fn = _kv.write_kv if use_triton(key, force_triton) else _kv.write_kv_reference
    fn(key, value, k_cache, v_cache, slot_mapping)


def paged_decode_attention(
    q: torch.Tensor,
    k_cache: torch.Tensor,
    v_cache: torch.Tensor,
    block_tables: torch.Tensor,
    seq_lens: torch.Tensor,
    scale: float,
    query_seq: torch.Tensor | None = None,
    out: torch.Tensor | None = None,
    force_triton: bool | None = None,
) -> torch.Tensor:
    """Query row ``i`` attends to the first ``seq_lens[i]`` cached tokens of sequence
    ``query_seq[i]`` (default ``i``); the engine's ``token_ctx``/``token_seq`` fit as they are."""
    if use_triton(q, force_triton):
        return _attn.paged_decode_attention(
            q, k_cache, v_cache, block_tables, seq_lens, scale, query_seq=query_seq, out=out
        )
    y = _attn.paged_decode_attention_reference(
        q, k_cache, v_cache, block_tables, seq_lens, scale, query_seq
    )
    return y if out is None else out.copy_(y)


def fused_moe(
    x: torch.Tensor,
    router_logits: torch.Tensor,
    w13: PreparedInt4,
    w2: PreparedInt4,
    top_k: int,
    renormalize: bool = True,
    shared: SharedExpert | None = None,
    force_triton: bool | None = None,
) -> torch.Tensor:
    fn = _moe.fused_moe if use_triton(x, force_triton) else _moe.fused_moe_reference
    return fn(x, router_logits, w13, w2, top_k, renormalize, shared)
