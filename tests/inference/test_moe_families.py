"""Every MoE family against ``transformers``: a tiny random checkpoint is made with the reference
implementation, saved with ``save_pretrained``, loaded by our engine in float32, and compared on the
logits of a prompt and on 32 greedy tokens decoded through the paged KV cache."""

import re

import pytest
import torch
import transformers as tf
from tokenizers import Tokenizer as HFTokenizer
from tokenizers import models, pre_tokenizers

import inference
from inference.config import EngineConfig
from inference.context import ForwardContext
from inference.engine.model_runner import ModelRunner
from inference.formats.hf import load_hf
from inference.int4 import Int4Weight
from inference.layers.moe import SparseMoE
from inference.loader import build_model
from inference.q8 import Q8Weight

VOCAB = 128
COMMON = dict(
    vocab_size=VOCAB,
    hidden_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    initializer_range=0.1,
    tie_word_embeddings=False,
)
DEEPSEEK = dict(
    num_key_value_heads=4,
    intermediate_size=64,
    moe_intermediate_size=32,
    n_routed_experts=8,
    num_experts_per_tok=2,
    n_shared_experts=1,
    kv_lora_rank=32,
    qk_nope_head_dim=32,
    qk_rope_head_dim=16,
    v_head_dim=32,
    first_k_dense_replace=1,
)
QWEN_MOE = dict(
    intermediate_size=64, moe_intermediate_size=32, num_experts=8, num_experts_per_tok=2
)
FAMILIES = {
    "mixtral": (
        tf.MixtralConfig,
        tf.MixtralForCausalLM,
        dict(intermediate_size=32, num_local_experts=8, num_experts_per_tok=2),
    ),
    "qwen2_moe": (
        tf.Qwen2MoeConfig,
        tf.Qwen2MoeForCausalLM,
        dict(QWEN_MOE, shared_expert_intermediate_size=64),
    ),
    "qwen2_moe_dense_layer": (
        tf.Qwen2MoeConfig,
        tf.Qwen2MoeForCausalLM,
        dict(
            QWEN_MOE, shared_expert_intermediate_size=64, mlp_only_layers=[0], norm_topk_prob=True
        ),
    ),
    "qwen3_moe": (
        tf.Qwen3MoeConfig,
        tf.Qwen3MoeForCausalLM,
        dict(QWEN_MOE, head_dim=16, norm_topk_prob=True),
    ),
    "olmoe": (
        tf.OlmoeConfig,
        tf.OlmoeForCausalLM,
        dict(intermediate_size=32, num_experts=8, num_experts_per_tok=2, clip_qkv=0.5),
    ),
    "deepseek_v2": (
        tf.DeepseekV2Config,
        tf.DeepseekV2ForCausalLM,
        dict(DEEPSEEK, q_lora_rank=None),
    ),
    "deepseek_v2_group_limited_yarn": (
        tf.DeepseekV2Config,
        tf.DeepseekV2ForCausalLM,
        dict(
            DEEPSEEK,
            q_lora_rank=None,
            topk_method="group_limited_greedy",
            n_group=4,
            topk_group=2,
            routed_scaling_factor=1.5,
            max_position_embeddings=256,
            rope_parameters={
                "rope_type": "yarn",
                "rope_theta": 10000.0,
                "factor": 4.0,
                "original_max_position_embeddings": 64,
                "mscale": 1.0,
                "mscale_all_dim": 0.8,
            },
        ),
    ),
    "deepseek_v3": (
        tf.DeepseekV3Config,
        tf.DeepseekV3ForCausalLM,
        dict(DEEPSEEK, q_lora_rank=32, n_group=4, topk_group=2),
    ),
    "deepseek_v3_rotate_half": (
        tf.DeepseekV3Config,
        tf.DeepseekV3ForCausalLM,
        dict(
            DEEPSEEK,
            q_lora_rank=32,
            n_group=2,
            topk_group=1,
            rope_interleave=False,
            norm_topk_prob=False,
        ),
    ),
}
PROMPT = [3, 17, 42, 99, 5, 64, 23, 11, 7, 120]


