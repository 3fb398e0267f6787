"""``python -m inference bench``: decode and prompt throughput, memory, bandwidth, concurrency.

Our engine is driven step by step in this thread (the same steps its background thread runs), so
timings are of engine work only. Baselines in the same run: ``transformers`` (float32, the GGUF
dequantized) and llama.cpp through ``llama-cpp-python`` when it is installed.
"""

from __future__ import annotations

import json
import subprocess  # noqa: S404 - the transformers peer runs in a child process
import sys
import tempfile
import time

import torch

import inference
from inference import cpu_kernels
from inference.loader import resolve
from inference.sampling import SamplingParams

_TOPICS = (
    "returns",
    "shipping",
    "warranty",
    "payment",
    "gift cards",
    "exchanges",
    "orders",
    "accounts",
)


def store_prompt(tokenizer, n_tokens: int, salt: str = "") -> str:
    """A synthetic store system prompt (persona, policies, articles) of about n_tokens tokens."""
    parts = [
        f"You are the customer-service assistant of Northwind Outfitters{salt}. Be brief and polite."
    ]
    i = 0
    while len(tokenizer.encode(" ".join(parts))) < n_tokens:
        topic = _TOPICS[i % len(_TOPICS)]
        parts.append(
            f"Policy {i + 1} on {topic}: customers may ask about {topic} within {14 + i % 30} days; "
            f"item category {i % 9} follows rule {chr(65 + i % 26)}, and staff escalate cases over {50 + 5 * i} dollars."
        )
        i += 1
    return " ".join(parts)


