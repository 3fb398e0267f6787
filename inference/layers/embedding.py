"""Token embeddings, Q8_0 or float32, and the tied output head that shares their storage."""

from __future__ import annotations

import torch

from inference import native
from inference.layers.linear import Linear
from inference.q8 import Q8Weight


class Embedding:
    def __init__(self, weight: Q8Weight | torch.Tensor):
        if isinstance(weight, Q8Weight):
            self.q8 = Q8Weight(weight.qweight.contiguous(), weight.scales.to(torch.float16).contiguous())
            self.table = None
        else:
            self.q8 = None
            self.table = weight.to(torch.float32).contiguous()
        self.dim = weight.shape[1]

    def __call__(self, ids: torch.Tensor) -> torch.Tensor:
        if self.table is not None:
            return self.table.index_select(0, ids)
        out = torch.empty(ids.shape[0], self.dim)
        native.embed_q8(ids, self.q8.qweight, self.q8.scales, out)
        return out

    def as_linear(self) -> Linear:
        """The tied output head; the Linear holds the same tensors, not a copy."""
        return Linear(self.q8 if self.q8 is not None else self.table)

    def nbytes(self) -> int:
        return self.q8.nbytes() if self.q8 is not None else self.table.numel() * 4
