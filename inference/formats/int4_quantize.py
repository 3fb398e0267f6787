"""On-load int4 quantization of float weights (Hugging Face checkpoints) into ``Int4Weight``.

Asymmetric, group-wise: each group of ``group_size`` input columns gets a scale and a float minimum
(the general form of a zero point, ``min = -zero * scale``). The range is chosen per group among a few
clipping ratios of ``[min, max]`` by squared error, then scale and minimum are refitted by least squares
for the chosen codes: both steps only ever lower the group's error compared with plain min/max.
"""

from __future__ import annotations

import torch

from inference.int4 import Int4Weight, pack_codes

GROUP_SIZES = (32, 64, 128)
CLIP_RATIOS = (1.0, 0.95, 0.9, 0.85, 0.8)
_ROWS_PER_CHUNK = 1024


def _codes(w: torch.Tensor, scale: torch.Tensor, lo: torch.Tensor) -> torch.Tensor:
    inv = torch.where(scale > 0, 1.0 / scale, torch.zeros_like(scale))
    return torch.clamp(torch.round((w - lo) * inv), 0, 15)


def _error(w: torch.Tensor, q: torch.Tensor, scale: torch.Tensor, lo: torch.Tensor) -> torch.Tensor:
    return ((q * scale + lo - w) ** 2).sum(-1, keepdim=True)


def _quantize_groups(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """w float32 [n, G] -> codes [n, G], scales [n, 1], mins [n, 1]."""
    w_min = w.amin(-1, keepdim=True)
    w_max = w.amax(-1, keepdim=True)
    best = None
    for ratio in CLIP_RATIOS:
        lo, hi = w_min * ratio, w_max * ratio
        scale = (hi - lo) / 15
        q = _codes(w, scale, lo)
        err = _error(w, q, scale, lo)
        if best is None:
            best = [q, scale, lo, err]
            continue
        better = err < best[3]
        best = [
            torch.where(better, new, old)
            for new, old in zip((q, scale, lo, err), best, strict=True)
        ]
    q, scale, lo, err = best
    # least-squares (scale, min) for the chosen codes: minimise sum (q * s + m - w)^2
    n = w.shape[-1]
    sq, sw = q.sum(-1, keepdim=True), w.sum(-1, keepdim=True)
    sqq, sqw = (q * q).sum(-1, keepdim=True), (q * w).sum(-1, keepdim=True)
    det = n * sqq - sq * sq
    ok = det > 0
    fit_scale = torch.where(ok, (n * sqw - sq * sw) / torch.where(ok, det, 1.0), scale)
    fit_lo = torch.where(ok, (sw - fit_scale * sq) / n, lo)
    better = _error(w, q, fit_scale, fit_lo) < err
    return q, torch.where(better, fit_scale, scale), torch.where(better, fit_lo, lo)


def quantize_int4(weight: torch.Tensor, group_size: int = 32) -> Int4Weight:
    """Float weight [out, in] -> ``Int4Weight``; ``in`` must be a multiple of ``group_size``."""
    if group_size not in GROUP_SIZES:
        raise ValueError(f"group_size must be one of {GROUP_SIZES}, got {group_size}")
    if weight.dim() != 2 or weight.shape[1] % group_size:
        raise ValueError(f"cannot group {tuple(weight.shape)} by {group_size} input columns")
    n_out, n_in = weight.shape
    n_groups = n_in // group_size
    qweight = torch.empty(n_out, n_in // 2, dtype=torch.uint8)
    scales = torch.empty(n_out, n_groups, dtype=torch.float32)
    mins = torch.empty(n_out, n_groups, dtype=torch.float32)
    for start in range(0, n_out, _ROWS_PER_CHUNK):
        rows = weight[start : start + _ROWS_PER_CHUNK].to(torch.float32)
        q, s, m = _quantize_groups(rows.reshape(-1, group_size))
        end = start + rows.shape[0]
        qweight[start:end] = pack_codes(q.reshape(rows.shape[0], n_in))
        scales[start:end] = s.reshape(-1, n_groups)
        mins[start:end] = m.reshape(-1, n_groups)
    return Int4Weight(qweight=qweight, scales=scales, mins=mins, group_size=group_size)
