"""The benchmark's code path, exercised at tiny shapes on the interpreter (``--smoke``)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from kernels import bench
from kernels.bench_decode import SMOKE_SHAPE, MoEStack


def test_smoke_run_reports_every_kernel_and_decode(capsys):
    assert bench.main(["--smoke", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["errors"] == [] and result["skipped"] == []
    kernels = {e["kernel"] for e in result["kernels"]}
    assert kernels == {
        "int4_gemm",
        "fused_moe",
        "paged_attention",
        "rms_norm_residual",
        "rotary",
        "rope_write_kv",
        "silu_mul",
        "moe_routing",
        "write_kv",
    }
    for entry in result["kernels"]:
        assert entry["us"] > 0 and entry["ref_us"] > 0 and entry["bw_frac"] > 0
    assert [b["batch"] for b in result["decode"]["batches"]] == [1, 3]
    assert all(b["tokens_per_s"] > 0 for b in result["decode"]["batches"])
    assert {row["shape"] for row in result["sweep"]} == {"tiny m=1", "tiny m=20"}
    assert all(t["met"] is None for t in result["targets"].values())


def test_decode_stack_kernels_match_references():
    """The whole decode step through Triton and through the references picks the same tokens."""
    stack = MoEStack(SMOKE_SHAPE, 2, torch.device("cpu"), torch.float32, 3, context=9)
    inputs = stack.inputs(3)
    routed: list[torch.Tensor] = []
    with_kernels = stack.step(*inputs, force_triton=True, routed=routed)
    with_references = stack.step(*inputs, force_triton=False)
    assert torch.equal(with_kernels, with_references)
    assert len(routed) == 2
    bytes_used = stack.step_bytes(3, [int(ids.unique().numel()) for ids in routed])
    assert stack.lm_head.nbytes() < bytes_used


def test_without_cuda_the_gpu_run_fails_clearly():
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    proc = subprocess.run(
        [sys.executable, "-m", "kernels.bench", "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=Path(__file__).parents[2],
        timeout=120,
    )
    assert proc.returncode == 2
    assert "needs a CUDA GPU" in json.loads(proc.stdout)["error"]
