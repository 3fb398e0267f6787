"""Decode throughput of a Qwen3-30B-A3B-shaped MoE stack built only from ``kernels.ops``.

The stack is the minimal decode forward of the real layer shapes with random int4 weights: embedding,
per layer RMSNorm (fused residual), QKV projection, one kernel for Qwen3's per-head q/k RMSNorm,
rotary and the KV-cache write, paged decode attention, output projection, RMSNorm, router (dense), fused MoE; then final norm,
int4 LM head and greedy argmax. Each batch size's step is captured in its own CUDA graph and replayed.

Its bound is the bytes one step must read over peak bandwidth: attention and LM-head weights, the
experts the step's tokens actually route to (counted per layer from the router), the KV cache.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch

from kernels import ops
from kernels.bench_util import H200_BANDWIDTH, random_int4, tensor_bytes
from kernels.int4_gemm import PreparedInt4
from kernels.moe_routing import topk_routing_reference

EPS = 1e-6


@dataclass(frozen=True)
class MoEShape:
    hidden: int = 2048
    heads: int = 32
    kv_heads: int = 4
    head_dim: int = 128
    experts: int = 128
    top_k: int = 8
    moe_inter: int = 768
    layers: int = 48
    vocab: int = 151936
    group: int = 32
    block_size: int = 16


QWEN3_30B_A3B = MoEShape()
SMOKE_SHAPE = MoEShape(64, 4, 2, 16, 8, 2, 32, 2, 97, 16, 4)


@dataclass
class Layer:
    in_norm: torch.Tensor
    qkv: PreparedInt4
    q_norm: torch.Tensor
    k_norm: torch.Tensor
    o: PreparedInt4
    post_norm: torch.Tensor
    router: torch.Tensor
    w13: PreparedInt4
    w2: PreparedInt4
    k_cache: torch.Tensor
    v_cache: torch.Tensor


def layer_bytes(shape: MoEShape, dtype: torch.dtype, cache_blocks: int) -> int:
    """Device bytes of one layer: int4 weights at 4.5 bits (fp16 scale and min per group)."""
    s = shape
    weights = (
        (s.heads + 2 * s.kv_heads) * s.head_dim * s.hidden
        + s.hidden * s.heads * s.head_dim
        + s.experts * 3 * s.moe_inter * s.hidden
    )
    per_weight = 0.5 + 4 / s.group
    cache = 2 * cache_blocks * s.block_size * s.kv_heads * s.head_dim * dtype.itemsize
    return int(weights * per_weight) + s.experts * s.hidden * dtype.itemsize + cache


class MoEStack:
    def __init__(
        self,
        shape: MoEShape,
        layers: int,
        device: torch.device,
        dtype: torch.dtype,
        max_batch: int,
        context: int,
    ):
        s = self.shape = shape
        self.dtype = dtype
        self.context = context
        self.blocks_per_seq = math.ceil((context + 1) / s.block_size)
        blocks = max_batch * self.blocks_per_seq
        h, d = s.hidden, s.head_dim

        def norm(n: int) -> torch.Tensor:
            return (1 + 0.1 * torch.randn(n, device=device)).to(dtype)

        def cache() -> torch.Tensor:
            return torch.randn(blocks, s.block_size, s.kv_heads, d, device=device).to(dtype)

        self.layers = [
            Layer(
                norm(h),
                random_int4((s.heads + 2 * s.kv_heads) * d, h, s.group, device),
                norm(d),
                norm(d),
                random_int4(h, s.heads * d, s.group, device),
                norm(h),
                (torch.randn(s.experts, h, device=device) / math.sqrt(h)).to(dtype),
                random_int4(2 * s.moe_inter, h, s.group, device, lead=(s.experts,)),
                random_int4(h, s.moe_inter, s.group, device, lead=(s.experts,)),
                cache(),
                cache(),
            )
            for _ in range(layers)
        ]
        self.embed = torch.randn(s.vocab, h, device=device).to(dtype)
        self.final_norm = norm(h)
        self.lm_head = random_int4(s.vocab, h, s.group, device)
        inv_freq = 1e6 ** -(torch.arange(d // 2, device=device, dtype=torch.float32) / (d // 2))
        angles = torch.arange(context + 1, device=device, dtype=torch.float32)[:, None] * inv_freq
        self.cos, self.sin = angles.cos(), angles.sin()

    def inputs(self, batch: int) -> tuple[torch.Tensor, ...]:
        """Static step inputs: every sequence holds ``context`` tokens and decodes the next one."""
        device = self.embed.device
        tokens = torch.randint(0, self.shape.vocab, (batch,), device=device)
        positions = torch.full((batch,), self.context, device=device)
        tables = torch.arange(batch * self.blocks_per_seq, device=device, dtype=torch.int32)
        tables = tables.view(batch, self.blocks_per_seq)
        bs = self.shape.block_size
        slots = tables[:, self.context // bs].long() * bs + self.context % bs
        seq_lens = torch.full((batch,), self.context + 1, device=device, dtype=torch.int32)
        return tokens, positions, tables, seq_lens, slots

    def step(
        self,
        tokens: torch.Tensor,
        positions: torch.Tensor,
        block_tables: torch.Tensor,
        seq_lens: torch.Tensor,
        slots: torch.Tensor,
        force_triton: bool | None = None,
        routed: list[torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """One decode step; returns greedy next tokens. ``routed`` collects each layer's experts."""
        s, f = self.shape, force_triton
        batch, qd = tokens.shape[0], s.heads * s.head_dim
        h = self.embed[tokens]
        residual = torch.zeros_like(h)
        for layer in self.layers:
            x, residual = ops.rms_norm(h, layer.in_norm, EPS, residual, force_triton=f)
            qkv = ops.int4_linear(x, layer.qkv, force_triton=f)
            q = ops.rope_write_kv(
                qkv,
                s.heads,
                s.kv_heads,
                s.head_dim,
                positions,
                self.cos,
                self.sin,
                slots,
                layer.k_cache,
                layer.v_cache,
                torch.empty(batch, s.heads, s.head_dim, dtype=qkv.dtype, device=qkv.device),
                layer.q_norm,
                layer.k_norm,
                EPS,
                force_triton=f,
            )
            attn = ops.paged_decode_attention(
                q,
                layer.k_cache,
                layer.v_cache,
                block_tables,
                seq_lens,
                s.head_dim**-0.5,
                force_triton=f,
            )
            h = ops.int4_linear(attn.reshape(batch, qd), layer.o, force_triton=f)
            x, residual = ops.rms_norm(h, layer.post_norm, EPS, residual, force_triton=f)
            logits = x @ layer.router.T
            if routed is not None:
                routed.append(topk_routing_reference(logits, s.top_k)[1])
            h = ops.fused_moe(x, logits, layer.w13, layer.w2, s.top_k, force_triton=f)
        x, _ = ops.rms_norm(h, self.final_norm, EPS, residual, force_triton=f)
        return ops.int4_linear(x, self.lm_head, force_triton=f).argmax(-1)

    def step_bytes(self, batch: int, distinct_experts: list[int]) -> int:
        """Bytes one step reads at least: weights used, the KV cache, the embedding rows."""
        s = self.shape
        total = self.lm_head.nbytes() + batch * s.hidden * self.dtype.itemsize
        kv = 2 * batch * (self.context + 1) * s.kv_heads * s.head_dim * self.dtype.itemsize
        for layer, used in zip(self.layers, distinct_experts, strict=True):
            experts = (layer.w13.nbytes() + layer.w2.nbytes()) * used // s.experts
            dense = tensor_bytes(layer.router, layer.in_norm, layer.post_norm)
            total += layer.qkv.nbytes() + layer.o.nbytes() + dense + experts + kv
        return total


