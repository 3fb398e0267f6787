"""On the real default model (SmolLM2-135M-Instruct, Q4_1), the portable PyTorch kernels decode the
same greedy tokens as the C kernels, through the engine and through ``python -m inference``."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from inference import cpu_kernels

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        cpu_kernels.native_isa() is None,
        reason="comparing against the C kernels needs AVX-512 F/BW/VL + VNNI or AVX2 + FMA + F16C",
    ),
]
PROMPTS = [
    "Do you ship to Canada?",
    "What is your return policy for shoes?",
    "Can I change the delivery address of my order?",
]
# every prompt at once: prompts prefill in one step, then decode as one batch
GREEDY = """
import json, sys
import inference
from inference import cpu_kernels
from inference.sampling import SamplingParams

engine = inference.load("smollm2-135m-instruct", autostart=False)
streams = [
    engine.submit([{"role": "user", "content": p}], SamplingParams(max_tokens=24))
    for p in json.loads(sys.argv[1])
]
while engine.step():
    pass
print(json.dumps({"kernels": cpu_kernels.name(), "tokens": [s.token_ids for s in streams]}))
"""


def _run(args: list[str], kernels: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env={**os.environ, cpu_kernels.ENV: kernels},
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )


def test_portable_kernels_decode_the_native_greedy_tokens():
    runs = {
        k: json.loads(_run(["-c", GREEDY, json.dumps(PROMPTS)], k).stdout)
        for k in ("native", "portable")
    }
    assert runs["native"]["kernels"] == f"native ({cpu_kernels.native_isa()})"
    assert runs["portable"]["kernels"] == "portable (PyTorch)"
    native, portable = runs["native"]["tokens"], runs["portable"]["tokens"]
    assert [len(t) for t in native] == [24, 24, 24]
    assert portable == native


def test_cli_generate_prints_the_same_reply_and_names_the_kernels():
    args = ["-m", "inference", "generate", "--model", "smollm2-135m-instruct"]
    args += ["--prompt", "Do you ship to Canada?", "--max-tokens", "24"]
    replies = {k: json.loads(_run([*args, "--json"], k).stdout) for k in ("native", "portable")}
    assert replies["native"]["cpu_kernels"] == f"native ({cpu_kernels.native_isa()})"
    assert replies["portable"]["cpu_kernels"] == "portable (PyTorch)"
    assert replies["native"]["usage"]["completion_tokens"] == 24
    assert "Canada" in replies["native"]["text"]
    assert replies["portable"]["text"] == replies["native"]["text"]
    text_mode = _run([*args[:-1], "2"], "portable")
    assert "cpu kernels: portable (PyTorch)" in text_mode.stderr
    assert text_mode.stdout.strip()
