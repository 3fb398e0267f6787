"""SiLU-and-multiply, the gated MLP activation: ``silu(x[..., :I]) * x[..., I:]``.

Reads the fused gate/up projection output once and writes half as much; computed in fp32.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
import triton
import triton.language as tl

from kernels.runtime import next_pow2


def silu_mul_reference(x: torch.Tensor) -> torch.Tensor:
    gate, up = x.chunk(2, dim=-1)
    return (F.silu(gate.float()) * up.float()).to(x.dtype)


def silu_mul(x: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """``x [..., 2I]`` -> ``[..., I]`` in ``x.dtype``."""
    inter = x.shape[-1] // 2
    x2 = x.reshape(-1, 2 * inter)
    if x2.stride(-1) != 1:
        x2 = x2.contiguous()
    rows = x2.shape[0]
    y = out if out is not None else torch.empty(rows, inter, dtype=x.dtype, device=x.device)
    if rows:
        block = min(1024, next_pow2(inter))
        grid = (rows, triton.cdiv(inter, block))
        _silu_mul_kernel[grid](x2, y, inter, x2.stride(0), y.stride(0), BLOCK=block)
    return y.reshape(*x.shape[:-1], inter)


@triton.jit
def _silu_mul_kernel(x_ptr, y_ptr, inter, stride_x, stride_y, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    cols = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    mask = cols < inter
    gate = tl.load(x_ptr + row * stride_x + cols, mask=mask, other=0).to(tl.float32)
    up = tl.load(x_ptr + row * stride_x + inter + cols, mask=mask, other=0).to(tl.float32)
    tl.store(y_ptr + row * stride_y + cols, gate * tl.sigmoid(gate) * up, mask=mask)
