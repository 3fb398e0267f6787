"""Mixture-of-experts architectures in GGUF files, added to ``inference.gguf_loader``'s tables.

llama.cpp names: ``llama`` with ``llama.expert_count`` (Mixtral), ``qwen2moe``, ``qwen3moe``, ``olmoe``.
Experts come stacked, ``blk.N.ffn_{gate,up,down}_exps.weight`` of shape ``[experts, out, in]``, and
go to the MoE model under ``mlp.experts.{gate,up,down}_proj.weight``; the router is
``ffn_gate_inp``, Qwen2-MoE's shared expert ``ffn_*_shexp`` behind ``ffn_gate_inp_shexp``.
Whether the top-k weights are renormalized is ``{arch}.expert_weights_norm`` where the file says,
else what llama.cpp does for that architecture; OLMoE's q/k/v clipping is ``{arch}.attention.clamp_kqv``.

DeepSeek (``deepseek2``) GGUF files are not read: recent conversions split ``kv_b_proj`` into
per-head ``attn_k_b``/``attn_v_b`` and change the MLA key lengths between versions; DeepSeek models
load from Hugging Face directories.
"""

from __future__ import annotations

from dataclasses import asdict

from inference.gguf_loader import CONFIG_READERS, TENSOR_NAMES, _dense_config
from inference.models.moe import MoEConfig

ARCHITECTURES = {
    "llama": "mixtral",
    "qwen2moe": "qwen2_moe",
    "qwen3moe": "qwen3_moe",
    "olmoe": "olmoe",
}
NORMALIZED_TOP_K = {"llama": True, "qwen2moe": False, "qwen3moe": True, "olmoe": False}
QK_NORM = {"qwen3moe": "head", "olmoe": "full"}
MOE_TENSOR_NAMES = {
    "ffn_gate_inp.weight": "mlp.gate.weight",
    "ffn_gate_exps.weight": "mlp.experts.gate_proj.weight",
    "ffn_up_exps.weight": "mlp.experts.up_proj.weight",
    "ffn_down_exps.weight": "mlp.experts.down_proj.weight",
    "ffn_gate_shexp.weight": "mlp.shared_expert.gate_proj.weight",
    "ffn_up_shexp.weight": "mlp.shared_expert.up_proj.weight",
    "ffn_down_shexp.weight": "mlp.shared_expert.down_proj.weight",
    "ffn_gate_inp_shexp.weight": "mlp.shared_expert_gate.weight",
    "attn_q_norm.weight": "self_attn.q_norm.weight",
    "attn_k_norm.weight": "self_attn.k_norm.weight",
}


def moe_config(meta: dict, arch: str):
    """GGUF metadata -> ``MoEConfig`` (a plain llama file still gives the dense config)."""
    if arch == "llama" and "llama.expert_count" not in meta:
        return _dense_config(meta, arch)
    fields = asdict(_dense_config(meta, arch))
    fields["architecture"] = ARCHITECTURES[arch]
    return MoEConfig(
        **fields,
        num_experts=meta[f"{arch}.expert_count"],
        num_experts_per_tok=meta[f"{arch}.expert_used_count"],
        norm_topk_prob=bool(meta.get(f"{arch}.expert_weights_norm", NORMALIZED_TOP_K[arch])),
        qk_norm=QK_NORM.get(arch),
        clip_qkv=meta.get(f"{arch}.attention.clamp_kqv"),
    )


CONFIG_READERS.update(dict.fromkeys(ARCHITECTURES, moe_config))
TENSOR_NAMES.update(MOE_TENSOR_NAMES)
