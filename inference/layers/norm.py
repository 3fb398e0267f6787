"""RMSNorm, optionally fused with the residual add that precedes it."""

from __future__ import annotations

import torch

from inference import cpu_kernels
from inference.layers import backend as backends


class RMSNorm:
    def __init__(self, weight: torch.Tensor, eps: float):
        backend = backends.current()
        self.weight = backend.put(weight, torch.float32)
        self.eps = float(eps)
        self.ops = backend.ops() if backend.triton else None

    def __call__(
        self, x: torch.Tensor, add: torch.Tensor | None = None, out: torch.Tensor | None = None
    ):
        """Normalize rows of x. With ``add``: x += add first (in place; x is the residual stream)."""
        if self.ops is not None:
            if add is None:
                return self.ops.rms_norm(x, self.weight, self.eps, out=out, force_triton=True)
            y, _ = self.ops.rms_norm(add, self.weight, self.eps, x, out, force_triton=True)
            return y
        if out is None:
            out = torch.empty_like(x)
        cpu_kernels.ops().add_rmsnorm(x, add, self.weight, self.eps, out)
        return out

    def nbytes(self) -> int:
        return self.weight.numel() * 4
