"""One request's state inside the engine."""

from __future__ import annotations

import enum
import time

import torch

from inference.detokenizer import IncrementalDetokenizer
from inference.sampling import SamplingParams


class Status(enum.Enum):
    WAITING = "waiting"
    RUNNING = "running"
    FINISHED = "finished"


class Sequence:
    def __init__(
        self,
        request_id: str,
        prompt_ids: list[int],
        params: SamplingParams,
        priority: int = 0,
        detokenizer: IncrementalDetokenizer | None = None,
        arrival: int = 0,
        cache_salt: str | None = None,
    ):
        self.request_id = request_id
        self.token_ids = list(prompt_ids)
        self.num_prompt_tokens = len(prompt_ids)
        self.params = params
        self.priority = priority
        self.arrival = (
            arrival  # engine-wide submission counter: ties in priority go first come first
        )
        self.detokenizer = detokenizer
        self.cache_salt = cache_salt  # prefix-cache tenant: blocks are shared only within one salt
        self.status = Status.WAITING
        self.num_computed_tokens = 0  # tokens whose K/V are in this sequence's cache blocks
        self.block_table: list[int] = []
        self.block_hashes: list[bytes] = []  # chained digests of the leading full blocks
        self.num_cached_tokens: int | None = (
            None  # prompt tokens found in the prefix cache, first admission
        )
        self.num_preemptions = 0
        self.accounted = False  # prompt counted in the engine's metrics
        self.finish_reason: str | None = None
        self.generator: torch.Generator | None = None
        if not params.greedy:
            self.generator = torch.Generator()
            self.generator.manual_seed(params.seed if params.seed is not None else torch.seed())
        self.submitted_at = time.perf_counter()
        self.first_token_at: float | None = None
        self.engine_seconds = 0.0
        self.shared_engine_seconds = 0.0

    @property
    def sort_key(self) -> tuple[int, int]:
        return (self.priority, self.arrival)

    @property
    def output_ids(self) -> list[int]:
        return self.token_ids[self.num_prompt_tokens :]

    @property
    def num_uncomputed(self) -> int:
        return len(self.token_ids) - self.num_computed_tokens

    def __repr__(self) -> str:
        return f"Sequence({self.request_id!r}, {self.status.value}, tokens={len(self.token_ids)}, computed={self.num_computed_tokens})"
