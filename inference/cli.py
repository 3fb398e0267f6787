"""``python -m inference chat | generate | bench | gpu-bench``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from inference.sampling import SamplingParams

DEFAULT_MODEL = "smollm2-135m-instruct"


def _model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--model", default=DEFAULT_MODEL, help="model name or path (.gguf or HF directory)"
    )
    p.add_argument(
        "--group-size", type=int, default=32, help="int4 group size for float HF checkpoints"
    )
    p.add_argument(
        "--no-quantize", action="store_true", help="keep float HF checkpoints in float32"
    )
    p.add_argument(
        "--exact", action="store_true", help="float32 activations (slower; for verification)"
    )


def _load(args):
    import inference

    quantize = None if args.no_quantize else "int4"
    return inference.load(
        args.model, quantize=quantize, group_size=args.group_size, exact=args.exact
    )


def _sampling_args(p: argparse.ArgumentParser, max_tokens: int) -> None:
    _model_args(p)
    p.add_argument("--max-tokens", type=int, default=max_tokens)
    p.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (default)")
    p.add_argument("--top-k", type=int, default=0)
    p.add_argument("--top-p", type=float, default=1.0)
    p.add_argument("--repetition-penalty", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--stop", action="append", default=[], help="stop string (repeatable)")


def _params(args) -> SamplingParams:
    return SamplingParams(
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        repetition_penalty=args.repetition_penalty,
        seed=args.seed,
        max_tokens=args.max_tokens,
        stop=args.stop,
    )


def cmd_generate(args) -> None:
    from inference import cpu_kernels

    engine = _load(args)
    kernels = cpu_kernels.used_by(engine)
    stream = engine.submit([{"role": "user", "content": args.prompt}], _params(args))
    if args.json:
        text = "".join(stream)
        usage = stream.usage.as_dict()
        print(json.dumps({"text": text, "usage": usage, "cpu_kernels": kernels}))
    else:
        if kernels:
            print(f"[cpu kernels: {kernels}]", file=sys.stderr)
        for delta in stream:
            print(delta, end="", flush=True)
        print()
    engine.shutdown()


def cmd_chat(args) -> None:
    engine = _load(args)
    history: list[dict] = [{"role": "system", "content": args.system}] if args.system else []
    print(f"{engine.model_name} - empty line or /quit to leave, /reset to forget the conversation")
    while True:
        try:
            line = input("> ").strip()
        except (EOFError, KeyboardInterrupt):
            print()
            break
        if line in ("", "/quit"):
            break
        if line == "/reset":
            history = history[:1] if args.system else []
            continue
        history.append({"role": "user", "content": line})
        stream = engine.submit(history, _params(args))
        reply = []
        try:
            for delta in stream:
                reply.append(delta)
                print(delta, end="", flush=True)
        except KeyboardInterrupt:
            engine.abort(stream.request_id)
            reply.extend(stream)
        u = stream.usage
        print(
            f"\n[{u.completion_tokens} tokens, {u.cached_prompt_tokens}/{u.prompt_tokens} prompt tokens cached]"
        )
        history.append({"role": "assistant", "content": "".join(reply)})
    engine.shutdown()


def cmd_bench(args) -> None:
    from inference.bench import run_bench

    result = run_bench(args)
    if args.json:
        print(json.dumps(result))
    else:
        print(json.dumps(result, indent=2))


def cmd_gpu_bench(args) -> None:
    if args.smoke:
        os.environ.setdefault("TRITON_INTERPRET", "1")  # before kernels are imported
    from inference.gpu_bench import run

    result = run(args.smoke)
    text = json.dumps(result, indent=None if args.json else 2)
    if args.out:
        Path(args.out).write_text(text + "\n")
    print(text)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m inference", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", help="one reply to one user message")
    _sampling_args(gen, 256)
    gen.add_argument("--prompt", required=True)
    gen.add_argument(
        "--json",
        action="store_true",
        help='print one line {"text": ..., "usage": {...}, "cpu_kernels": ...}',
    )
    gen.set_defaults(func=cmd_generate)

    chat = sub.add_parser("chat", help="interactive chat")
    _sampling_args(chat, 512)
    chat.add_argument("--system", default="", help="system prompt")
    chat.set_defaults(func=cmd_chat)

    bench = sub.add_parser("bench", help="throughput and latency figures")
    _model_args(bench)
    bench.add_argument("--json", action="store_true", help="print one JSON line")
    bench.add_argument("--decode-tokens", type=int, default=128)
    bench.add_argument("--prompt-tokens", type=int, default=512)
    bench.add_argument("--concurrency", default="", help="comma-separated levels, e.g. 1,4,16,64")
    bench.add_argument(
        "--shared-prefix", type=int, default=1500, help="tokens of the shared system prompt"
    )
    bench.add_argument(
        "--reply-tokens", type=int, default=64, help="tokens per reply in the concurrency runs"
    )
    bench.add_argument(
        "--no-transformers", action="store_true", help="skip the transformers baseline"
    )
    bench.add_argument("--no-llama-cpp", action="store_true", help="skip the llama.cpp baseline")
    bench.add_argument(
        "--quality-group-size",
        type=int,
        default=0,
        help="also measure what on-load int4 quantization with this group size costs (1-2 min)",
    )
    bench.set_defaults(func=cmd_bench)

    gpu = sub.add_parser(
        "gpu-bench", help="engine decode tokens/s of a Qwen3-30B-A3B-shaped MoE on one GPU"
    )
    gpu.add_argument("--json", action="store_true", help="print one JSON line")
    gpu.add_argument("--smoke", action="store_true", help="tiny shape, CPU, Triton interpreter")
    gpu.add_argument("--out", default="", help="also write the JSON to this file")
    gpu.set_defaults(func=cmd_gpu_bench)

    args = parser.parse_args(argv)
    args.func(args)
    sys.stdout.flush()
