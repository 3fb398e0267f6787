"""Llama-style decoder (Llama 2/3, SmolLM2, Mistral, Qwen2 with biased q/k/v, tied embeddings).

Weights arrive as a dict under Hugging Face names (``model.layers.{i}.self_attn.q_proj.weight``, ...)
holding ``Int4Weight``, ``Q8Weight`` or float tensors; the builder pops what it uses.

Adding a family: subclass ``LlamaForCausalLM`` and override the ``build_*`` class methods that
differ. A mixture-of-experts family overrides ``build_mlp`` to return its MoE block (any callable
``[T, hidden] -> [T, hidden]`` with an ``nbytes()``), reusing ``build_attention`` and
``DecoderLayer`` as they are; a family with per-head q/k norms (Qwen3) passes ``q_norm``/``k_norm``
to ``Attention``. Register the class in ``inference.models.MODEL_REGISTRY`` under the config's
``architecture``; give its config a ``ModelConfig`` subclass if it needs more fields.
"""

from __future__ import annotations

import torch

from inference.config import ModelConfig
from inference.context import ForwardContext
from inference.layers.attention import Attention
from inference.layers.backend import Backend, building_for
from inference.layers.embedding import Embedding
from inference.layers.linear import Linear, exact_activations
from inference.layers.mlp import GatedMLP
from inference.layers.norm import RMSNorm
from inference.layers.rotary import RotaryEmbedding, inv_frequencies
from inference.models.captured_step import CapturedStep


class DecoderLayer:
    """Pre-norm block; the residual stream is updated in place by the fused add+norm kernels."""

    def __init__(self, attn: Attention, mlp, input_norm: RMSNorm, post_attention_norm: RMSNorm):
        self.attn, self.mlp = attn, mlp
        self.input_norm, self.post_attention_norm = input_norm, post_attention_norm

    def __call__(self, x: torch.Tensor, residual: torch.Tensor | None, ctx: ForwardContext):
        """x: the previous block's output (the embeddings when residual is None)."""
        if residual is None:
            residual = x
            h = self.input_norm(residual)
        else:
            h = self.input_norm(residual, add=x)
        h = self.post_attention_norm(residual, add=self.attn(h, ctx))
        return self.mlp(h), residual

    def nbytes(self) -> int:
        return (
            self.attn.nbytes()
            + self.mlp.nbytes()
            + self.input_norm.nbytes()
            + self.post_attention_norm.nbytes()
        )


