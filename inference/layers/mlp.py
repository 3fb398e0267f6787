"""The gated (SwiGLU) feed-forward block: down(silu(gate(x)) * up(x)), gate and up fused."""

from __future__ import annotations

import torch

from inference import cpu_kernels
from inference.layers import backend as backends
from inference.layers.linear import Linear


class GatedMLP:
    def __init__(self, gate_up: Linear, down: Linear):
        self.gate_up, self.down = gate_up, down
        backend = backends.current()
        self.ops = backend.ops() if backend.triton else None

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        gu = self.gate_up(x)
        if self.ops is not None:
            return self.down(self.ops.silu_mul(gu, force_triton=True))
        h = torch.empty(x.shape[0], gu.shape[1] // 2)
        cpu_kernels.ops().silu_mul(gu, h)
        return self.down(h)

    def nbytes(self) -> int:
        return self.gate_up.nbytes() + self.down.nbytes()
