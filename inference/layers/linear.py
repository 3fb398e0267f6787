"""Linear layers over int4, int8 or float32 weights, all computed by the batch-invariant C kernels.

A layer may be several weights side by side (fused q/k/v or gate/up projections): weights of one
kind are concatenated at load, so the activations are read once; weights of different kinds (a
mixed-quantization file) each write their own columns of the shared output.
"""

from __future__ import annotations

import torch

from inference import native
from inference.int4 import Int4Weight
from inference.q8 import Q8Weight

Weight = Int4Weight | Q8Weight | torch.Tensor


def _q4_blocks(w: Int4Weight) -> tuple[torch.Tensor, torch.Tensor]:
    """Repack to the kernel's layout: per 32 columns, 16 bytes with column j in the low nibble of
    byte j and column j + 16 in its high nibble; (scale, min) pairs in float16 when that is exact."""
    out, n_in = w.shape
    codes = w.codes().reshape(out, n_in // 32, 2, 16)
    qweight = (codes[:, :, 0] | (codes[:, :, 1] << 4)).reshape(out, n_in // 2).contiguous()
    sm = torch.stack((w.scales, w.mins), dim=-1).to(torch.float32).contiguous()
    half = sm.to(torch.float16)
    if torch.equal(half.to(torch.float32), sm):
        sm = half
    return qweight, sm


class _Part:
    """One weight of a single kind, and the output columns it fills."""

    def __init__(self, weight: Weight, bias: torch.Tensor | None):
        n_out, n_in = weight.shape
        if n_in % 32:
            raise ValueError(f"input width {n_in} is not a multiple of 32")
        self.out_features, self.in_features = n_out, n_in
        self.bias = None if bias is None else bias.to(torch.float32).contiguous()
        if isinstance(weight, Int4Weight):
            if weight.group_size % 32 or n_in % weight.group_size:
                raise ValueError(f"int4 group size {weight.group_size} does not tile {n_in}")
            self.kind = "q4"
            self.group_size = weight.group_size
            self.qweight, self.sm = _q4_blocks(weight)
        elif isinstance(weight, Q8Weight):
            self.kind = "q8"
            self.qweight, self.scales = weight.qweight.contiguous(), weight.scales.to(torch.float16).contiguous()
        else:
            self.kind = "f32"
            self.weight = weight.to(torch.float32).contiguous()

    def tensors(self) -> list[torch.Tensor]:
        held = {"q4": ("qweight", "sm"), "q8": ("qweight", "scales"), "f32": ("weight",)}[self.kind]
        return [getattr(self, n) for n in held] + ([self.bias] if self.bias is not None else [])

    def run(self, x: torch.Tensor, out: torch.Tensor) -> None:
        if self.kind == "q4":
            native.linear_q4(x, self.qweight, self.sm, self.group_size, self.bias, out)
        elif self.kind == "q8":
            native.linear_q8(x, self.qweight, self.scales, self.bias, out)
        else:
            native.linear_f32(x, self.weight, self.bias, out)


def _concat(weights: list[Weight], biases: list[torch.Tensor | None]) -> tuple[Weight, torch.Tensor | None]:
    bias = None
    if any(b is not None for b in biases):
        bias = torch.cat([torch.zeros(w.shape[0]) if b is None else b.float() for w, b in zip(weights, biases)])
    first = weights[0]
    if len(weights) == 1:
        return first, bias
    if isinstance(first, Int4Weight):
        return (
            Int4Weight(
                torch.cat([w.qweight for w in weights]),
                torch.cat([w.scales for w in weights]),
                torch.cat([w.mins for w in weights]),
                first.group_size,
            ),
            bias,
        )
    if isinstance(first, Q8Weight):
        return Q8Weight(torch.cat([w.qweight for w in weights]), torch.cat([w.scales for w in weights])), bias
    return torch.cat([w.float() for w in weights]), bias


def _kind(w: Weight) -> tuple:
    if isinstance(w, Int4Weight):
        return ("q4", w.group_size)
    return ("q8",) if isinstance(w, Q8Weight) else ("f32",)


class Linear:
    """y = x @ W.T + b. ``Linear([wq, wk, wv], [bq, bk, bv])`` fuses projections side by side."""

    def __init__(self, weights: Weight | list[Weight], biases=None):
        weights = weights if isinstance(weights, list) else [weights]
        biases = biases if isinstance(biases, list) else [biases] * len(weights)
        in_features = {w.shape[1] for w in weights}
        if len(in_features) != 1:
            raise ValueError(f"fused weights disagree on input width: {in_features}")
        self.in_features = in_features.pop()
        groups: list[tuple[tuple, list, list]] = []
        for w, b in zip(weights, biases, strict=True):
            if groups and groups[-1][0] == _kind(w):
                groups[-1][1].append(w)
                groups[-1][2].append(b)
            else:
                groups.append((_kind(w), [w], [b]))
        self.parts: list[tuple[int, _Part]] = []
        offset = 0
        for _, ws, bs in groups:
            part = _Part(*_concat(ws, bs))
            self.parts.append((offset, part))
            offset += part.out_features
        self.out_features = offset

    def __call__(self, x: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
        if out is None:
            out = torch.empty(x.shape[0], self.out_features)
        if len(self.parts) == 1:
            self.parts[0][1].run(x, out)
        else:
            for offset, part in self.parts:
                part.run(x, out[:, offset : offset + part.out_features])
        return out

    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for _, p in self.parts for t in p.tensors())
