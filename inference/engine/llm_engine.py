"""The engine: a request queue served by one step loop in a background thread.

Callers (any thread) ``submit`` chat messages and read a ``RequestStream``; the loop admits new
requests, runs one batched forward pass per step over every running request, samples, streams
text and retires finished requests. ``step()`` can also be driven by hand (tests, benchmarks)
when the engine is built with ``autostart=False`` and never started.
"""

from __future__ import annotations

import gc
import itertools
import logging
import threading
import time
import uuid
from collections import deque

import torch

from inference import cpu_kernels, native
from inference.config import EngineConfig
from inference.detokenizer import IncrementalDetokenizer
from inference.engine.block_manager import BlockManager
from inference.engine.model_runner import ModelRunner
from inference.engine.scheduler import Scheduler
from inference.engine.sequence import Sequence
from inference.engine.stream import RequestStream, Usage
from inference.sampling import SamplingParams, sample
from inference.tokenizer import Tokenizer

_RATE_WINDOW_S = 10.0
log = logging.getLogger(__name__)


class LLMEngine:
    def __init__(
        self,
        model,
        tokenizer: Tokenizer,
        config: EngineConfig | None = None,
        model_name: str = "",
        autostart=True,
    ):
        self.config = config or EngineConfig()
        threads = self.config.num_threads or torch.get_num_threads()
        torch.set_num_threads(threads)
        # On the C kernels torch does only small bookkeeping in a step; its OpenMP workers, once
        # woken, spin for about a millisecond and take cores from the kernels' own thread pool.
        self._serial_torch = False
        if not model.backend.triton:
            cpu_kernels.ops().set_num_threads(threads)  # picks the CPU kernels
            self._serial_torch = cpu_kernels.ops() is native
        self.model = model
        self.tokenizer = tokenizer
        self.model_name = model_name or model.config.name
        self.runner = ModelRunner(model, self.config)
        self.blocks = BlockManager(self.runner.num_blocks, self.config.block_size)
        self.scheduler = Scheduler(self.config, self.blocks)
        model_len = self.config.max_model_len or model.config.max_position_embeddings
        self.max_context = min(model_len, self.runner.num_blocks * self.config.block_size)
        self.eos_token_ids = set(model.config.eos_token_ids or tokenizer.eos_token_ids)
        self.autostart = autostart
        self._arrivals = itertools.count()
        self._lock = threading.Condition()
        self._inbox: list[tuple[Sequence, RequestStream]] = []
        self._aborts: set[str] = set()
        self._streams: dict[str, RequestStream] = {}
        self._live: dict[str, Sequence] = {}
        self._thread: threading.Thread | None = None
        self._stopping = False
        # metrics
        self.prompt_tokens_total = 0
        self.cached_prompt_tokens_total = 0
        self.generation_tokens_total = 0
        self.requests_finished_total = 0
        self.steps_total = 0
        self._recent: deque[tuple[float, int]] = deque()
        # The model and tokenizer are long-lived: keep the cyclic GC from re-scanning them each step.
        gc.collect()
        gc.freeze()

    # -- public API ---------------------------------------------------------------------------
    def count_tokens(self, messages: list[dict]) -> int:
        return len(self.tokenizer.encode_chat(messages))

    def submit(
        self,
        messages: list[dict],
        params: SamplingParams | None = None,
        request_id: str | None = None,
        priority: int = 0,
        cache_salt: str | None = None,
    ) -> RequestStream:
        return self.submit_tokens(
            self.tokenizer.encode_chat(messages), params, request_id, priority, cache_salt
        )

    def submit_tokens(
        self,
        prompt_ids: list[int],
        params: SamplingParams | None = None,
        request_id: str | None = None,
        priority: int = 0,
        cache_salt: str | None = None,
    ) -> RequestStream:
        """Like ``submit`` for an already tokenized prompt. Requests share prefix-cache blocks only
        with requests of the same ``cache_salt`` (one per tenant)."""
        params = params or SamplingParams()
        if not prompt_ids:
            raise ValueError("empty prompt")
        if len(prompt_ids) >= self.max_context:
            raise ValueError(
                f"prompt of {len(prompt_ids)} tokens does not fit the context of {self.max_context}"
            )
        request_id = request_id or uuid.uuid4().hex
        stream = RequestStream(request_id)
        detok = IncrementalDetokenizer(self.tokenizer, params.stop)
        with self._lock:
            if request_id in self._streams:
                raise ValueError(f"request id {request_id!r} is already in use")
            seq = Sequence(
                request_id, prompt_ids, params, priority, detok, next(self._arrivals), cache_salt
            )
            self._streams[request_id] = stream
            self._inbox.append((seq, stream))
            self._lock.notify()
        if self.autostart:
            self.start()
        return stream

    def abort(self, request_id: str) -> None:
        with self._lock:
            if request_id in self._streams:
                self._aborts.add(request_id)
                self._lock.notify()

    def generate(
        self, messages: list[dict], params: SamplingParams | None = None
    ) -> tuple[str, Usage]:
        stream = self.submit(messages, params)
        if self._thread is None:
            self.start()
        text = "".join(stream)
        return text, stream.usage

    def start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._stopping = False
            self._thread = threading.Thread(target=self._loop, name="llm-engine", daemon=True)
            self._thread.start()

    def shutdown(self) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
            self._stopping = True
            self._lock.notify()
        if thread is not None:
            thread.join()

    def has_work(self) -> bool:
        with self._lock:
            return bool(self._inbox or self._aborts) or self.scheduler.has_work()

    # -- the step loop ------------------------------------------------------------------------
    def _loop(self) -> None:
        while True:
            with self._lock:
                while not (
                    self._stopping or self._inbox or self._aborts or self.scheduler.has_work()
                ):
                    self._lock.wait()
                if self._stopping:
                    return
            self.step()

    def _drain_inbox(self) -> None:
        with self._lock:
            inbox, self._inbox = self._inbox, []
            aborts, self._aborts = self._aborts, set()
        for seq, _ in inbox:
            self._live[seq.request_id] = seq
            self.scheduler.add(seq)
        for request_id in aborts:
            seq = self._live.get(request_id)
            if seq is not None:
                self._finish(seq, "abort")

    @torch.inference_mode()
    def step(self) -> bool:
        """Run one engine step; False when there was nothing to do."""
        self._drain_inbox()
        batch = self.scheduler.schedule()
        if not batch:
            return False
        t0 = time.perf_counter()
        threads = torch.get_num_threads()
        if self._serial_torch:
            torch.set_num_threads(1)
        try:
            logits, sampled = self.runner.run(batch)
            tokens = sample(logits, sampled) if sampled else []
        finally:
            torch.set_num_threads(threads)
        now = time.perf_counter()
        elapsed = now - t0
        self.steps_total += 1
        for seq, n in batch:
            if not seq.accounted:
                seq.accounted = True
                self.prompt_tokens_total += seq.num_prompt_tokens
                self.cached_prompt_tokens_total += seq.num_cached_tokens or 0
            seq.num_computed_tokens += n
            seq.engine_seconds += elapsed
            seq.shared_engine_seconds += elapsed / len(batch)
            self.blocks.register(seq)
        for seq, token in zip(sampled, tokens, strict=True):
            self._append_token(seq, token, now)
        self.generation_tokens_total += len(tokens)
        self._recent.append((now, len(tokens)))
        while self._recent and self._recent[0][0] < now - _RATE_WINDOW_S:
            self._recent.popleft()
        return True

    def _append_token(self, seq: Sequence, token: int, now: float) -> None:
        if seq.first_token_at is None:
            seq.first_token_at = now
        seq.token_ids.append(token)
        stream = self._streams[seq.request_id]
        if token in self.eos_token_ids and not seq.params.ignore_eos:
            self._finish(seq, "stop")
            return
        stream._put(seq.detokenizer.add(token))
        if seq.detokenizer.stopped:
            self._finish(seq, "stop")
        elif len(seq.output_ids) >= seq.params.max_tokens or len(seq.token_ids) >= self.max_context:
            self._finish(seq, "length")

    def _finish(self, seq: Sequence, reason: str) -> None:
        self.scheduler.remove(seq)
        seq.finish_reason = reason
        stream = self._streams.pop(seq.request_id)
        self._live.pop(seq.request_id, None)
        if reason != "abort":
            stream._put(seq.detokenizer.flush())
        self.requests_finished_total += 1
        stream._finish(
            Usage(
                model=self.model_name,
                prompt_tokens=seq.num_prompt_tokens,
                cached_prompt_tokens=seq.num_cached_tokens or 0,
                completion_tokens=len(seq.output_ids),
                engine_seconds=seq.engine_seconds,
                shared_engine_seconds=seq.shared_engine_seconds,
                time_to_first_token=None
                if seq.first_token_at is None
                else seq.first_token_at - seq.submitted_at,
                finish_reason=reason,
            ),
            seq.output_ids,
        )

    # -- observability -------------------------------------------------------------------------
    def tokens_per_second(self) -> float:
        """Tokens generated over the last ``_RATE_WINDOW_S`` seconds, per second."""
        since = time.perf_counter() - _RATE_WINDOW_S
        return sum(n for t, n in list(self._recent) if t >= since) / _RATE_WINDOW_S

    def metrics_text(self) -> str:
        """Prometheus text exposition of the engine's gauges and counters."""
        label = f'{{model="{self.model_name}"}}'
        hit_rate = (
            self.cached_prompt_tokens_total / self.prompt_tokens_total
            if self.prompt_tokens_total
            else 0.0
        )
        rows = [
            ("parley_engine_requests_running", "gauge", "Requests in the running batch.", len(self.scheduler.running)),
            ("parley_engine_requests_waiting", "gauge", "Requests waiting for admission.", len(self.scheduler.waiting)),
            ("parley_engine_kv_blocks_used", "gauge", "KV-cache blocks referenced by requests.", self.blocks.num_blocks - self.blocks.num_free),
            ("parley_engine_kv_blocks_free", "gauge", "KV-cache blocks free (cached or empty).", self.blocks.num_free),
            ("parley_engine_kv_blocks_cached", "gauge", "KV-cache blocks holding a reusable prefix.", len(self.blocks.cached)),
            ("parley_engine_prefix_cache_hit_rate", "gauge", "Prompt tokens served from the prefix cache / prompt tokens.", hit_rate),
            ("parley_engine_generation_tokens_per_second", "gauge", f"Generated tokens per second over the last {_RATE_WINDOW_S:.0f} s.", self.tokens_per_second()),
            ("parley_engine_prompt_tokens_total", "counter", "Prompt tokens admitted.", self.prompt_tokens_total),
            ("parley_engine_cached_prompt_tokens_total", "counter", "Prompt tokens served from the prefix cache.", self.cached_prompt_tokens_total),
            ("parley_engine_generation_tokens_total", "counter", "Tokens generated.", self.generation_tokens_total),
            ("parley_engine_requests_finished_total", "counter", "Requests finished (any reason).", self.requests_finished_total),
            ("parley_engine_preemptions_total", "counter", "Requests preempted for KV blocks or priority.", self.scheduler.num_preemptions),
        ]  # fmt: skip
        lines = []
        for name, kind, help_text, value in rows:
            lines += [
                f"# HELP {name} {help_text}",
                f"# TYPE {name} {kind}",
                f"{name}{label} {value}",
            ]
        return "\n".join(lines) + "\n"
