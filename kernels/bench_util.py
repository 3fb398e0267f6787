"""Timing and random real-shape weights for ``kernels.bench``.

On CUDA, a measured function is called on several copies of its inputs in turn, enough copies to
exceed the L2 cache several times over, so every call streams its weights from HBM as it would in a
model whose consecutive layers differ. Triton kernels are timed inside a CUDA graph (what the engine
replays: no launch overhead between them); references that synchronize with the host are timed
eagerly. Elapsed time comes from CUDA events. On the CPU (``--smoke``, interpreter) a wall clock
stands in and no copies are made.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import torch

from kernels.int4_gemm import PreparedInt4, prepare_int4

H200_BANDWIDTH = 4.8e12  # bytes/s
H200_BF16_FLOPS = 790e12  # dense bf16, measured


def copies_for(bytes_per_call: int, device: torch.device) -> int:
    """Input copies whose total is about 3x the L2 size (at most 16); one on the CPU."""
    if device.type != "cuda":
        return 1
    l2 = torch.cuda.get_device_properties(device).L2_cache_size
    return max(1, min(16, math.ceil(3 * l2 / max(bytes_per_call, 1))))


def time_calls(
    calls: list[Callable[[], object]], device: torch.device, graph: bool
) -> tuple[float, str]:
    """Mean seconds per call and how it was timed: ``graph``, ``eager`` or ``wall``."""
    for call in calls:  # compile, autotune caches, allocator warm-up
        call()
    if device.type != "cuda":
        start = time.perf_counter()
        for call in calls:
            call()
        return (time.perf_counter() - start) / len(calls), "wall"
    rounds = max(1, math.ceil(32 / len(calls))) if graph else 1

    def eager() -> None:
        for _ in range(rounds):
            for call in calls:
                call()

    run = eager
    if graph:
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            eager()
        torch.cuda.current_stream().wait_stream(side)
        cuda_graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(cuda_graph):
            eager()
        run = cuda_graph.replay
    run()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    run()
    end.record()
    end.synchronize()
    once = start.elapsed_time(end) / 1e3
    reps = max(1, min(50, math.ceil(0.05 / max(once, 1e-6))))
    start.record()
    for _ in range(reps):
        run()
    end.record()
    end.synchronize()
    return start.elapsed_time(end) / 1e3 / (
        reps * rounds * len(calls)
    ), "graph" if graph else "eager"


def random_int4(
    n: int, k: int, group: int, device: torch.device, lead: tuple[int, ...] = ()
) -> PreparedInt4:
    """Uniform codes with scales and minimums giving zero-mean weights of std ~ 1/sqrt(k).

    Activations then keep unit scale through any depth, so a random stack never overflows.
    """
    q = torch.randint(0, 256, (*lead, n, k // 2), dtype=torch.uint8, device=device)
    base = 1.0 / (4.6 * math.sqrt(k))  # 4.6: std of a code uniform on 0..15
    scales = (torch.rand(*lead, n, k // group, device=device) * 0.5 + 0.75) * base
    return prepare_int4(q, scales, -7.5 * scales, group)


def tensor_bytes(*tensors: torch.Tensor) -> int:
    return sum(t.numel() * t.element_size() for t in tensors)
