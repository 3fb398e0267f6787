"""Hugging Face directories: dense families, dtypes, tied heads, on-load int4, GPTQ, transformers 5's
fused expert layout; each checked against ``transformers`` on the same weights."""

import copy
import json

import numpy as np
import pytest
import torch
import transformers as tf
from gptq_codec import gptq_quantize, oracle_dequantize, pack_gptq
from hf_checkpoints import COMMON
from safetensors.torch import save_file
from test_moe_families import reference_greedy
from tiny_models import PROMPT, load_ours, our_greedy, save_tokenizer

from inference.formats.hf import load_hf
from inference.int4 import Int4Weight
from inference.q8 import Q8Weight

DENSE = {
    "llama": (tf.LlamaConfig, tf.LlamaForCausalLM, dict(intermediate_size=96)),
    "mistral": (tf.MistralConfig, tf.MistralForCausalLM, dict(intermediate_size=96)),
    "qwen2": (tf.Qwen2Config, tf.Qwen2ForCausalLM, dict(intermediate_size=96)),
}


def make_dense(family, path=None, seed=0, **overrides):
    config_cls, model_cls, extra = DENSE[family]
    torch.manual_seed(seed)
    model = model_cls(config_cls(**{**COMMON, **extra, **overrides})).eval()
    if path is not None:
        model.save_pretrained(path)
        save_tokenizer(path)
    return model


def assert_matches(ours, reference, tokens=32):
    our_logits, our_tokens = our_greedy(ours, PROMPT, tokens)
    ref_logits, ref_tokens = reference_greedy(reference, PROMPT, tokens)
    torch.testing.assert_close(our_logits, ref_logits, atol=1e-4, rtol=1e-4)
    assert our_tokens == ref_tokens


@pytest.mark.parametrize("family", sorted(DENSE))
def test_dense_family_matches_transformers(family, tmp_path):
    reference = make_dense(family, tmp_path)
    assert_matches(load_ours(tmp_path, quantize=None), reference)


def test_tied_embeddings_share_the_table(tmp_path):
    reference = make_dense("llama", tmp_path, tie_word_embeddings=True)
    ours = load_ours(tmp_path, quantize=None)
    assert ours.lm_head.parts[0][1].weight.data_ptr() == ours.embed.table.data_ptr()
    assert_matches(ours, reference, tokens=8)