def _percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def _rss_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def read_bandwidth(nbytes: int, passes: int = 5) -> float:
    """This machine's streaming-read rate (bytes/s, best of ``passes``) over a buffer of ``nbytes``,
    read by all intra-op threads: what a decode step that reads every weight once cannot beat."""
    buf = torch.ones(max(nbytes // 4, 1), dtype=torch.float32)
    buf.sum()  # pages in
    best = 0.0
    for _ in range(passes):
        t0 = time.perf_counter()
        buf.sum()
        best = max(best, buf.numel() * 4 / (time.perf_counter() - t0))
    return best


def _run_until_done(engine) -> None:
    while engine.step():
        pass


def _decode_rate(engine, prompt_ids: list[int], n: int) -> float:
    engine.submit_tokens(prompt_ids, SamplingParams(max_tokens=n, ignore_eos=True))
    before = engine.generation_tokens_total
    while engine.generation_tokens_total == before:  # prefill, up to the first token
        engine.step()
    t0 = time.perf_counter()
    _run_until_done(engine)
    return (n - 1) / (time.perf_counter() - t0)


def _prefill_rate(engine, prompt_ids: list[int]) -> float:
    stream = engine.submit_tokens(prompt_ids, SamplingParams(max_tokens=1))
    t0 = time.perf_counter()
    _run_until_done(engine)
    list(stream)
    return len(prompt_ids) / (time.perf_counter() - t0)


def bench_engine(engine, decode_tokens: int, prompt_tokens: int) -> dict:
    tok = engine.tokenizer
    short = tok.encode_chat([{"role": "user", "content": "Tell me about your return policy."}])
    _decode_rate(engine, short, 8)  # warm-up
    decode = max(_decode_rate(engine, short, decode_tokens) for _ in range(2))
    prompt = max(
        _prefill_rate(
            engine, tok.encode(store_prompt(tok, prompt_tokens, salt=f" #{i}"))[:prompt_tokens]
        )
        for i in range(2)
    )
    per_token = engine.model.bytes_read_per_token()
    return {
        "decode_tok_s": round(decode, 1),
        "prompt_tok_s": round(prompt, 1),
        "weight_bytes": engine.model.weight_nbytes(),
        "weight_bytes_read_per_token": per_token,
        "achieved_bandwidth_gb_s": round(per_token * decode / 1e9, 2),
        "kv_cache_bytes": engine.runner.kv_cache_bytes,
        "rss_bytes": _rss_bytes(),
    }


def bench_concurrency(engine, levels: list[int], prefix_tokens: int, reply_tokens: int) -> dict:
    tok = engine.tokenizer
    system = store_prompt(tok, prefix_tokens)

    def messages(i: int, sys_text: str = system) -> list[dict]:
        return [
            {"role": "system", "content": sys_text},
            {
                "role": "user",
                "content": f"Hello, this is customer {i}. Where is my order number {1000 + i}?",
            },
        ]

    def one(msgs) -> float:
        stream = engine.submit(msgs, SamplingParams(max_tokens=1))
        _run_until_done(engine)
        list(stream)
        return stream.usage.time_to_first_token

    fresh = store_prompt(tok, prefix_tokens, salt=" (uncached run)")
    uncached = one(messages(0, fresh))
    cached = one(messages(1, fresh))
    one(messages(-1))  # puts the shared prefix in the cache
    rows = []
    for c in levels:
        streams = [
            engine.submit(messages(i), SamplingParams(max_tokens=reply_tokens, ignore_eos=True))
            for i in range(c)
        ]
        t0 = time.perf_counter()
        _run_until_done(engine)
        wall = time.perf_counter() - t0
        usages = [(list(s), s.usage)[1] for s in streams]
        ttfts = [u.time_to_first_token for u in usages]
        rows.append(
            {
                "concurrency": c,
                "aggregate_decode_tok_s": round(sum(u.completion_tokens for u in usages) / wall, 1),
                "ttft_p50_s": round(_percentile(ttfts, 0.5), 4),
                "ttft_p95_s": round(_percentile(ttfts, 0.95), 4),
                "prefix_hit_rate": round(
                    sum(u.cached_prompt_tokens for u in usages)
                    / sum(u.prompt_tokens for u in usages),
                    4,
                ),
                "wall_s": round(wall, 2),
            }
        )
    return {
        "concurrency": rows,
        "shared_prefix_tokens": len(tok.encode(system)),
        "ttft_uncached_prefix_s": round(uncached, 4),
        "ttft_cached_prefix_s": round(cached, 4),
        "ttft_cached_over_uncached": round(cached / uncached, 4),
    }


def bench_transformers(
    path: str, prompt_ids: list[int], decode_tokens: int, prompt_tokens: list[int]
) -> dict:
    """The ``transformers`` peer, measured in a child process (see ``inference.transformers_peer``)."""
    request = json.dumps(
        {
            "path": path,
            "prompt_ids": prompt_ids,
            "decode_tokens": decode_tokens,
            "prompt_tokens": prompt_tokens,
            "threads": torch.get_num_threads(),
        }
    )
    with tempfile.TemporaryDirectory() as cwd:
        done = subprocess.run(  # noqa: S603 - our own module, the running interpreter
            [sys.executable, "-P", "-m", "inference.transformers_peer"],
            input=request,
            capture_output=True,
            text=True,
            cwd=cwd,
        )
    if done.returncode:
        return {"skipped": f"transformers baseline failed: {done.stderr.strip()[-500:]}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def bench_llama_cpp(
    path: str, prompt_ids: list[int], decode_tokens: int, prompt_tokens: list[int]
) -> dict:
    from llama_cpp import Llama

    # n_batch=1: batched prompt evaluation crashed on these machines; prompt tok/s is per token.
    llm = Llama(
        model_path=path, n_ctx=4096, n_threads=torch.get_num_threads(), n_batch=1, verbose=False
    )
    times = []
    for i, _ in enumerate(llm.generate(prompt_ids, top_k=1, temp=0.0, reset=True)):
        times.append(time.perf_counter())
        if i + 1 == decode_tokens:
            break
    decode = (len(times) - 1) / (times[-1] - times[0])
    llm.reset()
    t0 = time.perf_counter()
    llm.eval(prompt_tokens)
    prompt = len(prompt_tokens) / (time.perf_counter() - t0)
    return {"decode_tok_s": round(decode, 1), "prompt_tok_s": round(prompt, 1), "n_batch": 1}


def run_bench(args) -> dict:
    path = resolve(args.model)
    t0 = time.perf_counter()
    engine = inference.load(
        args.model,
        autostart=False,
        exact=args.exact,
        quantize=None if args.no_quantize else "int4",
        group_size=args.group_size,
    )
    load_s = time.perf_counter() - t0
    tok = engine.tokenizer
    mine = bench_engine(engine, args.decode_tokens, args.prompt_tokens)
    result = {
        "model": engine.model_name,
        "cpu_kernels": cpu_kernels.used_by(engine),
        "threads": torch.get_num_threads(),
        "load_s": round(load_s, 2),
        "decode_tok_s_bs1": mine["decode_tok_s"],
        "prompt_tok_s": mine["prompt_tok_s"],
        "engine": mine,
    }
    per_token = mine["weight_bytes_read_per_token"]
    bound_tok_s = read_bandwidth(per_token) / per_token  # batch 1: every weight read per token
    result["bandwidth_bound"] = {
        "read_gb_s": round(bound_tok_s * per_token / 1e9, 2),
        "decode_tok_s_bs1": round(bound_tok_s, 1),
    }
    result["decode_bs1_fraction_of_bound"] = round(mine["decode_tok_s"] / bound_tok_s, 3)
    if args.concurrency:
        levels = [int(c) for c in args.concurrency.split(",") if c]
        result.update(bench_concurrency(engine, levels, args.shared_prefix, args.reply_tokens))
        for row in result["concurrency"]:  # c sequences share each step's weight reads
            row["fraction_of_bound"] = round(
                row["aggregate_decode_tok_s"] / (row["concurrency"] * bound_tok_s), 3
            )
    engine.shutdown()
    short = tok.encode_chat([{"role": "user", "content": "Tell me about your return policy."}])
    long_ids = tok.encode(store_prompt(tok, args.prompt_tokens, salt=" (baseline)"))[
        : args.prompt_tokens
    ]
    baselines = {}
    if not args.no_llama_cpp:
        try:
            import llama_cpp  # noqa: F401
        except ImportError:
            baselines["llama_cpp"] = {
                "skipped": "llama-cpp-python is not installed (pip install '.[llamacpp]')"
            }
        else:
            if path.endswith(".gguf"):
                baselines["llama_cpp"] = bench_llama_cpp(path, short, args.decode_tokens, long_ids)
    if not args.no_transformers:
        baselines["transformers"] = bench_transformers(
            path, short, min(args.decode_tokens, 64), long_ids
        )
    for figures in baselines.values():
        if "decode_tok_s" in figures:
            figures["ratio_decode_ours_over_theirs"] = round(
                mine["decode_tok_s"] / figures["decode_tok_s"], 2
            )
            figures["ratio_prompt_ours_over_theirs"] = round(
                mine["prompt_tok_s"] / figures["prompt_tok_s"], 2
            )
    result["baselines"] = baselines
    if args.quality_group_size:
        from inference.formats.quant_quality import measure

        result["int4_quality"] = measure(args.model, args.quality_group_size)
    if "decode_tok_s" in baselines.get("llama_cpp", {}):
        result["llama_cpp_decode_tok_s_bs1"] = baselines["llama_cpp"]["decode_tok_s"]
        # The same GGUF file: about the same bytes read per token.
        baselines["llama_cpp"]["decode_bs1_fraction_of_bound"] = round(
            baselines["llama_cpp"]["decode_tok_s"] / bound_tok_s, 3
        )
    return result
