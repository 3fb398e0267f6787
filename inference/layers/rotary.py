"""Rotary position embedding tables, computed the way ``transformers`` computes them.

Only the table lives here; the rotation itself (rotate-half convention) runs in the C kernel that
also writes K and V into the paged cache.
"""

from __future__ import annotations

import math

import torch

from inference.layers import backend as backends


def inv_frequencies(head_dim: int, theta: float, scaling: dict | None) -> torch.Tensor:
    inv = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))
    kind = (scaling or {}).get("rope_type", (scaling or {}).get("type", "default"))
    if kind == "default":
        return inv
    factor = scaling["factor"]
    if kind == "linear":
        return inv / factor
    if kind == "llama3":
        low, high = scaling["low_freq_factor"], scaling["high_freq_factor"]
        old_len = scaling["original_max_position_embeddings"]
        wavelen = 2 * math.pi / inv
        scaled = torch.where(wavelen > old_len / low, inv / factor, inv)
        smooth = (old_len / wavelen - low) / (high - low)
        smoothed = (1 - smooth) * scaled / factor + smooth * scaled
        medium = ~(wavelen < old_len / high) * ~(wavelen > old_len / low)
        return torch.where(medium, smoothed, scaled)
    raise NotImplementedError(f"rope scaling {kind!r} is not supported")


class RotaryEmbedding:
    def __init__(self, inv_freq: torch.Tensor, max_positions: int):
        freqs = torch.outer(torch.arange(max_positions, dtype=torch.int64).float(), inv_freq)
        backend = backends.current()
        self.cos = backend.put(freqs.cos())  # float32 [positions, head_dim / 2]
        self.sin = backend.put(freqs.sin())