def test_bf16_checkpoint_loads_its_exact_values(tmp_path):
    reference = make_dense("qwen2", seed=1)
    with torch.no_grad():
        for p in reference.parameters():
            p.copy_(p.to(torch.bfloat16).float())
    copy.deepcopy(reference).to(torch.bfloat16).save_pretrained(tmp_path)
    save_tokenizer(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["dtype"] == "bfloat16"
    assert_matches(load_ours(tmp_path, quantize=None), reference, tokens=8)


@pytest.mark.parametrize("group", [32, 128])
def test_on_load_int4_equals_transformers_on_the_dequantized_weights(group, tmp_path):
    reference = make_dense("llama", tmp_path, hidden_size=128, intermediate_size=256)
    _, weights, _ = load_hf(tmp_path, group_size=group)
    q = weights["model.layers.0.self_attn.q_proj.weight"]
    assert isinstance(q, Int4Weight) and q.group_size == group
    assert isinstance(weights["model.layers.1.mlp.down_proj.weight"], Int4Weight)
    assert isinstance(weights["model.embed_tokens.weight"], Q8Weight)
    assert isinstance(weights["lm_head.weight"], Q8Weight)
    assert weights["model.norm.weight"].dtype == torch.float32
    float_logits, _ = our_greedy(load_ours(tmp_path, quantize=None), PROMPT, 1)
    with torch.no_grad():
        for name, w in weights.items():
            reference.get_parameter(name).copy_(
                w.dequantize() if isinstance(w, Int4Weight | Q8Weight) else w
            )
    ours = load_ours(tmp_path, group_size=group)
    assert_matches(ours, reference)
    int4_logits, _ = our_greedy(ours, PROMPT, 1)
    assert not torch.allclose(int4_logits, float_logits, atol=1e-2)  # it did quantize


def test_group_size_falls_back_to_32_where_128_does_not_tile(tmp_path):
    make_dense("llama", tmp_path)  # hidden 64, intermediate 96
    _, weights, _ = load_hf(tmp_path, group_size=128)
    assert weights["model.layers.0.self_attn.q_proj.weight"].group_size == 32
    assert weights["model.layers.0.mlp.down_proj.weight"].group_size == 32


@pytest.mark.parametrize("fmt", ["gptq", "gptq_v2"])
def test_gptq_checkpoint_matches_its_dequantized_weights(fmt, tmp_path):
    """Every linear of a float model becomes GPTQ tensors; transformers, given the oracle-dequantized
    weights, is the reference."""
    reference = make_dense("qwen2", seed=2)
    tensors = {}
    state = reference.state_dict()
    for name, w in state.items():
        if name.endswith("_proj.weight"):
            codes, zeros, scales = gptq_quantize(w.numpy(), 32, sym=False)
            zeros = np.maximum(zeros, 1) if fmt == "gptq" else zeros
            qweight, qzeros, sc = pack_gptq(codes, zeros, scales, fmt)
            prefix = name[: -len(".weight")]
            tensors.update(
                {f"{prefix}.qweight": qweight, f"{prefix}.qzeros": qzeros, f"{prefix}.scales": sc}
            )
            tensors[f"{prefix}.g_idx"] = torch.arange(w.shape[1], dtype=torch.int32) // 32
            dequantized = oracle_dequantize(qweight, qzeros, sc, tensors[f"{prefix}.g_idx"], fmt)
            with torch.no_grad():
                reference.get_submodule(prefix).weight.copy_(dequantized)
        else:
            tensors[name] = w.contiguous()
    save_file(tensors, tmp_path / "model.safetensors")
    config = json.loads(reference.config.to_json_string())
    config["quantization_config"] = {
        "quant_method": "gptq",
        "bits": 4,
        "group_size": 32,
        "desc_act": False,
        "sym": False,
        "checkpoint_format": fmt,
    }
    (tmp_path / "config.json").write_text(json.dumps(config))
    save_tokenizer(tmp_path)
    _, weights, _ = load_hf(tmp_path, quantize=None)
    assert isinstance(weights["model.layers.0.mlp.up_proj.weight"], Int4Weight)
    assert_matches(load_ours(tmp_path, quantize=None), reference, tokens=8)


def test_fused_expert_tensors_are_split(tmp_path):
    """A checkpoint written from transformers 5's in-memory layout (experts.gate_up_proj [E, 2I, H])."""
    reference = tf.MixtralForCausalLM(
        tf.MixtralConfig(
            **{**COMMON, "intermediate_size": 32, "num_local_experts": 4, "num_experts_per_tok": 2}
        )
    ).eval()
    state = reference.state_dict()
    assert "model.layers.0.mlp.experts.gate_up_proj" in state
    save_file({k: v.contiguous() for k, v in state.items()}, tmp_path / "model.safetensors")
    (tmp_path / "config.json").write_text(reference.config.to_json_string())
    save_tokenizer(tmp_path)
    assert_matches(load_ours(tmp_path, quantize=None), reference, tokens=8)


def test_unsupported_checkpoints_are_refused(tmp_path):
    make_dense("llama", tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "model_type": "gpt2"}))
    with pytest.raises(NotImplementedError, match="gpt2"):
        load_hf(tmp_path)
    (tmp_path / "config.json").write_text(
        json.dumps({**config, "quantization_config": {"quant_method": "awq"}})
    )
    with pytest.raises(NotImplementedError, match="awq"):
        load_hf(tmp_path)
