"""Hugging Face checkpoint directories -> (ModelConfig, weights under HF names, Tokenizer).

Float checkpoints (fp32/fp16/bf16) are quantized as they load, one tensor at a time: linear layers to
group-wise int4 (``quantize="int4"``, ``group_size`` 32/64/128), embeddings and the output head to int8
(``Q8Weight``); ``quantize=None`` keeps every weight in float32 (the reference mode the tests compare
with ``transformers``). GPTQ checkpoints (``quantization_config.quant_method == "gptq"``) load their
int4 layers as they are. Routers (``mlp.gate``, ``shared_expert_gate``) and norms stay float32.

Families: llama, mistral, qwen2 (dense); mixtral, qwen2_moe, qwen3_moe, olmoe, deepseek_v2,
deepseek_v3 (``inference.models.moe``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import torch
from tqdm import tqdm

from inference.config import ModelConfig
from inference.formats.gptq import checkpoint_format, gptq_to_int4
from inference.formats.int4_quantize import quantize_int4
from inference.formats.q8_quantize import quantize_q8
from inference.formats.safetensors_dir import SafetensorsDir
from inference.models.moe import MoEConfig
from inference.models.moe_mla import MLAConfig
from inference.tokenizer import Tokenizer

DENSE = ("llama", "mistral", "qwen2")
QUANTIZE_MODES = ("int4", None)
_NOT_QUANTIZED = re.compile(
    r"(\.mlp\.gate\.weight|shared_expert_gate\.weight|norm\.weight|\.bias)$"
)
_MIXTRAL_EXPERT = re.compile(r"\.block_sparse_moe\.experts\.(\d+)\.(w1|w2|w3)\.weight$")
_MIXTRAL_PROJ = {"w1": "gate_proj", "w3": "up_proj", "w2": "down_proj"}


def _rope(cfg: dict) -> tuple[float, dict | None]:
    """(theta, scaling) from ``rope_parameters`` (transformers 5) or ``rope_theta``/``rope_scaling``."""
    params = dict(cfg.get("rope_parameters") or {})
    legacy = cfg.get("rope_scaling") or {}
    theta = params.pop("rope_theta", None) or cfg.get("rope_theta", 10000.0)
    scaling = {**legacy, **params}
    if "type" in scaling and "rope_type" not in scaling:
        scaling["rope_type"] = scaling.pop("type")
    if scaling.get("rope_type", "default") == "default":
        return float(theta), None
    return float(theta), scaling


def _ids(value) -> list[int]:
    if value is None:
        return []
    return [value] if isinstance(value, int) else list(value)


def _base_fields(cfg: dict, path: Path) -> dict:
    heads = cfg["num_attention_heads"]
    theta, scaling = _rope(cfg)
    eos = _ids(cfg.get("eos_token_id"))
    generation = path / "generation_config.json"
    if generation.is_file():
        eos = list(
            dict.fromkeys(eos + _ids(json.loads(generation.read_text()).get("eos_token_id")))
        )
    return {
        "architecture": cfg["model_type"],
        "vocab_size": cfg["vocab_size"],
        "hidden_size": cfg["hidden_size"],
        "intermediate_size": cfg.get("intermediate_size", 0),
        "num_layers": cfg["num_hidden_layers"],
        "num_heads": heads,
        "num_kv_heads": cfg.get("num_key_value_heads") or heads,
        "head_dim": cfg.get("head_dim") or cfg["hidden_size"] // heads,
        "rms_norm_eps": cfg.get("rms_norm_eps", 1e-6),
        "rope_theta": theta,
        "rope_scaling": scaling,
        "max_position_embeddings": cfg.get("max_position_embeddings", 4096),
        "tie_word_embeddings": bool(cfg.get("tie_word_embeddings", False)),
        "attention_bias": bool(
            cfg.get("attention_bias") or cfg.get("qkv_bias") or cfg["model_type"] == "qwen2"
        ),
        "bos_token_id": cfg.get("bos_token_id"),
        "eos_token_ids": eos,
        "name": path.name,
    }


def _moe_fields(cfg: dict) -> dict:
    kind = cfg["model_type"]
    num_experts = (
        cfg.get("num_local_experts") or cfg.get("num_experts") or cfg.get("n_routed_experts")
    )
    fields = {
        "num_experts": num_experts,
        "num_experts_per_tok": cfg["num_experts_per_tok"],
        "norm_topk_prob": kind == "mixtral" or bool(cfg.get("norm_topk_prob", False)),
    }
    if kind == "qwen3_moe":
        fields["qk_norm"] = "head"
    if kind == "olmoe":
        fields["qk_norm"] = "full"
        fields["clip_qkv"] = cfg.get("clip_qkv")
    if kind.startswith("deepseek"):
        v3 = kind == "deepseek_v3"
        fields.update(
            routed_scaling_factor=float(cfg.get("routed_scaling_factor", 1.0)),
            n_group=cfg.get("n_group") or 1,
            topk_group=cfg.get("topk_group") or 1,
            topk_method="noaux_tc" if v3 else cfg.get("topk_method") or "greedy",
            scoring_func="sigmoid" if v3 else "softmax",
            norm_topk_prob=v3 and bool(cfg.get("norm_topk_prob", False)),
            mla=MLAConfig(
                q_lora_rank=cfg.get("q_lora_rank"),
                kv_lora_rank=cfg["kv_lora_rank"],
                qk_nope_head_dim=cfg["qk_nope_head_dim"],
                qk_rope_head_dim=cfg["qk_rope_head_dim"],
                v_head_dim=cfg["v_head_dim"],
                rope_interleave=bool(cfg.get("rope_interleave", True)) if v3 else True,
            ),
        )
    return fields


def read_config(cfg: dict, path: Path) -> ModelConfig:
    kind = cfg.get("model_type")
    fields = _base_fields(cfg, path)
    if kind in DENSE:
        return ModelConfig(**fields)
    if kind not in ("mixtral", "qwen2_moe", "qwen3_moe", "olmoe", "deepseek_v2", "deepseek_v3"):
        raise NotImplementedError(f"model_type {kind!r} is not supported")
    moe = _moe_fields(cfg)
    if moe.get("mla") is not None:
        fields["head_dim"] = moe["mla"].head_dim
        fields["num_kv_heads"] = fields["num_heads"]
    return MoEConfig(**fields, **moe)


def hf_name(name: str) -> str:
    """Mixtral's expert names -> the Qwen2-MoE names the MoE model reads."""
    m = _MIXTRAL_EXPERT.search(name)
    if m:
        return f"{name[: m.start()]}.mlp.experts.{m.group(1)}.{_MIXTRAL_PROJ[m.group(2)]}.weight"
    return name.replace(".block_sparse_moe.gate.", ".mlp.gate.")


