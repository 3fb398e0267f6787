"""Tiny random checkpoints of every MoE family, made by ``transformers`` (the reference
implementation) and saved with ``save_pretrained``.

Imported by the oracle tests, and run as a script by tests that need such a checkpoint but run in
the main suite, where the repository's ``kernels/`` shadows the PyPI package that ``transformers``
imports: ``python tests/oracle/hf_checkpoints.py FAMILY PATH [SEED]`` (see
``tiny_models.make_hf_checkpoint``).
"""

import sys
from pathlib import Path

import torch
import transformers as tf
from tiny_models import VOCAB, save_tokenizer

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


if __name__ == "__main__":
    make_checkpoint(sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 0)
