"""Which kernels a model's layers call, chosen once, when the model is built.

``native``: the CPU kernels on float32 CPU tensors (what CPU workers run): the batch-invariant C
kernels of ``inference/csrc``, or where those cannot run their PyTorch equivalents
(``inference.cpu_kernels`` picks). ``triton``: ``kernels.ops`` on a CUDA device in bf16 or fp16 (GPU workers), or on CPU
tensors in float32 through Triton's interpreter (``TRITON_INTERPRET=1``), which is how the CPU
tests run the GPU path. Layers read the current backend in their constructors and repack their
weights for it; ``kernels`` (and so Triton) is imported only for the triton backend, so a CPU-only
install never needs it.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
from dataclasses import dataclass, field
from types import ModuleType

import torch

KERNELS = ("native", "triton")


@dataclass(frozen=True)
class Backend:
    kernels: str = "native"
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    dtype: torch.dtype = torch.float32  # activations, KV cache and dense weights

    @property
    def triton(self) -> bool:
        return self.kernels == "triton"

    @classmethod
    def select(
        cls, device: str = "cpu", kernels: str | None = None, dtype: str | None = None
    ) -> Backend:
        """``kernels`` defaults to triton on CUDA, native on the CPU; ``dtype`` to bf16 on CUDA."""
        dev = torch.device(device)
        kernels = kernels or ("triton" if dev.type == "cuda" else "native")
        if kernels not in KERNELS:
            raise ValueError(f"kernels must be one of {KERNELS}, got {kernels!r}")
        dt = getattr(torch, dtype) if dtype else None
        if not isinstance(dt, torch.dtype | None):
            raise ValueError(f"unknown dtype {dtype!r}")
        dt = dt or (torch.bfloat16 if dev.type == "cuda" else torch.float32)
        if kernels == "native" and (dev.type != "cpu" or dt != torch.float32):
            raise ValueError("the native kernels run on the CPU in float32")
        if kernels == "triton" and dev.type == "cpu" and os.environ.get("TRITON_INTERPRET") != "1":
            raise ValueError("Triton kernels on the CPU need TRITON_INTERPRET=1 (the interpreter)")
        return cls(kernels, dev, dt)

    def ops(self) -> ModuleType:
        from kernels import ops

        return ops

    def put(self, t: torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
        """``t`` on this backend's device, in ``dtype`` (default: unchanged), contiguous."""
        return t.to(device=self.device, dtype=dtype or t.dtype).contiguous()


NATIVE = Backend()
_CURRENT: contextvars.ContextVar[Backend | None] = contextvars.ContextVar("backend", default=None)


@contextlib.contextmanager
def building_for(backend: Backend):
    """Layers constructed inside target ``backend``."""
    token = _CURRENT.set(backend)
    try:
        yield backend
    finally:
        _CURRENT.reset(token)


def current() -> Backend:
    return _CURRENT.get() or NATIVE