class LlamaForCausalLM:
    def __init__(
        self,
        config: ModelConfig,
        embed: Embedding,
        layers: list[DecoderLayer],
        norm: RMSNorm,
        lm_head: Linear | None,
    ):
        """lm_head None: tied to the embeddings (sharing their storage)."""
        self.config = config
        self.backend = Backend()
        self.embed, self.layers, self.norm = embed, layers, norm
        self.tied = lm_head is None
        self.lm_head = embed.as_linear() if lm_head is None else lm_head
        self._captured: CapturedStep | None = None
        self._captured_for = None  # the KV cache it was built for (layer 0's k_cache)

    # -- building ---------------------------------------------------------------------------
    @classmethod
    def from_weights(
        cls,
        config: ModelConfig,
        weights: dict,
        max_positions: int,
        exact: bool = False,
        backend: Backend | None = None,
    ) -> LlamaForCausalLM:
        """``exact``: quantized weights meet float32 activations (see ``layers.linear``);
        ``backend``: which kernels the layers call (default: the native CPU kernels)."""
        backend = backend or Backend()
        with exact_activations(exact), building_for(backend):
            model = cls._build(config, weights, max_positions)
        model.backend = backend
        return model

    @classmethod
    def _build(cls, config: ModelConfig, weights: dict, max_positions: int) -> LlamaForCausalLM:
        rotary = cls.build_rotary(config, weights, max_positions)
        embed = Embedding(weights.pop("model.embed_tokens.weight"))
        layers = []
        for i in range(config.num_layers):
            p = f"model.layers.{i}."
            layers.append(
                DecoderLayer(
                    cls.build_attention(config, weights, p + "self_attn.", rotary),
                    cls.build_mlp(config, weights, p + "mlp.", i),
                    RMSNorm(weights.pop(p + "input_layernorm.weight"), config.rms_norm_eps),
                    RMSNorm(
                        weights.pop(p + "post_attention_layernorm.weight"), config.rms_norm_eps
                    ),
                )
            )
        norm = RMSNorm(weights.pop("model.norm.weight"), config.rms_norm_eps)
        head = weights.pop("lm_head.weight", None)
        lm_head = None if head is None or config.tie_word_embeddings else Linear(head)
        if weights:
            raise ValueError(f"unused weights: {sorted(weights)[:8]}")
        return cls(config, embed, layers, norm, lm_head)

    @classmethod
    def build_rotary(
        cls, config: ModelConfig, weights: dict, max_positions: int
    ) -> RotaryEmbedding:
        inv = inv_frequencies(config.head_dim, config.rope_theta, config.rope_scaling)
        factors = weights.pop("rope_freqs", None)  # GGUF's precomputed llama3 frequency factors
        if factors is not None:
            inv = inv / factors.float()
        return RotaryEmbedding(inv, max_positions)

    @classmethod
    def build_attention(
        cls, config: ModelConfig, weights: dict, p: str, rotary: RotaryEmbedding
    ) -> Attention:
        names = ("q_proj", "k_proj", "v_proj")
        qkv = Linear(
            [weights.pop(f"{p}{n}.weight") for n in names],
            [weights.pop(f"{p}{n}.bias", None) for n in names],
        )
        o_proj = Linear(weights.pop(f"{p}o_proj.weight"), weights.pop(f"{p}o_proj.bias", None))
        return Attention(
            config.num_heads, config.num_kv_heads, config.head_dim, qkv, o_proj, rotary
        )

    @classmethod
    def build_mlp(cls, config: ModelConfig, weights: dict, p: str, layer: int):
        gate_up = Linear([weights.pop(f"{p}gate_proj.weight"), weights.pop(f"{p}up_proj.weight")])
        return GatedMLP(gate_up, Linear(weights.pop(f"{p}down_proj.weight")))

    # -- running ----------------------------------------------------------------------------
    def attention_layers(self) -> list[Attention]:
        return [layer.attn for layer in self.layers]

    def graph_safe(self) -> bool:
        """Whether a forward can be captured in a CUDA graph (no layer synchronises the host)."""
        return all(getattr(layer.mlp, "graph_safe", True) for layer in self.layers)

    def captured_step(self) -> CapturedStep | None:
        """The one-call step over all layers where it covers this model, rebuilt when the model
        runner assigns a new KV cache."""
        cache = getattr(self.layers[0].attn, "k_cache", None) if self.layers else None
        if cache is not self._captured_for:
            self._captured, self._captured_for = CapturedStep.build(self), cache
        return self._captured

    def __call__(self, input_ids: torch.Tensor, ctx: ForwardContext) -> torch.Tensor:
        """Logits [len(ctx.logits_indices), vocab] for the tokens that asked for them."""
        x, residual = self.embed(input_ids), None
        step = self.captured_step()
        if step is not None:
            x, residual = step(x, ctx)
        else:
            for layer in self.layers:
                x, residual = layer(x, residual, ctx)
        rows = ctx.logits_indices
        if rows.shape[0] != residual.shape[0]:
            residual, x = residual.index_select(0, rows), x.index_select(0, rows)
        return self.lm_head(self.norm(residual, add=x))

    def weight_nbytes(self) -> int:
        """Resident weight bytes (a tied head counted once)."""
        head = 0 if self.tied else self.lm_head.nbytes()
        return (
            self.embed.nbytes()
            + sum(layer.nbytes() for layer in self.layers)
            + self.norm.nbytes()
            + head
        )

    def bytes_read_per_token(self) -> int:
        """Weight bytes one decode step reads: every layer and the head (one embedding row aside)."""
        return (
            sum(layer.nbytes() for layer in self.layers)
            + self.norm.nbytes()
            + self.lm_head.nbytes()
        )
