"""Which tokens of which requests one step computes.

Each step has a token budget. Running requests go first, in priority order: a decoding request
needs one token, a request still in its prompt gets the next chunk of it. Then waiting requests
are admitted, in priority order, while the budget, the request limit and the free blocks allow.
When a running request needs a block and none is free, the lowest-priority, latest request is
preempted: its blocks are released (their full ones stay in the prefix cache) and it waits to be
recomputed. A waiting request also preempts running ones of lower priority that stand in its way.
"""

from __future__ import annotations

import bisect

from inference.config import EngineConfig
from inference.engine.block_manager import BlockManager
from inference.engine.sequence import Sequence, Status


class Scheduler:
    def __init__(self, config: EngineConfig, block_manager: BlockManager):
        self.max_num_seqs = config.max_num_seqs
        self.max_num_batched_tokens = config.max_num_batched_tokens
        self.blocks = block_manager
        self.waiting: list[Sequence] = []  # sorted by (priority, arrival)
        self.running: list[Sequence] = []  # sorted by (priority, arrival)
        self.num_preemptions = 0

    def add(self, seq: Sequence) -> None:
        seq.status = Status.WAITING
        bisect.insort(self.waiting, seq, key=lambda s: s.sort_key)

    def has_work(self) -> bool:
        return bool(self.waiting or self.running)

    def remove(self, seq: Sequence) -> None:
        """Take a finished or aborted request out, releasing its blocks."""
        if seq in self.running:
            self.running.remove(seq)
        elif seq in self.waiting:
            self.waiting.remove(seq)
        self.blocks.release(seq)
        seq.status = Status.FINISHED

    def _preempt(self, seq: Sequence) -> None:
        self.running.remove(seq)
        self.blocks.release(seq)
        seq.num_computed_tokens = 0
        seq.num_preemptions += 1
        self.num_preemptions += 1
        self.add(seq)

    def schedule(self) -> list[tuple[Sequence, int]]:
        """(sequence, tokens to compute) for this step; empty when there is nothing to do."""
        self._make_room_for_priority()
        budget = self.max_num_batched_tokens
        batch: list[tuple[Sequence, int]] = []
        for seq in list(self.running):
            if budget == 0:
                break
            if seq.status is not Status.RUNNING:  # preempted below, as a victim for an earlier one
                continue
            n = min(seq.num_uncomputed, budget)
            while not self.blocks.ensure_capacity(seq, seq.num_computed_tokens + n):
                victim = self.running[-1]
                self._preempt(victim)
                if victim is seq:
                    break
            if seq.status is Status.RUNNING:
                batch.append((seq, n))
                budget -= n
        while self.waiting and budget > 0 and len(self.running) < self.max_num_seqs:
            seq = self.waiting[0]
            if not self.blocks.allocate(seq):
                break
            self.waiting.pop(0)
            if seq.num_cached_tokens is None:
                seq.num_cached_tokens = seq.num_computed_tokens
            seq.status = Status.RUNNING
            bisect.insort(self.running, seq, key=lambda s: s.sort_key)
            n = min(seq.num_uncomputed, budget)
            batch.append((seq, n))
            budget -= n
        return batch

    def _make_room_for_priority(self) -> None:
        while self.waiting and self.running:
            head, worst = self.waiting[0], self.running[-1]
            if worst.priority <= head.priority:
                return
            if len(self.running) < self.max_num_seqs and self.blocks.can_allocate(head):
                return
            self._preempt(worst)
