"""Facts about where kernels run, shared by every kernel module.

The Triton interpreter (``TRITON_INTERPRET=1``) runs kernels on CPU tensors with numpy; it cannot do
bf16 matrix products, so kernels take a ``DOT_F32`` switch that upcasts dot operands there.
"""

from __future__ import annotations

import functools
import os

import torch

H200_SMS = 132


def interpreting() -> bool:
    return os.environ.get("TRITON_INTERPRET") == "1"


def dot_in_f32(dtype: torch.dtype) -> bool:
    """Whether tensor-core products must run in fp32: fp32 inputs (exactness), bf16 when interpreted."""
    return dtype == torch.float32 or (dtype == torch.bfloat16 and interpreting())


@functools.cache
def _sm_count(index: int) -> int:
    return torch.cuda.get_device_properties(index).multi_processor_count


def num_sms(device: torch.device) -> int:
    """Streaming multiprocessors to fill; the H200 count stands in under the interpreter."""
    if device.type == "cuda":
        return _sm_count(device.index if device.index is not None else torch.cuda.current_device())
    return H200_SMS


def next_pow2(n: int) -> int:
    return 1 << max(0, int(n) - 1).bit_length()