def measure_decode(
    shape: MoEShape,
    device: torch.device,
    dtype: torch.dtype,
    batches: tuple[int, ...],
    context: int,
) -> dict:
    """Tokens/s per batch size, against the bandwidth bound; fewer layers if memory is short."""
    blocks = max(batches) * math.ceil((context + 1) / shape.block_size)
    layers = shape.layers
    note = "all layers"
    if device.type == "cuda":
        free = torch.cuda.mem_get_info(device)[0]
        fit = int(0.7 * free) // layer_bytes(shape, dtype, blocks)
        if fit < layers:
            layers = max(1, fit)
            note = f"{layers} of {shape.layers} layers run; times scaled to {shape.layers}"
    stack = MoEStack(shape, layers, device, dtype, max(batches), context)
    scale = shape.layers / layers
    results = []
    for batch in batches:
        inputs = stack.inputs(batch)
        routed: list[torch.Tensor] = []
        stack.step(*inputs, routed=routed)
        distinct = [int(ids.unique().numel()) for ids in routed]
        seconds, timing = _time_step(stack, inputs, device)
        seconds *= scale
        bound = stack.step_bytes(batch, distinct) * scale / H200_BANDWIDTH
        results.append(
            {
                "batch": batch,
                "ms_per_step": seconds * 1e3,
                "tokens_per_s": batch / seconds,
                "bound_tokens_per_s": batch / bound,
                "frac_of_bound": bound / seconds,
                "bytes_per_step": int(stack.step_bytes(batch, distinct) * scale),
                "mean_distinct_experts": sum(distinct) / len(distinct),
                "timing": timing,
            }
        )
    return {
        "model": (
            "Qwen3-30B-A3B-shaped MoE" if shape == QWEN3_30B_A3B else "tiny MoE (smoke shape)"
        )
        + f", random int4 weights (group {shape.group}, fp16 scale/min)",
        "shape": shape.__dict__,
        "dtype": str(dtype).removeprefix("torch."),
        "context": context,
        "layers_note": note,
        "batches": results,
    }


def _time_step(stack: MoEStack, inputs: tuple[torch.Tensor, ...], device: torch.device):
    if device.type != "cuda":
        start = time.perf_counter()
        stack.step(*inputs)
        return time.perf_counter() - start, "wall"
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        stack.step(*inputs)
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        stack.step(*inputs)
    graph.replay()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    reps = 20
    start.record()
    for _ in range(reps):
        graph.replay()
    end.record()
    end.synchronize()
    return start.elapsed_time(end) / 1e3 / reps, "graph"
