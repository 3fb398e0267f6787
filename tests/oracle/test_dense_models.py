"""Tiny random Llama and Qwen2 (biased q/k/v) checkpoints, ``transformers`` as the oracle: logits
within float32 tolerance and 32 greedy tokens identical, through our engine."""

import pytest
import torch
from tiny_models import byte_tokenizer, hf_to_ours
from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

from inference import native
from inference.config import EngineConfig
from inference.context import ForwardContext
from inference.engine.llm_engine import LLMEngine
from inference.formats.int4_quantize import quantize_int4
from inference.sampling import SamplingParams

COMMON = dict(
    vocab_size=258,
    hidden_size=64,
    intermediate_size=160,
    num_hidden_layers=3,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=256,
    bos_token_id=None,
    eos_token_id=257,
    pad_token_id=None,
    initializer_range=0.25,
)
FAMILIES = {
    "llama": lambda tie: LlamaForCausalLM(
        LlamaConfig(**COMMON, tie_word_embeddings=tie, rope_theta=10000.0)
    ),
    "qwen2": lambda tie: Qwen2ForCausalLM(
        Qwen2Config(**COMMON, tie_word_embeddings=tie, rope_theta=1000000.0)
    ),
}


def _hf_model(family: str, tie: bool, int4: bool):
    torch.manual_seed(0)
    model = FAMILIES[family](tie).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias"):
                p.normal_(0, 0.5)  # make the q/k/v biases matter
            elif int4 and name.endswith("proj.weight"):
                p.copy_(quantize_int4(p.data, 32).dequantize())
    return model


def _ours(hf, family: str, int4: bool):
    model = hf_to_ours(hf, family)
    if int4:  # same weights, held as int4 (they are exactly representable after the round trip)
        weights = {k: v.detach().clone().float() for k, v in hf.state_dict().items()}
        for k in list(weights):
            if k.endswith("proj.weight"):
                weights[k] = quantize_int4(weights[k], 32)
        if hf.config.tie_word_embeddings:
            weights.pop("lm_head.weight", None)
        # float32 activations: the int8 ones (the default) are checked against their own reference
        model = type(model).from_weights(
            model.config, weights, hf.config.max_position_embeddings, exact=True
        )
    return model


CASES = [
    ("llama", False, False),
    ("llama", True, True),
    ("qwen2", False, True),
    ("qwen2", True, False),
]


@pytest.mark.parametrize("family,tie,int4", CASES)
def test_prefill_logits_match_transformers(family, tie, int4):
    hf = _hf_model(family, tie, int4)
    ours = _ours(hf, family, int4)
    ids = torch.randint(0, 256, (40,), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        ref = hf(ids[None]).logits[0]
    n = ids.shape[0]
    for attn in ours.attention_layers():
        k_shape, v_shape = native.kv_cache_shapes(3, 16, 2, 16)
        attn.k_cache, attn.v_cache = torch.zeros(k_shape), torch.zeros(v_shape)
    ctx = ForwardContext(
        positions=torch.arange(n),
        slot_mapping=torch.arange(n),
        block_tables=torch.tensor([[2, 0, 1]], dtype=torch.int32),
        token_seq=torch.zeros(n, dtype=torch.int32),
        token_ctx=torch.arange(1, n + 1, dtype=torch.int32),
        logits_indices=torch.arange(n),
    )
    ctx.slot_mapping = torch.tensor([[2, 0, 1][p // 16] * 16 + p % 16 for p in range(n)])
    logits = ours(ids, ctx)
    torch.testing.assert_close(logits, ref, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("family,tie,int4", CASES)
def test_32_greedy_tokens_match_transformers(family, tie, int4):
    hf = _hf_model(family, tie, int4)
    engine = LLMEngine(
        _ours(hf, family, int4),
        byte_tokenizer(),
        EngineConfig(block_size=8, kv_cache_bytes=2**20),
        autostart=False,
    )
    prompt = torch.randint(0, 256, (21,), generator=torch.Generator().manual_seed(5)).tolist()
    hf.generation_config.eos_token_id = None  # run the full 32 tokens, as ignore_eos does
    with torch.no_grad():
        ref = hf.generate(torch.tensor([prompt]), max_new_tokens=32, do_sample=False)
    stream = engine.submit_tokens(prompt, SamplingParams(max_tokens=32, ignore_eos=True))
    while engine.step():
        pass
    list(stream)
    assert stream.token_ids == ref[0, len(prompt) :].tolist()
    assert len(set(stream.token_ids)) > 1  # a real continuation, not one token repeated
