"""Per-kernel measurements for ``kernels.bench``: time, achieved bandwidth or TFLOP/s against the
H200's peak, and speedup over the module's PyTorch reference, at 7B-dense and Qwen3-30B-A3B shapes.

Decode-shaped cases are memory bound and report bandwidth; prefill GEMMs report TFLOP/s. Bytes
counted are the least a kernel must move (weights, inputs, outputs, KV read), so the fraction is a
fair efficiency figure. Each case is a ``Case``: a name, a builder of call lists, and its sizes.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import torch

from kernels.bench_util import (
    H200_BANDWIDTH,
    H200_BF16_FLOPS,
    copies_for,
    random_int4,
    tensor_bytes,
)
from kernels.fused_moe import fused_moe, fused_moe_reference
from kernels.int4_gemm import Int4Config, int4_gemm, int4_gemm_reference
from kernels.kv_cache import write_kv, write_kv_reference
from kernels.moe_routing import (
    moe_align_block_size,
    moe_align_block_size_reference,
    topk_routing,
    topk_routing_reference,
)
from kernels.paged_attention import paged_decode_attention, paged_decode_attention_reference
from kernels.rms_norm import rms_norm, rms_norm_reference
from kernels.rope_write_kv import rope_write_kv, rope_write_kv_reference
from kernels.rotary import rotary, rotary_reference
from kernels.silu_mul import silu_mul, silu_mul_reference


@dataclass
class Built:
    calls: list[Callable[[], object]]
    ref_calls: list[Callable[[], object]]
    nbytes: int
    flops: int = 0
    ref_graph: bool = True  # False: the reference synchronizes with the host
    extra: dict | None = None


@dataclass
class Case:
    kernel: str
    name: str
    build: Callable[[torch.device, torch.dtype], Built]


def _int4_case(m: int, n: int, k: int, group: int, dense_ref: bool = False):
    def build(device: torch.device, dtype: torch.dtype) -> Built:
        weight_bytes = random_int4(n, k, group, "meta").nbytes()
        copies = copies_for(weight_bytes, device)
        weights = [random_int4(n, k, group, device) for _ in range(copies)]
        x = torch.randn(m, k, device=device).to(dtype)
        extra = None
        if dense_ref:
            dense = [w.dequantize(dtype) for w in weights]
            extra = {"dense_calls": [functools.partial(torch.matmul, x, d.T) for d in dense]}
        return Built(
            [functools.partial(int4_gemm, x, w) for w in weights],
            [functools.partial(int4_gemm_reference, x, w) for w in weights],
            weight_bytes + tensor_bytes(x) + m * n * dtype.itemsize,
            2 * m * n * k,
            extra=extra,
        )

    return build


def _moe_case(tokens: int, experts: int, hidden: int, inter: int, top_k: int, group: int):
    def build(device: torch.device, dtype: torch.dtype) -> Built:
        x = torch.randn(tokens, hidden, device=device).to(dtype)
        logits = torch.randn(tokens, experts, device=device).to(dtype)
        used = topk_routing_reference(logits, top_k)[1].unique().numel()
        per_expert = random_int4(3 * inter, hidden, group, "meta").nbytes()
        nbytes = per_expert * used + 2 * tensor_bytes(x)
        layers = [
            (
                random_int4(2 * inter, hidden, group, device, lead=(experts,)),
                random_int4(hidden, inter, group, device, lead=(experts,)),
            )
            for _ in range(copies_for(nbytes, device))
        ]
        flops = 2 * tokens * top_k * 3 * inter * hidden
        return Built(
            [functools.partial(fused_moe, x, logits, *ws, top_k) for ws in layers],
            [functools.partial(fused_moe_reference, x, logits, *ws, top_k) for ws in layers],
            nbytes,
            flops,
            ref_graph=False,
            extra={"distinct_experts": used},
        )

    return build


def _rms_norm_case(tokens: int, hidden: int):
    def build(device: torch.device, dtype: torch.dtype) -> Built:
        x = torch.randn(tokens, hidden, device=device).to(dtype)
        res = torch.randn(tokens, hidden, device=device).to(dtype)
        w = torch.ones(hidden, device=device, dtype=dtype)
        return Built(
            [functools.partial(rms_norm, x, w, 1e-6, res)],
            [functools.partial(rms_norm_reference, x, w, 1e-6, res)],
            4 * tensor_bytes(x) + tensor_bytes(w),
        )

    return build


def _rotary_case(tokens: int, heads: int, kv_heads: int, head_dim: int):
    def build(device: torch.device, dtype: torch.dtype) -> Built:
        q = torch.randn(tokens, heads, head_dim, device=device).to(dtype)
        k = torch.randn(tokens, kv_heads, head_dim, device=device).to(dtype)
        angles = torch.rand(4096, head_dim // 2, device=device) * 6.3
        cos, sin = angles.cos(), angles.sin()  # a true rotation: repeated calls stay finite
        pos = torch.randint(0, 4096, (tokens,), device=device)
        return Built(
            [functools.partial(rotary, q, k, cos, sin, pos)],
            [functools.partial(rotary_reference, q, k, cos, sin, pos)],
            2 * tensor_bytes(q, k) + 2 * tokens * head_dim * 2,
        )

    return build


def _rope_write_kv_case(tokens: int, heads: int, kv_heads: int, head_dim: int):
    def build(device: torch.device, dtype: torch.dtype) -> Built:
        width = (heads + 2 * kv_heads) * head_dim
        qkv = torch.randn(tokens, width, device=device).to(dtype)
        angles = torch.rand(4096, head_dim // 2, device=device) * 6.3
        cos, sin = angles.cos(), angles.sin()  # a true rotation: repeated calls stay finite
        pos = torch.randint(0, 4096, (tokens,), device=device)
        blocks = -(-tokens // 16) + 1
        caches = [
            torch.zeros(blocks, 16, kv_heads, head_dim, device=device, dtype=dtype)
            for _ in range(2)
        ]
        slots = torch.randperm(blocks * 16, device=device)[:tokens]
        q_out = torch.empty(tokens, heads, head_dim, device=device, dtype=dtype)
        args = (qkv, heads, kv_heads, head_dim, pos, cos, sin, slots, *caches, q_out)
        return Built(
            [functools.partial(rope_write_kv, *args)],
            [functools.partial(rope_write_kv_reference, *args)],
            2 * tensor_bytes(qkv) + 2 * tokens * head_dim * 2,
            ref_graph=False,
        )

    return build


def _silu_case(tokens: int, inter: int):
    def build(device: torch.device, dtype: torch.dtype) -> Built:
        x = torch.randn(tokens, 2 * inter, device=device).to(dtype)
        return Built(
            [functools.partial(silu_mul, x)],
            [functools.partial(silu_mul_reference, x)],
            tensor_bytes(x) * 3 // 2,
        )

    return build


def _write_kv_case(tokens: int, kv_heads: int, head_dim: int, block_size: int = 16):
    def build(device: torch.device, dtype: torch.dtype) -> Built:
        blocks = -(-tokens // block_size) + 1
        cache = [
            torch.zeros(blocks, block_size, kv_heads, head_dim, device=device, dtype=dtype)
            for _ in range(2)
        ]
        k = torch.randn(tokens, kv_heads, head_dim, device=device).to(dtype)
        v = torch.randn_like(k)
        slots = torch.randperm(blocks * block_size, device=device)[:tokens]
        return Built(
            [functools.partial(write_kv, k, v, *cache, slots)],
            [functools.partial(write_kv_reference, k, v, *cache, slots)],
            4 * tensor_bytes(k),
            ref_graph=False,
        )

    return build


def _attention_case(batch: int, context: int, heads: int, kv_heads: int, head_dim: int):
    def build(device: torch.device, dtype: torch.dtype) -> Built:
        block_size = 16
        per_seq = -(-context // block_size)
        blocks = batch * per_seq
        tables = torch.randperm(blocks, device=device).to(torch.int32).view(batch, per_seq)
        lens = torch.full((batch,), context, device=device, dtype=torch.int32)
        q = torch.randn(batch, heads, head_dim, device=device).to(dtype)
        scale = head_dim**-0.5
        kv_read = 2 * batch * context * kv_heads * head_dim * dtype.itemsize
        shape = (blocks, block_size, kv_heads, head_dim)
        caches = [
            (
                torch.randn(shape, device=device).to(dtype),
                torch.randn(shape, device=device).to(dtype),
            )
            for _ in range(copies_for(kv_read, device))
        ]
        args = [(q, kc, vc, tables, lens, scale) for kc, vc in caches]
        return Built(
            [functools.partial(paged_decode_attention, *a) for a in args],
            [functools.partial(paged_decode_attention_reference, *a) for a in args],
            kv_read + 2 * tensor_bytes(q),
            4 * batch * heads * context * head_dim,
            ref_graph=False,
        )

    return build


def _routing_case(tokens: int, experts: int, top_k: int, block_size: int):
    def build(device: torch.device, dtype: torch.dtype) -> Built:
        logits = torch.randn(tokens, experts, device=device).to(dtype)

        def kernel():
            return moe_align_block_size(topk_routing(logits, top_k)[1], experts, block_size)

        def reference():
            ids = topk_routing_reference(logits, top_k)[1]
            return moe_align_block_size_reference(ids, experts, block_size)

        return Built([kernel], [reference], tensor_bytes(logits), ref_graph=False)

    return build


GATE_UP_14336 = (2 * 14336, 4096)
DOWN_14336 = (4096, 14336)
INT4_DECODE = {
    "7b.qkv": (6144, 4096),
    "7b.o": (4096, 4096),
    "7b.gate_up_11008": (2 * 11008, 4096),
    "7b.down_11008": (4096, 11008),
    "7b.gate_up_14336": GATE_UP_14336,
    "7b.down_14336": DOWN_14336,
    "moe.qkv": (5120, 2048),
    "moe.o": (2048, 4096),
    "moe.lm_head": (151936, 2048),
}


def real_cases() -> list[Case]:
    """Cases in priority order: the issue's targets first, in case the time budget runs out."""
    cases = [
        Case("int4_gemm", f"{name} m=1", _int4_case(1, n, k, 32))
        for name, (n, k) in INT4_DECODE.items()
    ]
    cases += [
        Case("fused_moe", f"moe tokens={t}", _moe_case(t, 128, 2048, 768, 8, 32))
        for t in (1, 16, 64, 2048)
    ]
    for m in (16, 64):
        for name, (n, k) in (("7b.gate_up_14336", GATE_UP_14336), ("7b.down_14336", DOWN_14336)):
            cases.append(Case("int4_gemm", f"{name} m={m}", _int4_case(m, n, k, 32)))
    for name, (n, k) in (
        ("7b.qkv", (6144, 4096)),
        ("7b.gate_up_14336", GATE_UP_14336),
        ("7b.down_14336", DOWN_14336),
    ):
        cases.append(
            Case("int4_gemm", f"{name} m=2048", _int4_case(2048, n, k, 32, dense_ref=True))
        )
    for model, heads, kv in (("7b", 32, 8), ("moe", 32, 4)):
        for batch, ctx in ((1, 1024), (16, 1024), (64, 1024), (1, 32768)):
            cases.append(
                Case(
                    "paged_attention",
                    f"{model} batch={batch} ctx={ctx}",
                    _attention_case(batch, ctx, heads, kv, 128),
                )
            )
    for t in (1, 64, 2048):
        cases.append(Case("rms_norm_residual", f"tokens={t} hidden=4096", _rms_norm_case(t, 4096)))
        cases.append(Case("rotary", f"tokens={t} 32/8 heads", _rotary_case(t, 32, 8, 128)))
        cases.append(
            Case("rope_write_kv", f"tokens={t} 32/4 heads", _rope_write_kv_case(t, 32, 4, 128))
        )
        cases.append(Case("silu_mul", f"tokens={t} inter=14336", _silu_case(t, 14336)))
        cases.append(
            Case("moe_routing", f"tokens={t} experts=128 top8", _routing_case(t, 128, 8, 16))
        )
    cases += [
        Case("write_kv", f"tokens={t} 8 kv heads", _write_kv_case(t, 8, 128)) for t in (64, 2048)
    ]
    return cases


