"""Group-wise int4 weights: the one in-memory form every loader produces and every backend consumes.

A weight ``W[out, in]`` is stored as 4-bit codes ``q`` in ``[0, 15]`` with, per row and per group of
``group_size`` consecutive input columns, a scale and a minimum: ``W = q * scale + min``.
GGUF Q4_1 is exactly this form (``d``, ``m``); Q4_0 is ``min = -8 * scale``; zero-point schemes
(HF group quantization, GPTQ) are ``min = -zero * scale``. Backends repack from here once, at load.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Int4Weight:
    qweight: torch.Tensor  # uint8 [out, in // 2]; low nibble holds the even input column
    scales: torch.Tensor  # float32 [out, in // group_size]
    mins: torch.Tensor  # float32 [out, in // group_size]
    group_size: int

    @property
    def shape(self) -> tuple[int, int]:
        return self.qweight.shape[0], self.qweight.shape[1] * 2

    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in (self.qweight, self.scales, self.mins))

    def codes(self) -> torch.Tensor:
        """Unpacked codes, uint8 [out, in]."""
        lo = self.qweight & 0x0F
        hi = self.qweight >> 4
        return torch.stack((lo, hi), dim=-1).reshape(self.qweight.shape[0], -1)

    def dequantize(self, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        out, n_in = self.shape
        q = self.codes().to(torch.float32).reshape(out, n_in // self.group_size, self.group_size)
        w = q * self.scales.unsqueeze(-1) + self.mins.unsqueeze(-1)
        return w.reshape(out, n_in).to(dtype)


def pack_codes(q: torch.Tensor) -> torch.Tensor:
    """Pack uint8 codes [out, in] (values 0..15) into [out, in // 2], low nibble first."""
    q = q.to(torch.uint8)
    return q[:, 0::2] | (q[:, 1::2] << 4)