class QuantizingConverter:
    """One float tensor -> what the model keeps of it."""

    def __init__(self, quantize: str | None, group_size: int):
        if quantize not in QUANTIZE_MODES:
            raise ValueError(f"quantize must be one of {QUANTIZE_MODES}")
        self.quantize, self.group_size = quantize, group_size

    def __call__(self, name: str, t: torch.Tensor):
        if self.quantize is None or t.dim() != 2 or _NOT_QUANTIZED.search(name):
            return t.to(torch.float32)
        if name in ("model.embed_tokens.weight", "lm_head.weight"):
            return quantize_q8(t) if t.shape[1] % 32 == 0 else t.to(torch.float32)
        for group in (self.group_size, 32):
            if t.shape[1] % group == 0:
                return quantize_int4(t, group)
        return t.to(torch.float32)


def _split_fused_experts(name: str, t: torch.Tensor) -> dict[str, torch.Tensor]:
    """transformers 5's in-memory layout, if a checkpoint was saved that way: ``experts.gate_up_proj``
    [E, 2I, H] and ``experts.down_proj`` [E, H, I] -> per-expert HF names."""
    base = (
        name[: -len("gate_up_proj")] if name.endswith("gate_up_proj") else name[: -len("down_proj")]
    )
    out = {}
    for e in range(t.shape[0]):
        if name.endswith("gate_up_proj"):
            gate, up = t[e].chunk(2, dim=0)
            out[f"{base}{e}.gate_proj.weight"], out[f"{base}{e}.up_proj.weight"] = gate, up
        else:
            out[f"{base}{e}.down_proj.weight"] = t[e]
    return out


def load_hf(path: str | Path, quantize: str | None = "int4", group_size: int = 32):
    """(ModelConfig, weights, Tokenizer) from a directory with config.json, safetensors, tokenizer.json."""
    path = Path(path)
    ckpt = SafetensorsDir(path)
    config = read_config(ckpt.config, path)
    qc = ckpt.quantization_config
    gptq_format = None
    if qc is not None:
        if qc.get("quant_method") != "gptq":
            raise NotImplementedError(
                f"quantization method {qc.get('quant_method')!r} is not supported"
            )
        if qc.get("desc_act"):
            raise NotImplementedError("act-order GPTQ (desc_act) is not supported")
        gptq_format = checkpoint_format(qc)
    convert = QuantizingConverter(quantize, group_size)
    weights: dict = {}
    names = [
        n
        for n in ckpt.keys()
        if not n.endswith((".qzeros", ".scales", ".g_idx")) and "rotary_emb" not in n
    ]
    for name in tqdm(names, desc=f"loading {path.name}", unit="tensor", disable=None, leave=False):
        t = ckpt.get(name)
        if name.endswith(".qweight"):
            prefix = name[: -len(".qweight")]
            g_idx = ckpt.get(f"{prefix}.g_idx") if f"{prefix}.g_idx" in ckpt else None
            w = gptq_to_int4(
                t, ckpt.get(f"{prefix}.qzeros"), ckpt.get(f"{prefix}.scales"), g_idx, gptq_format
            )
            weights[hf_name(f"{prefix}.weight")] = w
        elif name.endswith(("experts.gate_up_proj", "experts.down_proj")):
            for part, tensor in _split_fused_experts(name, t).items():
                weights[part] = convert(part, tensor)
        else:
            weights[hf_name(name)] = convert(hf_name(name), t)
    if config.tie_word_embeddings:
        weights.pop("lm_head.weight", None)
    tokenizer = Tokenizer.from_pretrained_dir(path, config.eos_token_ids)
    config.eos_token_ids = list(tokenizer.eos_token_ids)
    if config.bos_token_id is None:
        config.bos_token_id = tokenizer.bos_token_id
    return config, weights, tokenizer
