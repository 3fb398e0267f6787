"""``python -m inference gpu-bench [--json] [--smoke]``: the engine decoding a Qwen3-30B-A3B-shaped
MoE on one GPU at batch 1, 16 and 64, against its bandwidth bound.

The model is built by the engine's own code (``MoEForCausalLM`` on the triton backend) from random
int4 weights of the real shapes (``kernels.bench_decode.QWEN3_30B_A3B``) and driven by the engine's
own steps (scheduler, CUDA-graph decode step, sampling), so the figure holds everything a worker
pays per token. ``python -m kernels.bench`` times the same layer shapes as one bare graph of
kernels; the gap between the two is the engine's own cost per step. The bound is the bytes a step
must read (every non-expert weight, the experts that ``batch`` tokens reach under uniform routing,
the KV cache) over 4.8 TB/s. ``--smoke`` runs the tiny shape on the CPU through the interpreter.
"""

from __future__ import annotations

import datetime
import time

import torch
from tokenizers import Tokenizer as HFTokenizer
from tokenizers import models

from inference.config import EngineConfig
from inference.engine.llm_engine import LLMEngine
from inference.int4 import Int4Weight
from inference.layers.backend import Backend
from inference.layers.moe import SparseMoE
from inference.loader import build_model
from inference.models.moe import MoEConfig
from inference.sampling import SamplingParams
from inference.tokenizer import Tokenizer


def _shapes():
    from kernels.bench_decode import QWEN3_30B_A3B, SMOKE_SHAPE

    return QWEN3_30B_A3B, SMOKE_SHAPE


def model_config(shape, max_positions: int) -> MoEConfig:
    return MoEConfig(
        architecture="qwen3_moe",
        vocab_size=shape.vocab,
        hidden_size=shape.hidden,
        intermediate_size=shape.moe_inter,
        num_layers=shape.layers,
        num_heads=shape.heads,
        num_kv_heads=shape.kv_heads,
        head_dim=shape.head_dim,
        rms_norm_eps=1e-6,
        rope_theta=1e6,
        max_position_embeddings=max_positions,
        num_experts=shape.experts,
        num_experts_per_tok=shape.top_k,
        norm_topk_prob=True,
        qk_norm="head",
        name="random Qwen3-30B-A3B-shaped MoE",
    )


def random_weights(shape, device: torch.device) -> dict:
    """Random int4 projections and experts (``bench_util.random_int4``: unit-scale activations at
    any depth), float norms, router and embeddings, under Hugging Face names."""
    from kernels.bench_util import random_int4

    def int4(n: int, k: int, lead: tuple[int, ...] = ()):
        p = random_int4(n, k, shape.group, device, lead)
        if lead:
            return [
                Int4Weight(*f, p.group_size) for f in zip(p.qweight, p.scales, p.mins, strict=True)
            ]
        return Int4Weight(p.qweight, p.scales, p.mins, p.group_size)

    def norm(n: int) -> torch.Tensor:
        return 1 + 0.1 * torch.randn(n, device=device)

    s, h, d = shape, shape.hidden, shape.head_dim
    weights = {
        "model.embed_tokens.weight": torch.randn(s.vocab, h, device=device),
        "model.norm.weight": norm(h),
        "lm_head.weight": int4(s.vocab, h),
    }
    for i in range(s.layers):
        p = f"model.layers.{i}."
        a, m = p + "self_attn.", p + "mlp."
        weights |= {
            p + "input_layernorm.weight": norm(h),
            p + "post_attention_layernorm.weight": norm(h),
            a + "q_proj.weight": int4(s.heads * d, h),
            a + "k_proj.weight": int4(s.kv_heads * d, h),
            a + "v_proj.weight": int4(s.kv_heads * d, h),
            a + "o_proj.weight": int4(h, s.heads * d),
            a + "q_norm.weight": norm(d),
            a + "k_norm.weight": norm(d),
            m + "gate.weight": torch.randn(s.experts, h, device=device) / h**0.5,
            m + "experts.gate_proj.weight": int4(s.moe_inter, h, (s.experts,)),
            m + "experts.up_proj.weight": int4(s.moe_inter, h, (s.experts,)),
            m + "experts.down_proj.weight": int4(h, s.moe_inter, (s.experts,)),
        }
    return weights