def smoke_cases() -> list[Case]:
    """One tiny case per kernel, for the interpreter."""
    return [
        Case("int4_gemm", "m=1", _int4_case(1, 40, 64, 32)),
        Case("int4_gemm", "m=9", _int4_case(9, 24, 64, 32, dense_ref=True)),
        Case("fused_moe", "tokens=3", _moe_case(3, 6, 32, 32, 2, 16)),
        Case("paged_attention", "batch=2 ctx=40", _attention_case(2, 40, 4, 2, 16)),
        Case("rms_norm_residual", "tokens=2", _rms_norm_case(2, 48)),
        Case("rotary", "tokens=2", _rotary_case(2, 4, 2, 16)),
        Case("rope_write_kv", "tokens=2", _rope_write_kv_case(2, 4, 2, 16)),
        Case("silu_mul", "tokens=2", _silu_case(2, 24)),
        Case("moe_routing", "tokens=3", _routing_case(3, 6, 2, 4)),
        Case("write_kv", "tokens=3", _write_kv_case(3, 2, 16, 4)),
    ]


def measure(case: Case, device: torch.device, dtype: torch.dtype, timer) -> dict:
    built = case.build(device, dtype)
    seconds, timing = timer(built.calls, device, graph=True)
    ref_seconds, ref_timing = timer(built.ref_calls, device, graph=built.ref_graph)
    entry = {
        "kernel": case.kernel,
        "case": case.name,
        "us": seconds * 1e6,
        "timing": timing,
        "ref_us": ref_seconds * 1e6,
        "ref_timing": ref_timing,
        "speedup": ref_seconds / seconds,
        "GBps": built.nbytes / seconds / 1e9,
        "bw_frac": built.nbytes / seconds / H200_BANDWIDTH,
        "copies": len(built.calls),
    }
    if built.flops:
        entry["TFLOPs"] = built.flops / seconds / 1e12
        entry["flop_frac"] = built.flops / seconds / H200_BF16_FLOPS
    extra = built.extra or {}
    if "dense_calls" in extra:
        dense_seconds, _ = timer(extra.pop("dense_calls"), device, graph=True)
        entry["dense_bf16_us"] = dense_seconds * 1e6
    entry.update(extra)
    return entry


