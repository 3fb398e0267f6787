"""What a caller holds for one request: an iterator of text deltas, then the request's usage."""

from __future__ import annotations

import queue
from dataclasses import asdict, dataclass


@dataclass
class Usage:
    model: str
    prompt_tokens: int
    cached_prompt_tokens: int
    completion_tokens: int
    engine_seconds: float  # wall time of the engine steps this request was part of
    shared_engine_seconds: float  # sum over those steps of step time / requests in the step
    time_to_first_token: float | None  # seconds from submit to the first generated token
    finish_reason: str  # "stop" | "length" | "abort"

    def as_dict(self) -> dict:
        return asdict(self)


_END = object()


class RequestStream:
    """Iterate for ``str`` deltas (blocking); ``usage`` is set once the iteration has ended."""

    def __init__(self, request_id: str):
        self.request_id = request_id
        self.usage: Usage | None = None
        self.token_ids: list[int] = []  # the generated token ids, set when the request ends
        self._queue: queue.SimpleQueue = queue.SimpleQueue()

    def _put(self, delta: str) -> None:
        if delta:
            self._queue.put(delta)

    def _finish(self, usage: Usage, token_ids: list[int]) -> None:
        self._usage_pending = usage
        self.token_ids = token_ids
        self._queue.put(_END)

    def __iter__(self):
        return self

    def __next__(self) -> str:
        if self.usage is not None:
            raise StopIteration
        item = self._queue.get()
        if item is _END:
            self.usage = self._usage_pending
            raise StopIteration
        return item
