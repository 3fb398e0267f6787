"""The ``transformers`` decode and prompt rates of a model, as the peer ``inference bench`` compares
with, run as ``python -P -m inference.transformers_peer`` (request as JSON on stdin, figures as JSON
on stdout).

A child process of its own because recent ``transformers`` import the PyPI package ``kernels``, which
the repository's top-level ``kernels/`` (our Triton kernels) shadows whenever the checkout is first
on the import path, as it is under ``python -m inference``; ``-P`` and a neutral working directory
keep it off the path here.
"""

from __future__ import annotations

import json
import os
import sys
import time

import torch


def _rss_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def measure(path: str, prompt_ids: list[int], decode_tokens: int, prompt_tokens: list[int]) -> dict:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoConfig, AutoModelForCausalLM

    if path.endswith(".gguf"):
        from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint

        folder, name = os.path.split(path)
        config = AutoConfig.from_pretrained(folder, gguf_file=name)
        model = AutoModelForCausalLM.from_config(config)
        state = load_gguf_checkpoint(path, return_tensors=True, model_to_load=model)["tensors"]
        model.load_state_dict(state, strict=False)
    else:
        model = AutoModelForCausalLM.from_pretrained(path, torch_dtype=torch.float32)
    model.eval()
    ids = torch.tensor([prompt_ids])
    with torch.inference_mode():
        model.generate(ids, max_new_tokens=4, do_sample=False)
        t0 = time.perf_counter()
        model(ids)
        prefill_short = time.perf_counter() - t0
        t0 = time.perf_counter()
        model.generate(
            ids, max_new_tokens=decode_tokens, min_new_tokens=decode_tokens, do_sample=False
        )
        decode = (decode_tokens - 1) / (time.perf_counter() - t0 - prefill_short)
        long_ids = torch.tensor([prompt_tokens])
        t0 = time.perf_counter()
        model(long_ids)
        prompt = len(prompt_tokens) / (time.perf_counter() - t0)
    return {
        "decode_tok_s": round(decode, 1),
        "prompt_tok_s": round(prompt, 1),
        "weight_bytes": sum(p.numel() * p.element_size() for p in model.parameters()),
        "rss_bytes": _rss_bytes(),
    }


def main() -> None:
    request = json.loads(sys.stdin.read())
    torch.set_num_threads(request["threads"])
    figures = measure(
        request["path"], request["prompt_ids"], request["decode_tokens"], request["prompt_tokens"]
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
