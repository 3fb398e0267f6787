"""Decode steps replayed from CUDA graphs, one graph per padded batch size.

In a decode step every sequence computes one token and wants its logits. At small batches on a GPU
the hundreds of small kernel launches of one step cost as much as the work, so each padded batch
size's step is captured once, on first use, over static input buffers; a step copies its inputs
into those buffers and replays. Padding rows write no KV (slot -1), attend to one key of their
(zeroed) table row and their logits are dropped. The block-table width is fixed at the longest
context, so no kernel's launch shape changes between replays.

With ``capture=False`` (the CPU) the same padded static-buffer step runs eagerly: tests check the
padding and the buffer reuse that way.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from inference.context import ForwardContext


def batch_sizes(max_batch: int) -> list[int]:
    """1, 2, 4, 8, then every 16, up to ``max_batch`` (always included)."""
    sizes = [b for b in (1, 2, 4, 8) if b < max_batch] + list(range(16, max_batch, 16))
    return [*sizes, max_batch]


class DecodeGraphs:
    def __init__(self, model, max_batch: int, max_blocks: int, device: torch.device, capture: bool):
        self.model, self.max_blocks, self.capture = model, max_blocks, capture
        self.sizes = batch_sizes(max_batch)
        n = self.sizes[-1]
        i32 = dict(dtype=torch.int32, device=device)
        i64 = dict(dtype=torch.int64, device=device)
        self.ids = torch.zeros(n, **i64)
        self.positions = torch.zeros(n, **i64)
        self.slots = torch.full((n,), -1, **i64)
        self.tables = torch.zeros(n, max_blocks, **i32)
        self.ctx_lens = torch.ones(n, **i32)
        self.rows = torch.arange(n, **i32)
        self.logit_rows = torch.arange(n, **i64)
        self._steps: dict[int, Callable[[], torch.Tensor]] = {}
        self._pool = None

    @property
    def prepared(self) -> list[int]:
        """Padded batch sizes whose step has been captured (or, on the CPU, set up)."""
        return sorted(self._steps)

    def fits(self, batch: int, width: int) -> bool:
        return batch <= self.sizes[-1] and width <= self.max_blocks

    def run(
        self,
        ids: torch.Tensor,
        positions: torch.Tensor,
        slots: torch.Tensor,
        tables: torch.Tensor,
        ctx_lens: torch.Tensor,
    ) -> torch.Tensor:
        """Logits [batch, vocab] of one decode step (host tensors in, device tensor out)."""
        b, width = tables.shape
        size = next(s for s in self.sizes if s >= b)
        self.ids[:b].copy_(ids, non_blocking=True)
        self.positions[:b].copy_(positions, non_blocking=True)
        self.slots[:b].copy_(slots, non_blocking=True)
        self.ctx_lens[:b].copy_(ctx_lens, non_blocking=True)
        self.tables[:b, :width].copy_(tables, non_blocking=True)
        # rows a larger step used before: back to padding
        self.slots[b:size].fill_(-1)
        self.ctx_lens[b:size].fill_(1)
        self.tables[b:size].zero_()
        step = self._steps.get(size) or self._prepare(size)
        return step()[:b]

    def _prepare(self, size: int) -> Callable[[], torch.Tensor]:
        ids = self.ids[:size]
        ctx = ForwardContext(
            positions=self.positions[:size],
            slot_mapping=self.slots[:size],
            block_tables=self.tables[:size],
            token_seq=self.rows[:size],
            token_ctx=self.ctx_lens[:size],
            logits_indices=self.logit_rows[:size],
        )
        if not self.capture:
            step = lambda: self.model(ids, ctx)  # noqa: E731
        else:
            self.model(ids, ctx)  # warm-up: Triton compiles its kernels outside the capture
            torch.cuda.synchronize()
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph, pool=self._pool):
                logits = self.model(ids, ctx)
            self._pool = graph.pool()

            def step() -> torch.Tensor:
                graph.replay()
                return logits

        self._steps[size] = step
        return step
