"""Kernel tests run the Triton kernels on CPU tensors through the interpreter.

``TRITON_INTERPRET`` is read when a kernel is decorated, so it is set here, before any test module
imports ``kernels``.
"""

import os

os.environ["TRITON_INTERPRET"] = "1"

import pytest  # noqa: E402
import torch  # noqa: E402

# Max error allowed, relative to the largest reference magnitude (at least 1): about two units in
# the last place of the output dtype, fp32 leaving room for a different summation order.
TOLERANCE = {torch.float32: 1e-5, torch.float16: 2e-3, torch.bfloat16: 1.6e-2}


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture
def assert_close():
    def check(out: torch.Tensor, ref: torch.Tensor, dtype: torch.dtype, factor: float = 1.0):
        assert out.shape == ref.shape
        err = (out.float() - ref.float()).abs().max().item() if out.numel() else 0.0
        scale = max(1.0, ref.float().abs().max().item() if ref.numel() else 0.0)
        assert err <= TOLERANCE[dtype] * factor * scale, f"max error {err} at scale {scale}"

    return check