SWEEP_SHAPES = {
    "7b.o": (4096, 4096),
    "7b.gate_up_14336": GATE_UP_14336,
    "7b.down_14336": DOWN_14336,
}
SWEEP_CONFIGS = [
    Int4Config(1, bn, bk, split, 4)
    for bn in (8, 16, 32)
    for bk in (256, 512, 1024)
    for split in (1, 4)
] + [
    Int4Config(1, 16, 512, 1, 2),
    Int4Config(1, 32, 512, 1, 8),
    Int4Config(1, 4, 2048, 1, 4),
    Int4Config(1, 2, 4096, 1, 4),
    Int4Config(1, 8, 1024, 2, 4),
]
PREFILL_SWEEP = {
    "7b.down_14336 m=2048": (2048, *DOWN_14336),
    "7b.gate_up_14336 m=2048": (2048, *GATE_UP_14336),
}
PREFILL_CONFIGS = [
    Int4Config(128, 128, 64, 1, 8, 3),
    Int4Config(128, 128, 32, 1, 8, 4),
    Int4Config(128, 256, 64, 1, 8, 3),
    Int4Config(64, 128, 64, 1, 4, 4),
    Int4Config(128, 64, 64, 1, 4, 4),
    Int4Config(64, 256, 32, 1, 8, 4),
]


