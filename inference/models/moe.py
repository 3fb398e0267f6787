"""Mixture-of-experts families on the Llama decoder: Mixtral, Qwen2-MoE, Qwen3-MoE, OLMoE, DeepSeek-V2/V3.

They share ``LlamaForCausalLM``'s embedding, decoder layer, norms and paged attention, and differ in
- the feed-forward of a layer: a ``SparseMoE`` where the checkpoint has a router (``mlp.gate.weight``),
  the dense gated MLP elsewhere (DeepSeek's first layers, Qwen's ``mlp_only_layers``);
- routing settings (``MoEConfig``) and shared experts (Qwen2-MoE's sigmoid-gated ``shared_expert``,
  DeepSeek's ``shared_experts``);
- attention extras: per-head q/k RMSNorm (Qwen3-MoE), full-width q/k RMSNorm and q/k/v clipping (OLMoE),
  multi-head latent attention (DeepSeek, ``inference.models.moe_mla``).

Weights come under the Hugging Face names of Qwen2-MoE (``mlp.experts.{e}.gate_proj.weight``, ...);
``inference.formats.hf`` renames Mixtral's ``block_sparse_moe.experts.{e}.w1/w3/w2``. An expert stack
may also come as one entry ``mlp.experts.gate_proj.weight`` holding a list of per-expert weights or a
3-D tensor ``[experts, out, in]`` (how GGUF stores them).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from inference.config import ModelConfig
from inference.int4 import Int4Weight
from inference.layers.linear import Linear
from inference.layers.mlp import GatedMLP
from inference.layers.moe import Router, SparseMoE
from inference.layers.norm import RMSNorm
from inference.layers.rotary import RotaryEmbedding
from inference.models import MODEL_REGISTRY
from inference.models.llama import LlamaForCausalLM
from inference.models.moe_mla import MLAConfig, build_mla_attention, build_mla_rotary
from inference.q8 import Q8Weight


@dataclass
class MoEConfig(ModelConfig):
    num_experts: int = 0
    num_experts_per_tok: int = 2
    norm_topk_prob: bool = False
    scoring_func: str = "softmax"  # "sigmoid" for DeepSeek-V3
    topk_method: str = "greedy"  # "group_limited_greedy" (DeepSeek-V2) | "noaux_tc" (DeepSeek-V3)
    n_group: int = 1
    topk_group: int = 1
    routed_scaling_factor: float = 1.0
    qk_norm: str | None = None  # "head" (Qwen3-MoE) | "full" (OLMoE)
    clip_qkv: float | None = None
    mla: MLAConfig | None = None


def as_float(w) -> torch.Tensor:
    if isinstance(w, Int4Weight | Q8Weight):
        return w.dequantize()
    return w.to(torch.float32)


def _expert_weights(weights: dict, p: str, proj: str, n: int) -> list:
    stacked = weights.pop(f"{p}experts.{proj}.weight", None)
    if stacked is not None:
        if len(stacked) != n:
            raise ValueError(f"{p}experts.{proj}.weight holds {len(stacked)} experts, expected {n}")
        return list(stacked)
    return [weights.pop(f"{p}experts.{e}.{proj}.weight") for e in range(n)]


def _gated_mlp(weights: dict, p: str) -> GatedMLP:
    gate_up = Linear([weights.pop(f"{p}gate_proj.weight"), weights.pop(f"{p}up_proj.weight")])
    return GatedMLP(gate_up, Linear(weights.pop(f"{p}down_proj.weight")))


class NormedQKV:
    """OLMoE's projection: fused q/k/v, then RMSNorm over the whole q and k vectors (not per head),
    then optional clipping of q, k and v; the rest of attention is the shared one."""

    def __init__(self, qkv: Linear, q_norm: RMSNorm, k_norm: RMSNorm, clip: float | None):
        self.qkv, self.q_norm, self.k_norm, self.clip = qkv, q_norm, k_norm, clip
        self.q_width, self.k_width = q_norm.weight.numel(), k_norm.weight.numel()

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        out = self.qkv(x)
        qw, kw = self.q_width, self.k_width
        out[:, :qw] = self.q_norm(out[:, :qw].contiguous())
        out[:, qw : qw + kw] = self.k_norm(out[:, qw : qw + kw].contiguous())
        if self.clip is not None:
            out.clamp_(-self.clip, self.clip)
        return out

    def nbytes(self) -> int:
        return self.qkv.nbytes() + self.q_norm.nbytes() + self.k_norm.nbytes()


class MoEForCausalLM(LlamaForCausalLM):
    config: MoEConfig

    @classmethod
    def build_rotary(cls, config: MoEConfig, weights: dict, max_positions: int) -> RotaryEmbedding:
        if config.mla is not None:
            return build_mla_rotary(config, config.mla, max_positions)
        return super().build_rotary(config, weights, max_positions)

    @classmethod
    def build_attention(cls, config: MoEConfig, weights: dict, p: str, rotary: RotaryEmbedding):
        if config.mla is not None:
            return build_mla_attention(config, config.mla, weights, p, rotary)
        if config.qk_norm is None:
            return super().build_attention(config, weights, p, rotary)
        q_norm = RMSNorm(weights.pop(f"{p}q_norm.weight"), config.rms_norm_eps)
        k_norm = RMSNorm(weights.pop(f"{p}k_norm.weight"), config.rms_norm_eps)
        attn = super().build_attention(config, weights, p, rotary)
        if config.qk_norm == "head":
            attn.q_norm, attn.k_norm = q_norm, k_norm
        else:
            attn.qkv = NormedQKV(attn.qkv, q_norm, k_norm, config.clip_qkv)
        return attn

    @classmethod
    def build_mlp(cls, config: MoEConfig, weights: dict, p: str, layer: int):
        if f"{p}gate.weight" not in weights:
            return super().build_mlp(config, weights, p, layer)
        router = Router(
            as_float(weights.pop(f"{p}gate.weight")),
            config.num_experts_per_tok,
            method=config.topk_method,
            scoring=config.scoring_func,
            normalize=config.norm_topk_prob,
            n_group=config.n_group,
            topk_group=config.topk_group,
            scaling=config.routed_scaling_factor,
            bias=weights.pop(f"{p}gate.e_score_correction_bias", None),
        )
        n = router.num_experts
        gates, ups, downs = (
            _expert_weights(weights, p, proj, n) for proj in ("gate_proj", "up_proj", "down_proj")
        )
        experts = [
            GatedMLP(Linear([g, u]), Linear(d)) for g, u, d in zip(gates, ups, downs, strict=True)
        ]
        shared = shared_gate = None
        for prefix in ("shared_expert.", "shared_experts."):
            if f"{p}{prefix}gate_proj.weight" in weights:
                shared = _gated_mlp(weights, p + prefix)
        if f"{p}shared_expert_gate.weight" in weights:
            shared_gate = as_float(weights.pop(f"{p}shared_expert_gate.weight"))
        return SparseMoE(router, experts, shared, shared_gate)


MOE_FAMILIES = ("mixtral", "qwen2_moe", "qwen3_moe", "olmoe", "deepseek_v2", "deepseek_v3")
MODEL_REGISTRY.update(dict.fromkeys(MOE_FAMILIES, MoEForCausalLM))