def numbered_tokenizer(vocab: int) -> Tokenizer:
    """Token ``i`` spells ``t{i}``: sampled ids of any random model decode."""
    backend = HFTokenizer(models.WordLevel({f"t{i}": i for i in range(vocab)}, unk_token="t0"))  # noqa: S106
    return Tokenizer(backend, None, eos_token_ids=[])


def step_bytes(model, batch: int, context: int) -> float:
    """Bytes one decode step reads: non-expert weights, the experts ``batch`` tokens reach under
    uniform routing, each sequence's KV cache."""
    c = model.config
    moe = [layer.mlp for layer in model.layers if isinstance(layer.mlp, SparseMoE)]
    expert_bytes = sum(w.nbytes() for m in moe for w in m.fused)
    reached = 1 - (1 - c.num_experts_per_tok / c.num_experts) ** batch
    kv = 2 * c.num_layers * c.num_kv_heads * c.head_dim * model.backend.dtype.itemsize
    return model.bytes_read_per_token() - expert_bytes * (1 - reached) + batch * context * kv


def decode_rate(engine: LLMEngine, batch: int, context: int, steps: int) -> dict:
    """Prefill ``batch`` random prompts of ``context`` tokens, warm up (captures the step's graph),
    then time ``steps`` decode steps of the whole batch."""
    vocab = engine.model.config.vocab_size
    params = SamplingParams(max_tokens=steps + 3, ignore_eos=True)
    streams = [
        engine.submit_tokens(torch.randint(0, vocab, (context,)).tolist(), params)
        for _ in range(batch)
    ]
    first_tokens = engine.generation_tokens_total + batch
    while engine.generation_tokens_total < first_tokens:  # every prompt prefilled
        engine.step()
    for _ in range(2):
        engine.step()
    if engine.model.backend.device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        engine.step()  # the sampled ids reach the host: each step ends synchronised
    seconds = (time.perf_counter() - start) / steps
    while engine.step():
        pass
    for stream in streams:
        for _ in stream:  # drained: its usage arrives with the end of the stream
            pass
        if stream.usage.completion_tokens != steps + 3:
            raise RuntimeError(f"a request stopped early: {stream.usage}")
    bound = step_bytes(engine.model, batch, context + 3) / 4.8e12
    return {
        "batch": batch,
        "ms_per_step": seconds * 1e3,
        "tokens_per_s": batch / seconds,
        "bound_tokens_per_s": batch / bound,
        "frac_of_bound": bound / seconds,
    }


def run(smoke: bool, batches: tuple[int, ...] = (1, 16, 64), context: int = 1024) -> dict:
    full, tiny = _shapes()
    shape = tiny if smoke else full
    device = torch.device("cpu" if smoke else "cuda")
    backend = Backend.select(str(device), "triton", "float32" if smoke else "bfloat16")
    context, steps = (16, 2) if smoke else (context, 32)
    torch.manual_seed(0)
    max_positions = context + 64
    built = time.perf_counter()
    model = build_model(
        model_config(shape, max_positions), random_weights(shape, device), max_positions,
        backend=backend,
    )  # fmt: skip
    built = time.perf_counter() - built
    block = model.config.num_kv_heads * model.config.head_dim * backend.dtype.itemsize
    kv_bytes = 2 * model.config.num_layers * block * max(batches) * max_positions
    engine = LLMEngine(
        model,
        numbered_tokenizer(shape.vocab),
        EngineConfig(
            kv_cache_bytes=kv_bytes,
            max_num_seqs=max(batches),
            max_num_batched_tokens=max(2048, context),
            max_model_len=max_positions,
            device=str(device),
            kernels="triton",
            dtype=str(backend.dtype).removeprefix("torch."),
            cuda_graphs=True,
        ),
        autostart=False,
    )
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "device": "cpu (Triton interpreter)" if smoke else torch.cuda.get_device_name(device),
        "model": model.config.name + (" (smoke shape)" if smoke else ""),
        "dtype": str(backend.dtype).removeprefix("torch."),
        "weight_bytes": model.weight_nbytes(),
        "build_seconds": built,
        "context": context,
        "cuda_graphs": engine.runner.graphs is not None,
        "batches": [decode_rate(engine, b, context, steps) for b in batches],
    }
