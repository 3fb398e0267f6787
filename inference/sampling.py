"""Sampling settings and the sampler: greedy, temperature, top-k, top-p, repetition penalty, seed."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class SamplingParams:
    temperature: float = 0.0  # 0 = greedy
    top_k: int = 0  # 0 = off
    top_p: float = 1.0
    repetition_penalty: float = 1.0
    seed: int | None = None
    max_tokens: int = 256
    stop: list[str] = field(default_factory=list)
    ignore_eos: bool = False

    def __post_init__(self):
        if self.temperature < 0:
            raise ValueError("temperature must be >= 0")
        if self.top_k < 0:
            raise ValueError("top_k must be >= 0")
        if not 0.0 < self.top_p <= 1.0:
            raise ValueError("top_p must be in (0, 1]")
        if self.repetition_penalty <= 0:
            raise ValueError("repetition_penalty must be > 0")
        if self.max_tokens < 1:
            raise ValueError("max_tokens must be >= 1")
        if isinstance(self.stop, str):
            self.stop = [self.stop]

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0 or self.top_k == 1


def apply_repetition_penalty(logits: torch.Tensor, seen: list[int], penalty: float) -> torch.Tensor:
    """The CTRL / transformers rule: seen tokens' positive logits / penalty, negative ones * penalty."""
    ids = torch.tensor(sorted(set(seen)), dtype=torch.int64)
    score = logits.index_select(0, ids)
    logits = logits.clone()
    logits[ids] = torch.where(score < 0, score * penalty, score / penalty)
    return logits


def sample_one(
    logits: torch.Tensor, params: SamplingParams, seen: list[int], generator: torch.Generator | None
) -> int:
    """Next token from one row of logits [vocab]."""
    if params.repetition_penalty != 1.0:
        logits = apply_repetition_penalty(logits, seen, params.repetition_penalty)
    if params.greedy:
        return int(logits.argmax())
    logits = logits / params.temperature
    if 0 < params.top_k < logits.shape[0]:
        kth = torch.topk(logits, params.top_k).values[-1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits, dim=-1)
    if params.top_p < 1.0:
        sorted_probs, order = probs.sort(descending=True)
        before = sorted_probs.cumsum(0) - sorted_probs  # mass of strictly better tokens
        sorted_probs[before >= params.top_p] = 0.0
        probs = torch.zeros_like(probs).scatter_(0, order, sorted_probs)
    return int(torch.multinomial(probs, 1, generator=generator))


def sample(logits: torch.Tensor, requests: list) -> list[int]:
    """One token per row; ``requests[i]`` has ``.params``, ``.token_ids`` and ``.generator``.
    Rows that need nothing but an argmax are done in one call where the logits are (on a GPU,
    only their ids cross to the host); the other rows are sampled on the CPU."""
    plain = [
        i for i, r in enumerate(requests) if r.params.greedy and r.params.repetition_penalty == 1.0
    ]
    greedy = set(plain)
    rest = [i for i in range(len(requests)) if i not in greedy]
    out = [0] * len(requests)
    for rows, on_host in ((plain, False), (rest, True)):
        if not rows:
            continue
        picked = logits.index_select(0, torch.tensor(rows, device=logits.device))
        if not on_host:
            for i, tok in zip(rows, picked.argmax(-1).tolist(), strict=True):
                out[i] = tok
            continue
        for i, row in zip(rows, picked.cpu(), strict=True):
            r = requests[i]
            out[i] = sample_one(row, r.params, r.token_ids, r.generator)
    return out
