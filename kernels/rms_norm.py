"""RMSNorm with the residual add fused in, as in Llama/Qwen decoder layers.

With a residual the kernel computes ``h = x + residual`` (rounded to the activation dtype, as the
model would), writes ``h`` back into ``residual`` in place for the next layer, and normalizes ``h``:
one read of each input and one write of each output instead of a separate add kernel.
``out = weight * h / sqrt(mean(h^2) + eps)``, computed in fp32 and rounded once.
Inputs may be 3-D strided views (per-head norms on a slice of a fused QKV output, as in Qwen3).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from kernels.runtime import next_pow2


def rms_norm_reference(
    x: torch.Tensor, weight: torch.Tensor, eps: float, residual: torch.Tensor | None = None
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    h = x if residual is None else (x.float() + residual.float()).to(x.dtype)
    hf = h.float()
    out = (hf * torch.rsqrt(hf.pow(2).mean(-1, keepdim=True) + eps) * weight.float()).to(x.dtype)
    return out if residual is None else (out, h)


def _as_3d(t: torch.Tensor) -> torch.Tensor:
    """Rows on grid axis 0 (no 65535 limit); a 3-D view keeps its second axis (heads) on axis 1."""
    if t.dim() == 3:
        return t
    if t.dim() == 2:
        return t.unsqueeze(1)
    return t.reshape(-1, 1, t.shape[-1])


def rms_norm(
    x: torch.Tensor,
    weight: torch.Tensor,
    eps: float,
    residual: torch.Tensor | None = None,
    out: torch.Tensor | None = None,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Normalize the last dim. Returns ``out``, or ``(out, residual)`` with ``residual`` updated.

    ``out`` may be ``x`` itself (in place). Last dimensions must be contiguous.
    """
    hidden = x.shape[-1]
    y = out if out is not None else torch.empty_like(x)
    x3, y3 = _as_3d(x), _as_3d(y)
    r3 = _as_3d(residual) if residual is not None else x3
    for t in (x3, y3, r3):
        if t.stride(-1) != 1:
            raise ValueError("rms_norm needs a contiguous last dimension")
    outer, inner = x3.shape[0], x3.shape[1]
    if outer * inner:
        _rms_norm_kernel[(outer, inner)](
            x3,
            r3,
            weight,
            y3,
            hidden,
            eps,
            x3.stride(0),
            x3.stride(1),
            r3.stride(0),
            r3.stride(1),
            y3.stride(0),
            y3.stride(1),
            HAS_RESIDUAL=residual is not None,
            BLOCK=next_pow2(hidden),
            num_warps=4 if hidden <= 2048 else 8,
        )
    return y if residual is None else (y, residual)


@triton.jit
def _rms_norm_kernel(
    x_ptr,
    r_ptr,
    w_ptr,
    y_ptr,
    hidden,
    eps,
    sx0,
    sx1,
    sr0,
    sr1,
    sy0,
    sy1,
    HAS_RESIDUAL: tl.constexpr,
    BLOCK: tl.constexpr,
):
    i = tl.program_id(0)
    j = tl.program_id(1)
    cols = tl.arange(0, BLOCK)
    mask = cols < hidden
    x = tl.load(x_ptr + i * sx0 + j * sx1 + cols, mask=mask, other=0)
    if HAS_RESIDUAL:
        r_row = r_ptr + i * sr0 + j * sr1 + cols
        r = tl.load(r_row, mask=mask, other=0)
        h = (x.to(tl.float32) + r.to(tl.float32)).to(x.dtype)
        tl.store(r_row, h, mask=mask)
        h = h.to(tl.float32)
    else:
        h = x.to(tl.float32)
    rstd = tl.rsqrt(tl.sum(h * h, axis=0) / hidden + eps)
    w = tl.load(w_ptr + cols, mask=mask, other=0).to(tl.float32)
    tl.store(y_ptr + i * sy0 + j * sy1 + cols, h * rstd * w, mask=mask)
