"""MoE GGUF files: tiny reference models written out with llama.cpp's names and layouts (stacked
experts, Mixtral's permuted q/k rows), loaded by the engine, compared with ``transformers``."""

import numpy as np
import pytest
import torch
from gguf import GGUFWriter, quants
from gguf.constants import GGMLQuantizationType as QT
from hf_checkpoints import make_checkpoint
from test_moe_families import reference_greedy
from tiny_models import PROMPT, VOCAB, our_greedy

import inference.formats.gguf_moe  # noqa: F401  (adds the MoE architectures to the GGUF loader)
from inference.config import EngineConfig
from inference.engine.model_runner import ModelRunner
from inference.gguf_loader import load_gguf
from inference.loader import build_model
from inference.models.moe import MoEConfig

GGUF_ARCH = {"mixtral": "llama", "qwen2_moe": "qwen2moe", "qwen3_moe": "qwen3moe", "olmoe": "olmoe"}
ATTN = {"q_proj": "attn_q", "k_proj": "attn_k", "v_proj": "attn_v", "o_proj": "attn_output"}


def llama_permute(w: np.ndarray, n_head: int) -> np.ndarray:
    """llama.cpp's conversion of q/k rows for its interleaved rotary (``convert_hf_to_gguf.py``)."""
    return (
        w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:])
        .swapaxes(1, 2)
        .reshape(w.shape)
    )


def quantize_experts(reference, qtype):
    """Round the reference's expert weights through ``qtype`` (so both sides hold the same values)."""
    with torch.no_grad():
        for layer in reference.model.layers:
            for p in (layer.mlp.experts.gate_up_proj, layer.mlp.experts.down_proj):
                raw = quants.quantize(p.numpy(), qtype)
                p.copy_(torch.from_numpy(quants.dequantize(raw, qtype)))


def write_gguf(reference, family: str, path, expert_type=QT.F32):
    cfg, arch = reference.config, GGUF_ARCH[family]
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    w = GGUFWriter(str(path), arch)
    w.add_block_count(cfg.num_hidden_layers)
    w.add_context_length(cfg.max_position_embeddings)
    w.add_embedding_length(cfg.hidden_size)
    w.add_feed_forward_length(cfg.intermediate_size)
    w.add_head_count(cfg.num_attention_heads)
    w.add_head_count_kv(cfg.num_key_value_heads)
    w.add_key_length(head_dim)
    w.add_value_length(head_dim)
    w.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    w.add_rope_freq_base(cfg.rope_parameters["rope_theta"])
    w.add_expert_count(reference.model.layers[0].mlp.experts.gate_up_proj.shape[0])
    w.add_expert_used_count(cfg.num_experts_per_tok)
    w.add_vocab_size(VOCAB)
    if getattr(cfg, "clip_qkv", None) is not None:
        w.add_clamp_kqv(cfg.clip_qkv)
    w.add_tokenizer_model("gpt2")
    w.add_token_list(["t", "t1", "1", *(f"t{i}" for i in range(3, VOCAB))])
    w.add_token_merges(["t 1"])
    w.add_eos_token_id(1)
    state = {k: v.detach().numpy() for k, v in reference.state_dict().items()}
    if "model.layers.0.mlp.shared_expert.gate_proj.weight" in state:
        w.add_expert_shared_feed_forward_length(cfg.shared_expert_intermediate_size)
    w.add_tensor("token_embd.weight", state["model.embed_tokens.weight"])
    w.add_tensor("output_norm.weight", state["model.norm.weight"])
    w.add_tensor("output.weight", state["lm_head.weight"])
    for i in range(cfg.num_hidden_layers):
        p, b = f"model.layers.{i}.", f"blk.{i}."
        w.add_tensor(b + "attn_norm.weight", state[p + "input_layernorm.weight"])
        w.add_tensor(b + "ffn_norm.weight", state[p + "post_attention_layernorm.weight"])
        for hf, gg in ATTN.items():
            t = state[f"{p}self_attn.{hf}.weight"]
            if arch == "llama" and hf in ("q_proj", "k_proj"):
                t = llama_permute(
                    t, cfg.num_attention_heads if hf == "q_proj" else cfg.num_key_value_heads
                )
            w.add_tensor(f"{b}{gg}.weight", t)
            if f"{p}self_attn.{hf}.bias" in state:
                w.add_tensor(f"{b}{gg}.bias", state[f"{p}self_attn.{hf}.bias"])
        for hf, gg in (("q_norm", "attn_q_norm"), ("k_norm", "attn_k_norm")):
            if f"{p}self_attn.{hf}.weight" in state:
                w.add_tensor(f"{b}{gg}.weight", state[f"{p}self_attn.{hf}.weight"])
        w.add_tensor(b + "ffn_gate_inp.weight", state[p + "mlp.gate.weight"])
        gate, up = np.split(state[p + "mlp.experts.gate_up_proj"], 2, axis=1)
        for name, t in (("gate", gate), ("up", up), ("down", state[p + "mlp.experts.down_proj"])):
            t = np.ascontiguousarray(t)
            if expert_type == QT.F32:
                w.add_tensor(f"{b}ffn_{name}_exps.weight", t)
            else:
                w.add_tensor(
                    f"{b}ffn_{name}_exps.weight",
                    quants.quantize(t, expert_type),
                    raw_dtype=expert_type,
                )
        if p + "mlp.shared_expert.gate_proj.weight" in state:
            for name in ("gate", "up", "down"):
                w.add_tensor(
                    f"{b}ffn_{name}_shexp.weight", state[f"{p}mlp.shared_expert.{name}_proj.weight"]
                )
            w.add_tensor(
                b + "ffn_gate_inp_shexp.weight",
                state[p + "mlp.shared_expert_gate.weight"].reshape(-1),
            )
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def load_ours_gguf(path):
    config, weights, _ = load_gguf(str(path))
    model = build_model(config, weights, 128, exact=True)
    per_block = 2 * config.num_layers * 16 * config.num_kv_heads * config.head_dim * 4
    ModelRunner(model, EngineConfig(block_size=16, kv_cache_bytes=per_block * 8))
    return config, model


@pytest.mark.parametrize(
    ("family", "expert_type"),
    [("mixtral", QT.F32), ("qwen2_moe", QT.Q4_0), ("qwen3_moe", QT.F32), ("olmoe", QT.Q8_0)],
)
def test_moe_gguf_matches_transformers(family, expert_type, tmp_path):
    reference = make_checkpoint(family, tmp_path)
    if expert_type != QT.F32:
        quantize_experts(reference, expert_type)
    write_gguf(reference, family, tmp_path / "model.gguf", expert_type)
    config, ours = load_ours_gguf(tmp_path / "model.gguf")
    assert isinstance(config, MoEConfig) and config.architecture == family
    our_logits, our_tokens = our_greedy(ours, PROMPT, 32)
    ref_logits, ref_tokens = reference_greedy(reference, PROMPT, 32)
    torch.testing.assert_close(our_logits, ref_logits, atol=1e-4, rtol=1e-4)
    assert our_tokens == ref_tokens
