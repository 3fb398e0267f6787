"""The engine on the triton backend (``kernels.ops``, as on a GPU worker) run through Triton's
interpreter on the CPU in float32, against the same weights on the native C kernels in float32
(``exact``): prompt logits agree to float32 rounding and greedy decoding gives the same tokens.

The checkpoints are tiny random ones of the real families, quantized to int4 on load, so the
int4 GEMM, fused add+RMSNorm, RoPE+KV write (with Qwen3's q/k norms), paged decode attention,
SiLU-mul, top-k routing and the fused int4 MoE all run in the model."""

import pytest
import torch
from tiny_models import (
    PROMPT,
    byte_tokenizer,
    make_hf_checkpoint,
    our_greedy,
    random_weights,
    tiny_config,
)

import inference
from inference.config import EngineConfig
from inference.engine.cuda_graphs import batch_sizes
from inference.engine.model_runner import ModelRunner
from inference.formats.hf import load_hf
from inference.layers.backend import Backend
from inference.layers.moe import SparseMoE
from inference.loader import build_model

TRITON_F32 = Backend.select("cpu", "triton", "float32")
STEPS = 10


def with_cache(model):
    mc = model.config
    per_block = 2 * mc.num_layers * 16 * mc.num_kv_heads * mc.head_dim * 4
    ModelRunner(model, EngineConfig(block_size=16, kv_cache_bytes=per_block * 8))
    return model


def assert_same_decoding(native, kernel_path):
    native_logits, native_tokens = our_greedy(native, PROMPT, STEPS)
    kernel_logits, kernel_tokens = our_greedy(kernel_path, PROMPT, STEPS)
    torch.testing.assert_close(kernel_logits, native_logits, atol=2e-3, rtol=2e-3)
    assert kernel_tokens == native_tokens
    assert len(set(native_tokens)) > 1  # not two constant streams


@pytest.mark.parametrize("family", ["qwen3_moe", "qwen2_moe", "deepseek_v3"])
def test_moe_family_on_the_kernel_path_decodes_as_the_native_path(family, tmp_path):
    make_hf_checkpoint(family, tmp_path)
    config, weights, _ = load_hf(tmp_path)
    native = with_cache(build_model(config, weights, 128, exact=True))
    config, weights, _ = load_hf(tmp_path)
    kernel_path = with_cache(build_model(config, weights, 128, backend=TRITON_F32))
    moe = [layer.mlp for layer in kernel_path.layers if isinstance(layer.mlp, SparseMoE)]
    assert moe and all(m.fused is not None for m in moe)  # the fused int4 MoE kernel ran
    assert kernel_path.graph_safe()
    assert_same_decoding(native, kernel_path)


def test_dense_llama_with_q8_tied_embeddings_on_the_kernel_path():
    config = tiny_config(tie_word_embeddings=True, vocab_size=128)
    native = with_cache(build_model(config, random_weights(config, 3), 128, exact=True))
    kernel_path = with_cache(
        build_model(config, random_weights(config, 3), 128, backend=TRITON_F32)
    )
    assert kernel_path.lm_head.parts[0][1].weight is kernel_path.embed.table  # one copy, shared
    assert_same_decoding(native, kernel_path)


def test_engine_batches_on_the_kernel_path_through_the_padded_decode_step(tmp_path):
    """``inference.load`` with triton kernels and the CUDA-graph decode step (run eagerly on the
    CPU): two requests decoded in the same steps, padded to the captured batch sizes, each getting
    the tokens the native path gives it alone."""
    make_hf_checkpoint("qwen3_moe", tmp_path)
    engine = inference.load(
        str(tmp_path),
        autostart=False,
        kernels="triton",
        dtype="float32",
        cuda_graphs=True,
        max_num_seqs=3,
        kv_cache_bytes=1 << 20,
    )
    assert engine.runner.kv_cache.dtype == torch.float32
    prompts = [PROMPT, [9, 8, 7, 6, 5]]
    params = inference.SamplingParams(max_tokens=STEPS, ignore_eos=True)
    streams = [engine.submit_tokens(p, params) for p in prompts]
    while engine.step():
        pass
    assert engine.runner.graphs.prepared == [2]  # both decoded together, padded to 2
    config, weights, _ = load_hf(tmp_path)
    alone = with_cache(build_model(config, weights, 128, exact=True))
    for prompt, stream in zip(prompts, streams, strict=True):
        text = "".join(stream)
        assert stream.usage.completion_tokens == STEPS
        assert text == engine.tokenizer.decode(our_greedy(alone, prompt, STEPS)[1])


def test_padded_decode_step_matches_the_eager_one():
    """One sequence decoded in static steps of 4 rows (3 of padding) gets the eager path's tokens,
    and the padding rows write nothing into the KV cache."""
    config = tiny_config(vocab_size=128)

    def engine(graphs: bool) -> inference.LLMEngine:
        return inference.LLMEngine(
            build_model(config, random_weights(config, 5), 128, backend=TRITON_F32),
            byte_tokenizer(),
            EngineConfig(block_size=4, kv_cache_bytes=1 << 18, max_num_seqs=8, cuda_graphs=graphs),
            autostart=False,
        )

    padded, eager = engine(True), engine(False)
    assert eager.runner.graphs is None
    padded.runner.graphs.sizes = [4, 8]
    texts = []
    for e in (padded, eager):
        stream = e.submit_tokens([1, 2, 3, 4, 5], inference.SamplingParams(max_tokens=6))
        while e.step():
            pass
        texts.append("".join(stream))
    assert padded.runner.graphs.prepared == [4]
    assert texts[0] == texts[1]
    torch.testing.assert_close(padded.runner.kv_cache, eager.runner.kv_cache, atol=1e-5, rtol=1e-5)


def test_backend_selection_refuses_what_cannot_run(monkeypatch):
    with pytest.raises(ValueError, match="CPU in float32"):
        Backend.select("cpu", "native", "bfloat16")
    with pytest.raises(ValueError, match="kernels must be"):
        Backend.select("cpu", "cuda-magic")
    monkeypatch.delenv("TRITON_INTERPRET")
    with pytest.raises(ValueError, match="TRITON_INTERPRET"):
        Backend.select("cpu", "triton")
    assert Backend.select("cpu").kernels == "native"
    assert Backend.select("cuda").triton and Backend.select("cuda").dtype == torch.bfloat16


def test_batch_sizes_cover_every_batch_up_to_the_limit():
    assert batch_sizes(1) == [1]
    assert batch_sizes(64) == [1, 2, 4, 8, 16, 32, 48, 64]
    assert batch_sizes(20) == [1, 2, 4, 8, 16, 20]


def test_gpu_bench_runs_the_engine_end_to_end_at_the_smoke_shape():
    """``python -m inference gpu-bench --smoke``: the prepared GPU benchmark's code, on the CPU."""
    from inference.gpu_bench import run

    result = run(smoke=True, batches=(1, 4))
    assert result["cuda_graphs"] and result["dtype"] == "float32"
    one, four = result["batches"]
    assert one["tokens_per_s"] > 0 and 0 < one["frac_of_bound"] < 1
    # four sequences read more KV and reach more experts than one: a larger bound per step
    assert four["bound_tokens_per_s"] / 4 < one["bound_tokens_per_s"]
