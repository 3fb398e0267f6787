"""``python -m inference`` as a user runs it."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "inference", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    return result.stdout


def test_generate_json_prints_one_line_with_text_and_usage():
    out = _run(
        "generate",
        "--model",
        "smollm2-135m-instruct",
        "--prompt",
        "What is the capital of France?",
        "--max-tokens",
        "12",
        "--json",
    )
    lines = out.strip().splitlines()
    assert len(lines) == 1
    reply = json.loads(lines[0])
    assert "Paris" in reply["text"]
    usage = reply["usage"]
    assert usage["prompt_tokens"] > 20 and 0 < usage["completion_tokens"] <= 12
    assert usage["finish_reason"] in ("stop", "length")
    assert set(usage) >= {
        "cached_prompt_tokens",
        "engine_seconds",
        "shared_engine_seconds",
        "time_to_first_token",
    }


def test_bench_json_reports_decode_rate_and_bandwidth():
    out = _run(
        "bench",
        "--json",
        "--decode-tokens",
        "8",
        "--prompt-tokens",
        "48",
        "--no-transformers",
        "--no-llama-cpp",
    )
    result = json.loads(out.strip().splitlines()[-1])
    assert result["decode_tok_s_bs1"] > 0 and result["prompt_tok_s"] > 0
    engine = result["engine"]
    assert engine["weight_bytes"] < 120e6
    assert engine["achieved_bandwidth_gb_s"] == pytest.approx(
        engine["weight_bytes_read_per_token"] * engine["decode_tok_s"] / 1e9, rel=0.05
    )
    # The bound is measured in the same run: this machine's read rate over the weights' size.
    bound = result["bandwidth_bound"]
    assert bound["read_gb_s"] > 0
    assert bound["decode_tok_s_bs1"] == pytest.approx(
        bound["read_gb_s"] * 1e9 / engine["weight_bytes_read_per_token"], rel=0.01
    )
    assert result["decode_bs1_fraction_of_bound"] == pytest.approx(
        engine["decode_tok_s"] / bound["decode_tok_s_bs1"], rel=0.01
    )
