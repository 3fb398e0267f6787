"""Int8 weights with one scale per 32 input columns: GGUF Q8_0 kept as it is stored.

``W[n, k] = qweight[n, k] * scales[n, k // 32]``; the scales stay float16 as in the file, so
every weight dequantizes exactly as ``gguf.quants.dequantize`` gives it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Q8Weight:
    qweight: torch.Tensor  # int8 [out, in]
    scales: torch.Tensor  # float16 [out, in // 32]

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.qweight.shape)

    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in (self.qweight, self.scales))

    def dequantize(self) -> torch.Tensor:
        out, n_in = self.qweight.shape
        w = self.qweight.to(torch.float32).reshape(out, n_in // 32, 32)
        return (w * self.scales.to(torch.float32).unsqueeze(-1)).reshape(out, n_in)

    @classmethod
    def from_gguf_blocks(cls, raw: torch.Tensor) -> Q8Weight:
        """raw uint8 [out, row bytes] of 34-byte blocks (f16 d, 32 x int8)."""
        out = raw.shape[0]
        blocks = raw.reshape(-1, 34)
        scales = blocks[:, :2].contiguous().view(torch.float16).reshape(out, -1)
        qweight = blocks[:, 2:].contiguous().view(torch.int8).reshape(out, -1)
        return cls(qweight=qweight.contiguous(), scales=scales.contiguous())
