"""Float weights -> ``Q8Weight`` (int8, one float16 scale per 32 columns, like GGUF Q8_0).

Used for embedding tables and output heads of float checkpoints, which lose more than other matrices
to 4 bits and are read only one row at a time (embeddings) or once per step (head).
"""

from __future__ import annotations

import torch

from inference.q8 import Q8Weight


def quantize_q8(weight: torch.Tensor) -> Q8Weight:
    """[out, in] with ``in`` a multiple of 32. The scale is rounded to float16 before the codes are
    chosen, so the codes are the nearest ones for the scale actually stored."""
    n_out, n_in = weight.shape
    if n_in % 32:
        raise ValueError(f"input width {n_in} is not a multiple of 32")
    blocks = weight.to(torch.float32).reshape(n_out, n_in // 32, 32)
    scales = (blocks.abs().amax(dim=-1) / 127).to(torch.float16)
    s = scales.to(torch.float32).unsqueeze(-1)
    q = torch.where(s > 0, torch.round(blocks / torch.where(s > 0, s, 1.0)), 0.0).clamp(-127, 127)
    return Q8Weight(q.to(torch.int8).reshape(n_out, n_in), scales.contiguous())
