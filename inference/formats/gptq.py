"""GPTQ 4-bit checkpoint tensors -> ``Int4Weight``.

Packing (AutoGPTQ / optimum / GPTQModel, 4 bits):
- ``qweight`` int32 ``[in / 8, out]``: packed along the input; nibble ``k`` (bits ``4k..4k+3``) of
  ``qweight[i, o]`` is the code of input column ``8 i + k``.
- ``qzeros`` int32 ``[groups, out / 8]``: packed along the output; nibble ``k`` of ``qzeros[g, j]`` is
  the zero point of output row ``8 j + k``.
- ``scales`` float16 ``[groups, out]``; ``g_idx`` int32 ``[in]``, the group of each input column.
- ``W[o, i] = scales[g, o] * (q[i, o] - zero[g, o])`` with ``g = g_idx[i]``.

The classic format (``"gptq"``, AutoGPTQ and what ``transformers``' ``GPTQConfig`` calls v1) stores
``zero - 1`` in each nibble, so the zero is the nibble plus one (1..16); ``"gptq_v2"`` (GPTQModel)
stores the zero itself. Act-order checkpoints (``desc_act``, a ``g_idx`` that is not
``i // group_size``) would need the activations permuted and are refused.
"""

from __future__ import annotations

import torch

from inference.int4 import Int4Weight, pack_codes

FORMATS = ("gptq", "gptq_v2")
_SHIFTS = torch.arange(0, 32, 4, dtype=torch.int32)


def unpack_int32(packed: torch.Tensor) -> torch.Tensor:
    """int32 [..., n] -> int32 [..., n, 8], nibble k in slot k."""
    return (packed.to(torch.int32).unsqueeze(-1) >> _SHIFTS) & 0x0F


def checkpoint_format(quantization_config: dict) -> str:
    """The zero-point convention of a ``quantization_config`` (``format`` or legacy ``checkpoint_format``)."""
    fmt = (
        quantization_config.get("format") or quantization_config.get("checkpoint_format") or "gptq"
    ).lower()
    if fmt not in FORMATS:
        raise ValueError(f"unsupported GPTQ checkpoint format {fmt!r}")
    if quantization_config.get("bits", 4) != 4:
        raise ValueError(
            f"only 4-bit GPTQ is supported, got {quantization_config.get('bits')} bits"
        )
    return fmt


def gptq_to_int4(
    qweight: torch.Tensor,
    qzeros: torch.Tensor,
    scales: torch.Tensor,
    g_idx: torch.Tensor | None = None,
    fmt: str = "gptq",
) -> Int4Weight:
    """GPTQ tensors of one linear layer -> ``Int4Weight`` [out, in] (``min = -zero * scale``)."""
    if fmt not in FORMATS:
        raise ValueError(f"unsupported GPTQ checkpoint format {fmt!r}")
    n_in, n_out = qweight.shape[0] * 8, qweight.shape[1]
    n_groups = scales.shape[0]
    if (
        scales.shape != (n_groups, n_out)
        or qzeros.shape != (n_groups, n_out // 8)
        or n_in % n_groups
    ):
        raise ValueError(
            f"inconsistent GPTQ shapes qweight {tuple(qweight.shape)}, qzeros {tuple(qzeros.shape)}, "
            f"scales {tuple(scales.shape)}"
        )
    group_size = n_in // n_groups
    if g_idx is not None and not torch.equal(
        g_idx.to(torch.int64), torch.arange(n_in, dtype=torch.int64) // group_size
    ):
        raise ValueError("act-order GPTQ (desc_act, permuted g_idx) is not supported")
    codes = (
        unpack_int32(qweight).permute(1, 0, 2).reshape(n_out, n_in)
    )  # [in/8, out, 8] -> [out, in]
    zeros = unpack_int32(qzeros).reshape(n_groups, n_out)
    if fmt == "gptq":
        zeros = zeros + 1
    scale = scales.to(torch.float32)
    return Int4Weight(
        qweight=pack_codes(codes),
        scales=scale.t().contiguous(),
        mins=-(zeros.to(torch.float32) * scale).t().contiguous(),
        group_size=group_size,
    )
