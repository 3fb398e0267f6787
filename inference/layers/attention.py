"""Self-attention over the paged KV cache, with grouped-query heads."""

from __future__ import annotations

import torch

from inference import native
from inference.context import ForwardContext
from inference.layers.linear import Linear
from inference.layers.norm import RMSNorm
from inference.layers.rotary import RotaryEmbedding


class Attention:
    """qkv projection -> (optional per-head q/k RMSNorm) -> rotary -> cache write -> attention -> o.

    ``k_cache``/``v_cache`` (shapes: ``native.kv_cache_shapes``) are assigned by the model
    runner once the KV pool is allocated.
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

    def __call__(self, x: torch.Tensor, ctx: ForwardContext) -> torch.Tensor:
        t = x.shape[0]
        h, hkv, d = self.num_heads, self.num_kv_heads, self.head_dim
        qkv = self.qkv(x)
        if self.q_norm is not None:
            q = qkv[:, : h * d].reshape(t * h, d).contiguous()
            k = qkv[:, h * d : (h + hkv) * d].reshape(t * hkv, d).contiguous()
            qkv[:, : h * d] = self.q_norm(q).view(t, h * d)
            qkv[:, h * d : (h + hkv) * d] = self.k_norm(k).view(t, hkv * d)
        q = torch.empty(t, h, d)
        native.rope_store_kv(
            qkv, h, hkv, d, ctx.positions, self.rotary.cos, self.rotary.sin, ctx.slot_mapping,
            self.k_cache, self.v_cache, q,
        )  # fmt: skip
        o = torch.empty(t, h, d)
        native.paged_attention(
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

    def nbytes(self) -> int:
        norms = sum(n.nbytes() for n in (self.q_norm, self.k_norm) if n is not None)
        return self.qkv.nbytes() + self.o_proj.nbytes() + norms
