"""The serving core on a tiny random model: whatever the arrival order, batch mix, chunking,
preemptions (a tiny KV pool) and aborts, every request's greedy output is identical to running it
alone, and no KV block leaks."""

import functools

import torch
from hypothesis import HealthCheck, event, given, settings, target
from hypothesis import strategies as st
from tiny_models import tiny_engine

from inference.sampling import SamplingParams

SHARED = [
    72,
    101,
    108,
    108,
    111,
    32,
    116,
    104,
    101,
    114,
    101,
    44,
    32,
    115,
    116,
    111,
    114,
    101,
    33,
    10,
]
BLOCK_BYTES = 2 * 2 * 4 * 2 * 16 * 4  # K and V, 2 layers, 4 tokens, 2 kv heads of 16 floats


def record_logits(engine) -> dict:
    """Observe the runner: (request id, tokens so far) -> the logits row that chose the next token."""
    seen = {}
    run = engine.runner.run

    def recording_run(batch):
        logits, sampled = run(batch)
        for row, seq in zip(logits, sampled, strict=True):
            seen[(seq.request_id, len(seq.token_ids))] = row.clone()
        return logits, sampled

    engine.runner.run = recording_run
    return seen


@functools.cache
def _reference_engine():
    engine = tiny_engine(kv_cache_bytes=256 * BLOCK_BYTES)
    return engine, record_logits(engine)


@functools.cache
def alone(
    prompt: tuple[int, ...], max_tokens: int, ignore_eos: bool
) -> tuple[tuple[int, ...], str, tuple]:
    """Tokens, finish reason and per-token logits of the request run by itself."""
    engine, seen = _reference_engine()
    stream = engine.submit_tokens(
        list(prompt), SamplingParams(max_tokens=max_tokens, ignore_eos=ignore_eos)
    )
    while engine.step():
        pass
    list(stream)
    rid = stream.request_id
    logits = tuple(seen.pop((rid, len(prompt) + i)) for i in range(len(stream.token_ids)))
    return tuple(stream.token_ids), stream.usage.finish_reason, logits


def _drain(engine):
    while engine.step():
        engine.blocks.check(list(engine._live.values()))


request = st.fixed_dictionaries(
    {
        "prompt": st.one_of(
            st.lists(st.integers(0, 256), min_size=1, max_size=24),
            st.integers(1, len(SHARED)).flatmap(
                lambda n: st.lists(st.integers(0, 255), max_size=12).map(
                    lambda tail: SHARED[:n] + tail
                )
            ),
        ),
        "max_tokens": st.integers(1, 14),
        "ignore_eos": st.booleans(),
        "arrival": st.integers(0, 4),
        "priority": st.integers(0, 1),
        "abort_at": st.one_of(st.none(), st.integers(0, 12)),
    }
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    requests=st.lists(request, min_size=1, max_size=8),
    num_blocks=st.integers(12, 18),  # >= 48 tokens: the longest request (32 + 14) fits alone
    max_batched=st.integers(3, 48),
    max_seqs=st.integers(1, 6),
)
def test_outputs_equal_running_alone(requests, num_blocks, max_batched, max_seqs):
    engine = tiny_engine(
        kv_cache_bytes=num_blocks * BLOCK_BYTES,
        max_num_batched_tokens=max_batched,
        max_num_seqs=max_seqs,
    )
    seen = record_logits(engine)
    streams = {}
    step = 0
    while len(streams) < len(requests) or engine.has_work():
        for i, r in enumerate(requests):
            if r["arrival"] == step:
                params = SamplingParams(max_tokens=r["max_tokens"], ignore_eos=r["ignore_eos"])
                streams[i] = engine.submit_tokens(
                    r["prompt"], params, request_id=f"r{i}", priority=r["priority"]
                )
            if r["abort_at"] == step and i in streams:
                engine.abort(f"r{i}")
        engine.step()
        engine.blocks.check(list(engine._live.values()))
        step += 1
    for i, r in enumerate(requests):
        text = "".join(streams[i])
        usage = streams[i].usage
        tokens, reason, logits = alone(tuple(r["prompt"]), r["max_tokens"], r["ignore_eos"])
        for j in range(len(streams[i].token_ids)):  # bit for bit, not merely the same argmax
            assert torch.equal(seen[(f"r{i}", len(r["prompt"]) + j)], logits[j])
        if usage.finish_reason == "abort":
            assert tuple(streams[i].token_ids) == tokens[: len(streams[i].token_ids)]
        else:
            assert (tuple(streams[i].token_ids), usage.finish_reason) == (tokens, reason)
            assert text == engine.tokenizer.decode(list(tokens[: len(tokens) - (reason == "stop")]))
        assert usage.prompt_tokens == len(r["prompt"])
        assert usage.completion_tokens == len(streams[i].token_ids)
    engine.blocks.check([])
    assert engine.blocks.num_free == engine.blocks.num_blocks
    target(float(engine.scheduler.num_preemptions), label="preemptions")
    event(f"preempted: {engine.scheduler.num_preemptions > 0}")
    event(f"aborted: {any(s.usage.finish_reason == 'abort' for s in streams.values())}")
    event(f"prefix cache hit: {engine.cached_prompt_tokens_total > 0}")