def sweep(device: torch.device, dtype: torch.dtype, timer, smoke: bool = False) -> list:
    """Batch-1 GEMV and prefill GEMM tile configurations, to tune the heuristics on hardware."""
    if smoke:
        plan = [
            ("tiny m=1", (1, 24, 64), SWEEP_CONFIGS[:2]),
            ("tiny m=20", (20, 24, 64), PREFILL_CONFIGS[-1:]),
        ]
    else:
        plan = [(f"{name} m=1", (1, n, k), SWEEP_CONFIGS) for name, (n, k) in SWEEP_SHAPES.items()]
        plan += [(name, shape, PREFILL_CONFIGS) for name, shape in PREFILL_SWEEP.items()]
    rows = []
    for name, (m, n, k), configs in plan:
        weight_bytes = random_int4(n, k, 32, "meta").nbytes()
        weights = [random_int4(n, k, 32, device) for _ in range(copies_for(weight_bytes, device))]
        x = torch.randn(m, k, device=device).to(dtype)
        for cfg in configs:
            calls = [functools.partial(int4_gemm, x, w, cfg) for w in weights]
            seconds, _ = timer(calls, device, graph=True)
            nbytes = weight_bytes + (m * k + m * n) * dtype.itemsize
            rows.append(
                {
                    "shape": name,
                    "config": cfg.__dict__,
                    "us": seconds * 1e6,
                    "bw_frac": nbytes / seconds / H200_BANDWIDTH,
                    "flop_frac": 2 * m * n * k / seconds / H200_BF16_FLOPS,
                }
            )
    return rows
