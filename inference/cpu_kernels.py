"""Which CPU kernels the layers call, chosen once per process: the C kernels of ``inference.native``
where the CPU has what they need (on Linux x86-64: AVX-512 F/BW/VL and VNNI, or else AVX2, FMA and
F16C: Intel since Haswell, AMD since Zen) and the compiler builds them, the PyTorch ones of
``inference.portable`` anywhere else (Apple Silicon, ARM servers, older x86, macOS).
``PARLEY_CPU_KERNELS=native|portable`` forces one.
"""

from __future__ import annotations

import functools
import logging
import os
import platform
from pathlib import Path
from types import ModuleType

from inference import native, portable

ENV = "PARLEY_CPU_KERNELS"
CHOICES = ("native", "portable")
AVX512_FLAGS = frozenset({"avx512f", "avx512bw", "avx512vl", "avx512_vnni"})
AVX2_FLAGS = frozenset({"avx2", "fma", "f16c"})

log = logging.getLogger(__name__)


def native_isa(flags: frozenset[str] | None = None) -> str | None:
    """The instruction set the C kernels build for on a CPU with these flags (default: this
    one's): ``"AVX-512 VNNI"``, ``"AVX2"``, or None where they cannot run."""
    flags = cpu_flags() if flags is None else flags
    if AVX512_FLAGS <= flags:
        return "AVX-512 VNNI"
    if AVX2_FLAGS <= flags:
        return "AVX2"
    return None


def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags on Linux x86-64; empty anywhere else."""
    if platform.system() != "Linux" or platform.machine() not in ("x86_64", "AMD64"):
        return frozenset()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return frozenset(line.partition(":")[2].split())
    except OSError:
        pass
    return frozenset()


@functools.cache
def ops() -> ModuleType:
    """The chosen kernel module (``native`` or ``portable``); the first call builds the C kernels
    if they are wanted. A forced ``native`` that cannot build raises; an unforced one falls back."""
    forced = os.environ.get(ENV, "").strip().lower()
    if forced and forced not in CHOICES:
        raise ValueError(f"{ENV} must be one of {', '.join(CHOICES)}, got {forced!r}")
    if forced == "portable":
        return portable
    if forced == "native":
        native.load()
        return native
    if native_isa() is None:
        log.info("no AVX-512 VNNI nor AVX2/FMA/F16C on Linux x86-64: using the portable kernels")
        return portable
    try:
        native.load()
    except (OSError, RuntimeError) as exc:
        log.warning("the C kernels did not build (%s): using the portable PyTorch kernels", exc)
        return portable
    return native


def name() -> str:
    """``"native (AVX-512 VNNI)"``, ``"native (AVX2)"`` or ``"portable (PyTorch)"``: what ``ops()``
    chose (for native, the instruction set the kernels were built for)."""
    return f"native ({native.isa()})" if ops() is native else "portable (PyTorch)"


def used_by(engine) -> str | None:
    """``name()`` for an engine on the CPU kernels; None on the triton backend, which needs none."""
    return None if engine.model.backend.triton else name()