def test_preemption_recomputes_the_same_tokens():
    engine = tiny_engine(kv_cache_bytes=16 * BLOCK_BYTES, max_num_batched_tokens=64)
    prompts = [SHARED[: 4 + 3 * i] + [i] for i in range(5)]
    streams = [
        engine.submit_tokens(p, SamplingParams(max_tokens=30, ignore_eos=True)) for p in prompts
    ]
    _drain(engine)
    assert engine.scheduler.num_preemptions > 0
    for p, s in zip(prompts, streams, strict=True):
        list(s)
        assert tuple(s.token_ids) == alone(tuple(p), 30, True)[0]


def test_abort_frees_blocks_within_one_step():
    engine = tiny_engine(kv_cache_bytes=64 * BLOCK_BYTES)
    stream = engine.submit_tokens(
        SHARED, SamplingParams(max_tokens=50, ignore_eos=True), request_id="x"
    )
    for _ in range(3):
        engine.step()
    assert engine.blocks.num_free < engine.blocks.num_blocks - len(engine.blocks.cached)
    engine.abort("x")
    engine.step()
    list(stream)
    assert stream.usage.finish_reason == "abort"
    engine.blocks.check([])
    assert not engine.has_work()


def test_shopper_request_preempts_background_work():
    engine = tiny_engine(kv_cache_bytes=64 * BLOCK_BYTES, max_num_seqs=1)
    done = []
    background = engine.submit_tokens(
        SHARED, SamplingParams(max_tokens=20, ignore_eos=True), priority=1
    )
    engine.step()
    engine.step()
    shopper = engine.submit_tokens(
        SHARED[:9], SamplingParams(max_tokens=5, ignore_eos=True), priority=0
    )
    while engine.has_work():
        engine.step()
        for name, s in (("background", background), ("shopper", shopper)):
            if name not in done and engine._streams.get(s.request_id) is None:
                done.append(name)
    assert done == ["shopper", "background"]
    list(background)
    assert tuple(background.token_ids) == alone(tuple(SHARED), 20, True)[0]
    assert engine.scheduler.num_preemptions == 1


def test_prefix_cache_reports_cached_tokens_and_keeps_outputs():
    engine = tiny_engine(kv_cache_bytes=64 * BLOCK_BYTES)
    first = engine.submit_tokens(SHARED + [1, 2], SamplingParams(max_tokens=3, ignore_eos=True))
    _drain(engine)
    second = engine.submit_tokens(SHARED + [3], SamplingParams(max_tokens=3, ignore_eos=True))
    _drain(engine)
    list(first), list(second)
    assert first.usage.cached_prompt_tokens == 0
    assert second.usage.cached_prompt_tokens == len(SHARED) // 4 * 4
    assert tuple(second.token_ids) == alone(tuple(SHARED + [3]), 3, True)[0]
    assert 'parley_engine_prefix_cache_hit_rate{model="tiny"}' in engine.metrics_text()


def test_background_thread_serves_concurrent_streams():
    engine = tiny_engine(kv_cache_bytes=64 * BLOCK_BYTES)
    engine.autostart = True
    prompts = [SHARED[:n] for n in (5, 9, 13)]
    streams = [
        engine.submit_tokens(p, SamplingParams(max_tokens=6, ignore_eos=True)) for p in prompts
    ]
    for p, s in zip(prompts, streams, strict=True):
        "".join(s)
        assert tuple(s.token_ids) == alone(tuple(p), 6, True)[0]
        assert 0 < s.usage.shared_engine_seconds <= s.usage.engine_seconds
    engine.shutdown()


def _metrics(engine) -> dict[str, float]:
    values = {}
    for line in engine.metrics_text().splitlines():
        if line.startswith("#"):
            assert line.startswith(("# HELP parley_engine_", "# TYPE parley_engine_"))
            continue
        name, value = line.rsplit(" ", 1)
        assert name.endswith('{model="tiny"}')
        values[name.split("{")[0]] = float(value)
    return values


def test_metrics_report_requests_blocks_and_throughput():
    engine = tiny_engine(kv_cache_bytes=64 * BLOCK_BYTES, max_num_seqs=1)
    streams = [
        engine.submit_tokens(SHARED, SamplingParams(max_tokens=8, ignore_eos=True))
        for _ in range(2)
    ]
    engine.step()
    m = _metrics(engine)
    assert m["parley_engine_requests_running"] == 1 and m["parley_engine_requests_waiting"] == 1
    assert m["parley_engine_kv_blocks_used"] == -(-len(SHARED) // 4)  # the prompt, in blocks of 4
    assert m["parley_engine_kv_blocks_used"] + m["parley_engine_kv_blocks_free"] == 64
    _drain(engine)
    for s in streams:
        list(s)
    m = _metrics(engine)
    assert m["parley_engine_requests_running"] == 0 and m["parley_engine_kv_blocks_used"] == 0
    assert m["parley_engine_generation_tokens_total"] == 16
    # the second prompt reuses every full block short of its last token
    assert m["parley_engine_prefix_cache_hit_rate"] == ((len(SHARED) - 1) // 4 * 4) / (
        2 * len(SHARED)
    )
    assert m["parley_engine_generation_tokens_per_second"] == 16 / 10
