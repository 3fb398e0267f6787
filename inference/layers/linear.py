"""Linear layers over int4, int8 or float32 weights, computed by the batch-invariant C kernels
(or, on the triton backend, by ``kernels.ops``: see ``_KernelPart``).

Quantized weights run, by default, against int8-quantized activations with integer dot products
(csrc/int8_linear.c), the way llama.cpp does. Built under ``exact_activations(True)``, they run
against the float32 activations instead (csrc/cpu_ops.c): slower, and within float32 rounding of a
float32 matmul with the dequantized weights, which is what oracle tests compare against. Where the
C kernels cannot run, their PyTorch equivalents do the same arithmetic (``inference.cpu_kernels``).

A layer may be several weights side by side (fused q/k/v or gate/up projections): weights of one
kind are concatenated at load, so the activations are read once; weights of different kinds (a
mixed-quantization file) each write their own columns of the shared output.
"""

from __future__ import annotations

import contextlib
import contextvars

import torch

from inference import cpu_kernels
from inference.int4 import Int4Weight
from inference.layers import backend as backends
from inference.q8 import Q8Weight

Weight = Int4Weight | Q8Weight | torch.Tensor

_EXACT = contextvars.ContextVar("exact_activations", default=False)


@contextlib.contextmanager
def exact_activations(enabled: bool = True):
    """Layers built inside use float32 activations with quantized weights."""
    token = _EXACT.set(enabled)
    try:
        yield
    finally:
        _EXACT.reset(token)


def _group32(w: Int4Weight) -> tuple[torch.Tensor, torch.Tensor]:
    """Scales and mins per 32 columns (larger groups repeat theirs)."""
    rep = w.group_size // 32
    return w.scales.repeat_interleave(rep, dim=1), w.mins.repeat_interleave(rep, dim=1)


def _compact(*ts: torch.Tensor) -> list[torch.Tensor]:
    """float16 when every value survives the round trip, float32 otherwise."""
    ts = [t.to(torch.float32).contiguous() for t in ts]
    if all(torch.equal(t.to(torch.float16).to(torch.float32), t) for t in ts):
        return [t.to(torch.float16) for t in ts]
    return ts


def _superblocks(q: torch.Tensor) -> torch.Tensor:
    """Codes [out, in] -> [out, in // 128 (+ tail), 16 lanes, 2 steps, 4] in column order; the
    tail super-block keeps only its own lanes."""
    out, n_in = q.shape
    full = n_in // 128 * 128
    head = q[:, :full].reshape(out, -1, 16, 2, 4)
    tail = q[:, full:].reshape(out, 1, -1, 2, 4) if n_in > full else None
    return head, tail


def _q4_int8_layout(codes: torch.Tensor) -> torch.Tensor:
    """Per lane, 4 bytes: code(8k + b) | code(8k + 4 + b) << 4 (see csrc/int8_linear.c)."""
    head, tail = _superblocks(codes)
    parts = [
        (p[..., 0, :] | (p[..., 1, :] << 4)).reshape(codes.shape[0], -1)
        for p in (head, tail)
        if p is not None
    ]
    return torch.cat(parts, dim=1).contiguous()


def _q8_int8_layout(qweight: torch.Tensor) -> torch.Tensor:
    """Step 0 then step 1 of each super-block, 4 bytes per lane, stored as w + 128."""
    head, tail = _superblocks(qweight.view(torch.uint8) ^ 0x80)
    parts = [p.transpose(2, 3).reshape(qweight.shape[0], -1) for p in (head, tail) if p is not None]
    return torch.cat(parts, dim=1).contiguous()


