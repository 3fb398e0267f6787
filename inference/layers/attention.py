"""Self-attention over the paged KV cache, with grouped-query heads."""

from __future__ import annotations

import torch

from inference import cpu_kernels
from inference.context import ForwardContext
from inference.layers import backend as backends
from inference.layers.linear import Linear
from inference.layers.norm import RMSNorm
from inference.layers.rotary import RotaryEmbedding


class Attention:
    """qkv projection -> (optional per-head q/k RMSNorm) -> rotary -> cache write -> attention -> o.

    ``k_cache``/``v_cache`` are assigned by the model runner once the KV pool is allocated
    (shapes: ``kv_cache_shapes`` of the CPU kernels, or ``kernels.kv_cache``'s layout on the triton
    backend).
    On the triton backend, rotary, Qwen3's per-head q/k norms and the cache write are one kernel,
    and attention is the paged decode kernel for every token (a prompt's tokens each attend to
    their own prefix of the cache, written just before).
    """

    def __init__(
        self,
        num_heads: int,
        num_kv_heads: int,
        head_dim: int,
        qkv: Linear,
        o_proj: Linear,
        rotary: RotaryEmbedding,
        q_norm: RMSNorm | None = None,
        k_norm: RMSNorm | None = None,
    ):
        if (
            head_dim % 16
            or num_heads % num_kv_heads
            or num_heads // num_kv_heads > 16
            or head_dim > 256
        ):
            raise ValueError(
                f"unsupported attention shape: {num_heads}/{num_kv_heads} heads of {head_dim}"
            )
        self.num_heads, self.num_kv_heads, self.head_dim = num_heads, num_kv_heads, head_dim
        self.qkv, self.o_proj, self.rotary = qkv, o_proj, rotary
        self.q_norm, self.k_norm = q_norm, k_norm
        self.scale = head_dim**-0.5
        self.k_cache: torch.Tensor | None = None
        self.v_cache: torch.Tensor | None = None
        backend = backends.current()
        self.ops = backend.ops() if backend.triton else None

    def __call__(self, x: torch.Tensor, ctx: ForwardContext) -> torch.Tensor:
        t = x.shape[0]
        h, hkv, d = self.num_heads, self.num_kv_heads, self.head_dim
        qkv = self.qkv(x)
        if self.ops is not None:
            return self.o_proj(self._kernel_attention(qkv, ctx).view(t, h * d))
        if self.q_norm is not None:
            q = qkv[:, : h * d].reshape(t * h, d).contiguous()
            k = qkv[:, h * d : (h + hkv) * d].reshape(t * hkv, d).contiguous()
            qkv[:, : h * d] = self.q_norm(q).view(t, h * d)
            qkv[:, h * d : (h + hkv) * d] = self.k_norm(k).view(t, hkv * d)
        q = torch.empty(t, h, d)
        cpu = cpu_kernels.ops()
        cpu.rope_store_kv(
            qkv, h, hkv, d, ctx.positions, self.rotary.cos, self.rotary.sin, ctx.slot_mapping,
            self.k_cache, self.v_cache, q,
        )  # fmt: skip
        o = torch.empty(t, h, d)
        cpu.paged_attention(
            q,
            self.k_cache,
            self.v_cache,
            ctx.block_tables,
            ctx.token_seq,
            ctx.token_ctx,
            self.scale,
            o,
        )
        return self.o_proj(o.view(t, h * d))

    def _kernel_attention(self, qkv: torch.Tensor, ctx: ForwardContext) -> torch.Tensor:
        t, h, hkv, d = qkv.shape[0], self.num_heads, self.num_kv_heads, self.head_dim
        norms = (None, None) if self.q_norm is None else (self.q_norm.weight, self.k_norm.weight)
        eps = 1e-6 if self.q_norm is None else self.q_norm.eps
        q = self.ops.rope_write_kv(
            qkv, h, hkv, d, ctx.positions, self.rotary.cos, self.rotary.sin, ctx.slot_mapping,
            self.k_cache, self.v_cache, qkv.new_empty(t, h, d), *norms, eps, force_triton=True,
        )  # fmt: skip
        return self.ops.paged_decode_attention(
            q,
            self.k_cache,
            self.v_cache,
            ctx.block_tables,
            ctx.token_ctx,
            self.scale,
            query_seq=ctx.token_seq,
            force_triton=True,
        )

    def nbytes(self) -> int:
        norms = sum(n.nbytes() for n in (self.q_norm, self.k_norm) if n is not None)
        return self.qkv.nbytes() + self.o_proj.nbytes() + norms
