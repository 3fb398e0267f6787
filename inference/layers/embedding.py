"""Token embeddings, Q8_0 or float32, and the tied output head that shares their storage."""

from __future__ import annotations

import torch

from inference import cpu_kernels
from inference.layers import backend as backends
from inference.layers.linear import Linear
from inference.q8 import Q8Weight


class Embedding:
    def __init__(self, weight: Q8Weight | torch.Tensor):
        self.dim = weight.shape[1]
        self.table = None
        self.head = None
        backend = backends.current()
        if backend.triton:  # dense in the activation dtype; the tied head shares it
            dense = weight.dequantize() if isinstance(weight, Q8Weight) else weight
            self.table = backend.put(dense, backend.dtype)
        elif isinstance(weight, Q8Weight):
            # the Linear holds the table in its kernel's layout; lookups read that same storage
            self.head = Linear(weight)
        else:
            self.table = weight.to(torch.float32).contiguous()

    def __call__(self, ids: torch.Tensor) -> torch.Tensor:
        if self.table is not None:
            return self.table.index_select(0, ids)
        part = self.head.parts[0][1]
        out = torch.empty(ids.shape[0], self.dim)
        cpu = cpu_kernels.ops()
        embed = cpu.embed_q8 if part.exact else cpu.embed_i8_q8
        embed(ids, part.qweight, part.scales, out)
        return out

    def as_linear(self) -> Linear:
        """The tied output head; it holds the same tensors, not a copy."""
        return self.head if self.head is not None else Linear(self.table)

    def nbytes(self) -> int:
        if self.head is not None:
            return self.head.nbytes()
        return self.table.numel() * self.table.element_size()