def _q4_exact_layout(w: Int4Weight) -> tuple[torch.Tensor, torch.Tensor]:
    """Per 32 columns, 16 bytes with column j in the low nibble of byte j and column j + 16 in its
    high nibble; (scale, min) pairs."""
    out, n_in = w.shape
    codes = w.codes().reshape(out, n_in // 32, 2, 16)
    qweight = (codes[:, :, 0] | (codes[:, :, 1] << 4)).reshape(out, n_in // 2).contiguous()
    scales, mins = _compact(*_group32(w))
    return qweight, torch.stack((scales, mins), dim=-1).contiguous()


class _Part:
    """One weight of a single kind, and the output columns it fills."""

    def __init__(self, weight: Weight, bias: torch.Tensor | None, exact: bool):
        n_out, n_in = weight.shape
        if n_in % 32:
            raise ValueError(f"input width {n_in} is not a multiple of 32")
        self.out_features, self.in_features = n_out, n_in
        self.bias = None if bias is None else bias.to(torch.float32).contiguous()
        self.exact = exact
        if isinstance(weight, Int4Weight):
            if weight.group_size % 32 or n_in % weight.group_size:
                raise ValueError(f"int4 group size {weight.group_size} does not tile {n_in}")
            self.kind = "q4"
            if exact:
                self.qweight, self.sm = _q4_exact_layout(weight)
            else:
                self.qweight = _q4_int8_layout(weight.codes())
                self.scales, self.mins = _compact(*_group32(weight))
        elif isinstance(weight, Q8Weight):
            self.kind = "q8"
            self.scales = weight.scales.to(torch.float16).contiguous()
            self.qweight = weight.qweight.contiguous() if exact else _q8_int8_layout(weight.qweight)
        else:
            self.kind = "f32"
            self.weight = weight.to(torch.float32).contiguous()

    def tensors(self) -> list[torch.Tensor]:
        names = {"f32": ("weight",), "q8": ("qweight", "scales")}.get(self.kind)
        if names is None:
            names = ("qweight", "sm") if self.exact else ("qweight", "scales", "mins")
        return [getattr(self, n) for n in names] + ([self.bias] if self.bias is not None else [])

    def run(self, x: torch.Tensor, out: torch.Tensor) -> None:
        cpu = cpu_kernels.ops()
        if self.kind == "f32":
            cpu.linear_f32(x, self.weight, self.bias, out)
        elif self.kind == "q4":
            if self.exact:
                cpu.linear_q4(x, self.qweight, self.sm, 32, self.bias, out)
            else:
                cpu.linear_i8_q4(x, self.qweight, self.scales, self.mins, self.bias, out)
        elif self.exact:
            cpu.linear_q8(x, self.qweight, self.scales, self.bias, out)
        else:
            cpu.linear_i8_q8(x, self.qweight, self.scales, self.bias, out)


class _KernelPart:
    """One weight on the triton backend: int4 as ``PreparedInt4`` for the W4A16 kernel; int8 and
    float weights dense in the activation dtype (there is no int8 GPU kernel)."""

    def __init__(self, weight: Weight, bias: torch.Tensor | None, backend: backends.Backend):
        from kernels.int4_gemm import prepare_int4

        self.ops = backend.ops()
        self.out_features, self.in_features = weight.shape
        self.bias = None if bias is None else backend.put(bias, backend.dtype)
        if isinstance(weight, Int4Weight):
            # fp32 activations (the interpreter tests) keep fp32 scales: nothing rounds but fp32
            scale_dtype = torch.float32 if backend.dtype == torch.float32 else torch.float16
            put = backend.put
            self.int4 = prepare_int4(
                put(weight.qweight), put(weight.scales), put(weight.mins), weight.group_size,
                scale_dtype,
            )  # fmt: skip
            self.weight = None
        else:
            dense = weight.dequantize() if isinstance(weight, Q8Weight) else weight
            self.weight, self.int4 = backend.put(dense, backend.dtype), None

    def tensors(self) -> list[torch.Tensor]:
        w = (
            [self.weight]
            if self.int4 is None
            else [self.int4.qweight, self.int4.scales, self.int4.mins]
        )
        return w + ([self.bias] if self.bias is not None else [])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.int4 is None:
            return torch.nn.functional.linear(x, self.weight, self.bias)
        return self.ops.int4_linear(x, self.int4, self.bias, force_triton=True)

    def run(self, x: torch.Tensor, out: torch.Tensor) -> None:
        out.copy_(self.forward(x))


def _concat(
    weights: list[Weight], biases: list[torch.Tensor | None]
) -> tuple[Weight, torch.Tensor | None]:
    bias = None
    if any(b is not None for b in biases):
        bias = torch.cat(
            [
                torch.zeros(w.shape[0]) if b is None else b.float()
                for w, b in zip(weights, biases, strict=True)
            ]
        )
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
        return Q8Weight(
            torch.cat([w.qweight for w in weights]), torch.cat([w.scales for w in weights])
        ), bias
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
        self.exact = _EXACT.get()
        backend = backends.current()
        self.kernel = backend.triton
        groups: list[tuple[tuple, list, list]] = []
        for w, b in zip(weights, biases, strict=True):
            if groups and groups[-1][0] == _kind(w):
                groups[-1][1].append(w)
                groups[-1][2].append(b)
            else:
                groups.append((_kind(w), [w], [b]))
        self.parts: list[tuple[int, _Part | _KernelPart]] = []
        offset = 0
        for _, ws, bs in groups:
            weight, bias = _concat(ws, bs)
            part = (
                _KernelPart(weight, bias, backend)
                if self.kernel
                else _Part(weight, bias, exact=self.exact)
            )
            self.parts.append((offset, part))
            offset += part.out_features
        self.out_features = offset

    def __call__(self, x: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
        if self.kernel and out is None and len(self.parts) == 1:
            return self.parts[0][1].forward(x)
        if out is None:
            out = x.new_empty(x.shape[0], self.out_features)
        if len(self.parts) == 1:
            self.parts[0][1].run(x, out)
        else:
            for offset, part in self.parts:
                part.run(x, out[:, offset : offset + part.out_features])
        return out

    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for _, p in self.parts for t in p.tensors())
