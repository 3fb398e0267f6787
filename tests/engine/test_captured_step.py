"""The captured step (every decoder layer in one C call, inference/models/captured_step.py) gives
the per-layer path's logits bit for bit, on tiny models covering every linear kind it takes and on
the real default model, for batches of prompt and decode tokens mixed, at 1 and 2 threads; models
it does not cover keep the per-layer path."""

import pytest
import torch
from tiny_models import SMOLLM2_GGUF, random_q8, random_weights, tiny_config

from inference import cpu_kernels, native
from inference.config import EngineConfig
from inference.context import ForwardContext
from inference.engine.model_runner import ModelRunner
from inference.loader import build_model, read_checkpoint

pytestmark = pytest.mark.skipif(
    cpu_kernels.ops() is not native, reason="the C kernels do not run here"
)

BLOCK, SEQ_BLOCKS = 16, 4
# per sequence: (tokens already in the cache, tokens this step); 1, 3 and 16 tokens in all
BATCHES = {
    1: [(37, 1)],
    3: [(20, 1), (0, 2)],
    16: [(5, 1), (40, 1), (0, 9), (17, 5)],
}


def _with_cache(model):
    ModelRunner(model, EngineConfig(block_size=BLOCK, kv_cache_bytes=_cache_bytes(model)))
    return model


def _cache_bytes(model) -> int:
    c = model.config
    return 2 * c.num_layers * BLOCK * c.num_kv_heads * c.head_dim * 4 * SEQ_BLOCKS * 4


def _context(spans: list[tuple[int, int]]) -> ForwardContext:
    """Sequence i (span i: start, count) holds blocks i * SEQ_BLOCKS ...; every token asks for
    logits."""
    pos = torch.tensor([p for start, n in spans for p in range(start, start + n)])
    seq = torch.tensor([i for i, (_, n) in enumerate(spans) for _ in range(n)], dtype=torch.int32)
    tables = torch.arange(4 * SEQ_BLOCKS, dtype=torch.int32).view(4, SEQ_BLOCKS)[: len(spans)]
    return ForwardContext(
        positions=pos,
        slot_mapping=tables[seq.long(), pos // BLOCK].long() * BLOCK + pos % BLOCK,
        block_tables=tables.contiguous(),
        token_seq=seq,
        token_ctx=(pos + 1).to(torch.int32),
        logits_indices=torch.arange(len(pos)),
    )


def _logits(model, spans: list[tuple[int, int]]) -> list[torch.Tensor]:
    """The cached tokens' step, then the batch's (token ids: a function of the position)."""
    out = []
    for step in ([(0, start) for start, _ in spans], spans):
        ctx = _context(step)
        ids = (ctx.positions * 7919 + ctx.token_seq.long() * 104729) % model.config.vocab_size
        out.append(model(ids, ctx))
    return out


def _per_layer(model, spans, monkeypatch) -> list[torch.Tensor]:
    with monkeypatch.context() as m:
        m.setattr(model, "captured_step", lambda: None)
        return _logits(model, spans)


def _mixed_kinds(config) -> dict:
    """Every kind the captured step takes: f32-scaled int4 (q, k, v, with biases), q8 (o_proj,
    down) and float32 (gate, up)."""
    w = random_weights(config)
    g = torch.Generator().manual_seed(1)
    for i in range(config.num_layers):
        p = f"model.layers.{i}."
        for n in ("q", "k", "v"):
            rows = w[f"{p}self_attn.{n}_proj.weight"].shape[0]
            w[f"{p}self_attn.{n}_proj.bias"] = torch.randn(rows, generator=g)
        for n, (rows, cols) in {"self_attn.o_proj": (64, 64), "mlp.down_proj": (64, 128)}.items():
            w[f"{p}{n}.weight"] = random_q8(rows, cols, seed=i)
        for n in ("gate", "up"):
            w[f"{p}mlp.{n}_proj.weight"] = torch.randn(128, 64, generator=g) * 0.2
    return w


@pytest.fixture(scope="module")
def models():
    config = tiny_config()
    real_config, real_weights, _ = read_checkpoint(SMOLLM2_GGUF)
    return {
        "tiny": _with_cache(build_model(config, random_weights(config), 128)),
        "tiny-mixed": _with_cache(build_model(config, _mixed_kinds(config), 128)),
        "smollm2": _with_cache(build_model(real_config, real_weights, 128)),
    }


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("tokens", sorted(BATCHES))
@pytest.mark.parametrize("name", ["tiny", "tiny-mixed", "smollm2"])
def test_captured_step_gives_the_per_layer_bits(models, name, tokens, threads, monkeypatch):
    model = models[name]
    assert model.captured_step() is not None
    native.set_num_threads(threads)
    try:
        captured = _logits(model, BATCHES[tokens])
        per_layer = _per_layer(model, BATCHES[tokens], monkeypatch)
    finally:
        native.set_num_threads(torch.get_num_threads())
    for a, b in zip(captured, per_layer, strict=True):
        assert torch.equal(a, b)


def _split_v(config) -> dict:
    """v_proj as q8 beside int4 q and k: a fused linear of two kinds."""
    w = random_weights(config)
    for i in range(config.num_layers):
        w[f"model.layers.{i}.self_attn.v_proj.weight"] = random_q8(32, 64, seed=i)
    return w


@pytest.mark.parametrize("case", ["exact", "two kinds in one linear", "no kv cache"])
def test_uncovered_models_keep_the_per_layer_path(case, monkeypatch):
    config = tiny_config()
    weights = _split_v(config) if case == "two kinds in one linear" else random_weights(config)
    model = build_model(config, weights, 128, exact=case == "exact")
    if case != "no kv cache":
        _with_cache(model)
        assert all(torch.isfinite(x).all() for x in _logits(model, BATCHES[3]))
    assert model.captured_step() is None