def save_tokenizer(path):
    """A word-level vocabulary ``t0 .. t127``: enough for the loader, ids are what is compared."""
    tok = HFTokenizer(models.WordLevel({f"t{i}": i for i in range(VOCAB)}, unk_token="t0"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.save(str(path / "tokenizer.json"))


def make_checkpoint(family: str, path, seed: int = 0):
    """Random reference model of ``family`` saved to ``path``; returns the reference model."""
    config_cls, model_cls, extra = FAMILIES[family]
    torch.manual_seed(seed)
    model = model_cls(config_cls(**{**COMMON, **extra})).eval()
    with torch.no_grad():
        for module in model.modules():
            if hasattr(module, "e_score_correction_bias"):  # zeros at init: make V3's bias matter
                module.e_score_correction_bias.normal_(0, 0.1)
    model.save_pretrained(path)
    save_tokenizer(path)
    return model


def context(start: int, count: int, logits_rows: torch.Tensor) -> ForwardContext:
    """One sequence whose cache blocks are 0, 1, 2, ... in order: slot = position."""
    pos = torch.arange(start, start + count)
    return ForwardContext(
        positions=pos,
        slot_mapping=pos.clone(),
        block_tables=torch.arange(8, dtype=torch.int32).unsqueeze(0),
        token_seq=torch.zeros(count, dtype=torch.int32),
        token_ctx=(pos + 1).to(torch.int32),
        logits_indices=logits_rows,
    )


def load_ours(path, exact=True, **options):
    """Our model of the checkpoint; ``exact``: quantized weights meet float32 activations, which is
    what a comparison with ``transformers`` on the dequantized weights needs."""
    config, weights, _ = load_hf(path, **options)
    model = build_model(config, weights, 128, exact=exact)
    per_block = 2 * config.num_layers * 16 * config.num_kv_heads * config.head_dim * 4
    ModelRunner(
        model, EngineConfig(block_size=16, kv_cache_bytes=per_block * 8)
    )  # assigns the KV cache
    return model


@torch.inference_mode()
def our_greedy(model, prompt: list[int], steps: int) -> tuple[torch.Tensor, list[int]]:
    """Prompt logits from one prefill, then ``steps`` greedy tokens decoded one at a time."""
    logits = model(torch.tensor(prompt), context(0, len(prompt), torch.arange(len(prompt))))
    ids = [*prompt, int(logits[-1].argmax())]
    while len(ids) < len(prompt) + steps:
        step = model(torch.tensor(ids[-1:]), context(len(ids) - 1, 1, torch.tensor([0])))
        ids.append(int(step[0].argmax()))
    return logits, ids[len(prompt) :]


@torch.inference_mode()
def reference_greedy(model, prompt: list[int], steps: int) -> tuple[torch.Tensor, list[int]]:
    ids = list(prompt)
    logits = model(torch.tensor([ids])).logits[0]
    ids.append(int(logits[-1].argmax()))
    while len(ids) < len(prompt) + steps:
        ids.append(int(model(torch.tensor([ids])).logits[0, -1].argmax()))
    return logits, ids[len(prompt) :]


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_family_matches_transformers(family, tmp_path):
    reference = make_checkpoint(family, tmp_path)
    ours = load_ours(tmp_path, quantize=None)
    our_logits, our_tokens = our_greedy(ours, PROMPT, 32)
    ref_logits, ref_tokens = reference_greedy(reference, PROMPT, 32)
    torch.testing.assert_close(our_logits, ref_logits, atol=1e-4, rtol=1e-4)
    assert our_tokens == ref_tokens
    assert len(set(ref_tokens)) > 1  # the comparison is not between two constant streams


def test_moe_layers_and_dense_layers_are_where_the_checkpoint_puts_them(tmp_path):
    make_checkpoint("deepseek_v3", tmp_path)
    model = load_ours(tmp_path, quantize=None)
    assert [isinstance(layer.mlp, SparseMoE) for layer in model.layers] == [False, True]
    moe = model.layers[1].mlp
    assert len(moe.experts) == 8 and moe.shared is not None and moe.router.bias is not None


def copy_into_reference(reference, weights: dict):
    """Our loaded weights (dequantized) into the reference model, whose experts are fused 3-D tensors."""
    tensors = reference.state_dict(keep_vars=True)
    with torch.no_grad():
        for name, w in weights.items():
            w = w.dequantize() if isinstance(w, Int4Weight | Q8Weight) else w
            m = re.fullmatch(r"(.*\.experts)\.(\d+)\.(gate|up|down)_proj\.weight", name)
            if m is None:
                tensors[name].copy_(w)
                continue
            experts, e, proj = reference.get_submodule(m.group(1)), int(m.group(2)), m.group(3)
            rows = w.shape[0]
            if proj == "down":
                experts.down_proj[e].copy_(w)
            else:
                experts.gate_up_proj[e, : rows if proj == "gate" else 2 * rows][-rows:].copy_(w)


@pytest.mark.parametrize("family", ["mixtral", "qwen3_moe", "deepseek_v3"])
def test_int4_load_equals_transformers_on_the_dequantized_weights(family, tmp_path):
    """Default on-load quantization (int4 experts and projections, int8 embeddings and head) changes
    the model only by what the dequantized weights say."""
    reference = make_checkpoint(family, tmp_path)
    _, weights, _ = load_hf(tmp_path)
    assert isinstance(weights["model.layers.1.mlp.experts.3.up_proj.weight"], Int4Weight)
    assert weights["model.layers.1.mlp.gate.weight"].dtype == torch.float32  # routers stay float
    copy_into_reference(reference, weights)
    ours = load_ours(tmp_path)
    our_logits, our_tokens = our_greedy(ours, PROMPT, 32)
    ref_logits, ref_tokens = reference_greedy(reference, PROMPT, 32)
    torch.testing.assert_close(our_logits, ref_logits, atol=1e-4, rtol=1e-4)
    assert our_tokens == ref_tokens
    assert ours.weight_nbytes() < load_ours(tmp_path, quantize=None).weight_nbytes() / 3


def test_engine_serves_moe_requests_batched(tmp_path):
    """``inference.load`` on a MoE directory (default int4): two requests decoded in the same steps,
    their tokens routed together, each getting what it gets alone."""
    make_checkpoint("mixtral", tmp_path)
    engine = inference.load(str(tmp_path), autostart=False, kv_cache_bytes=1 << 20)
    prompts = [PROMPT, [9, 8, 7, 6, 5]]
    params = inference.SamplingParams(max_tokens=16, ignore_eos=True)
    streams = [engine.submit_tokens(p, params) for p in prompts]
    while engine.step():
        pass
    alone = load_ours(tmp_path, exact=False)  # as inference.load builds it
    for prompt, stream in zip(prompts, streams, strict=True):
        text = "".join(stream)
        assert stream.usage.completion_tokens == 16
        assert text == engine.tokenizer.decode(our_greedy(alone, prompt, 16)[1])
