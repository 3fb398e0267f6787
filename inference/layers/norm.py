"""RMSNorm, optionally fused with the residual add that precedes it."""

from __future__ import annotations

import torch

from inference import native


class RMSNorm:
    def __init__(self, weight: torch.Tensor, eps: float):
        self.weight = weight.to(torch.float32).contiguous()
        self.eps = float(eps)

    def __call__(
        self, x: torch.Tensor, add: torch.Tensor | None = None, out: torch.Tensor | None = None
    ):
        """Normalize rows of x. With ``add``: x += add first (in place; x is the residual stream)."""
        if out is None:
            out = torch.empty_like(x)
        native.add_rmsnorm(x, add, self.weight, self.eps, out)
        return out

    def nbytes(self) -> int:
        return self.weight.numel() * 4
