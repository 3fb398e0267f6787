"""The C kernels of csrc/ (pool.c, cpu_ops.c, int8_linear.c, decoder.c), compiled once per source version and
CPU with gcc, called through ctypes. ``-march=native`` picks their instruction set (csrc/simd.h):
AVX-512 F/BW/VL + VNNI where the CPU has it, else AVX2 + FMA + F16C.

The kernels take raw pointers; the wrappers here take tensors and check nothing the hot path can
afford to re-check, so callers pass contiguous float32 tensors of the documented shapes.
The shared object lives in a per-user cache directory keyed by a hash of the source and flags.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import subprocess  # noqa: S404 - compiles our own bundled source with the system C compiler
import tempfile
from pathlib import Path

import torch

_SOURCES = [
    Path(__file__).parent / "csrc" / name
    for name in ("pool.c", "cpu_ops.c", "int8_linear.c", "decoder.c")
]
_FLAGS = ["-O3", "-march=native", "-pthread", "-ffp-contract=off", "-fPIC", "-shared"]

_P, _I, _F = ctypes.c_void_p, ctypes.c_int64, ctypes.c_float
_SIGNATURES = {
    "set_num_threads": [ctypes.c_int],
    "linear_q4h": [_P, _I, _I, _P, _P, _I, _P, _I, _P, _I],
    "linear_q4f": [_P, _I, _I, _P, _P, _I, _P, _I, _P, _I],
    "linear_q8": [_P, _I, _I, _P, _P, _P, _I, _P, _I],
    "linear_f32": [_P, _I, _I, _P, _P, _I, _P, _I],
    "linear_i8_q4h": [_P, _I, _I, _P, _P, _P, _P, _I, _P, _I],
    "linear_i8_q4f": [_P, _I, _I, _P, _P, _P, _P, _I, _P, _I],
    "linear_i8_q8": [_P, _I, _I, _P, _P, _P, _I, _P, _I],
    "embed_i8_q8": [_P, _I, _P, _P, _I, _P],
    "embed_q8": [_P, _I, _P, _P, _I, _P],
    "add_rmsnorm": [_P, _P, _P, _F, _I, _I, _P],
    "silu_mul": [_P, _I, _I, _P],
    "rope_store_kv": [_P, _I, _I, _I, _I, _P, _P, _P, _P, _I, _P, _P, _P],
    "paged_attention": [_P, _I, _I, _I, _I, _P, _P, _I, _P, _I, _P, _P, _F, _P],
    "decoder_step": [_P, _I, _I, _P, _P, _P, _I, _P, _P, _P, _P],
}


def _cache_dir() -> Path:
    base = os.environ.get("PARLEY_KERNEL_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "parley-kernels"
    )
    return Path(base)


def _cpu_key() -> str:
    try:
        flags = next(
            line
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("flags")
        )
    except (OSError, StopIteration):
        flags = platform.processor()
    return flags


def _build() -> Path:
    headers = [_SOURCES[0].with_name(name) for name in ("kernels.h", "pool.h", "simd.h")]
    src = b"".join(path.read_bytes() for path in [*_SOURCES, *headers])
    key = hashlib.sha256(src + " ".join(_FLAGS).encode() + _cpu_key().encode()).hexdigest()[:16]
    out = _cache_dir() / f"cpu_ops-{key}.so"
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".so", dir=out.parent)
    os.close(fd)
    cc = os.environ.get("CC", "gcc")
    try:
        cmd = [cc, *_FLAGS, *map(str, _SOURCES), "-o", tmp, "-lm"]
        done = subprocess.run(cmd, capture_output=True, text=True)  # noqa: S603
        if done.returncode:
            raise RuntimeError(
                "building the CPU kernels failed (gcc and an x86-64 CPU with AVX-512 F/BW/VL + "
                f"VNNI or AVX2 + FMA + F16C needed):\n{done.stderr}"
            )
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out


def _load() -> ctypes.CDLL:
    lib = ctypes.CDLL(str(_build()))
    for name, args in _SIGNATURES.items():
        fn = getattr(lib, name)
        fn.argtypes = args
        fn.restype = ctypes.c_int if name.startswith(("linear_i8", "decoder")) else None
    lib.simd_isa.argtypes, lib.simd_isa.restype = [], ctypes.c_char_p
    lib.set_num_threads(torch.get_num_threads())
    return lib


class _OnFirstUse:
    """Stands for the library until a kernel is first called: a GPU worker, whose layers never
    call these kernels, imports this module without compiling them."""

    def __getattr__(self, name: str):
        global lib
        lib = _load()
        return getattr(lib, name)


lib: ctypes.CDLL | _OnFirstUse = _OnFirstUse()


def load() -> None:
    """Build (once per CPU and source version) and load the kernels now. Raises OSError (no
    compiler, a library that does not load) or RuntimeError (the build failed)."""
    global lib
    if isinstance(lib, _OnFirstUse):
        lib = _load()


def isa() -> str:
    """The instruction set the kernels were built for: ``"AVX-512 VNNI"`` or ``"AVX2"``."""
    return lib.simd_isa().decode()


def set_num_threads(n: int) -> None:
    lib.set_num_threads(n)


def _ptr(t: torch.Tensor | None) -> int | None:
    return None if t is None else t.data_ptr()


def linear_q4(x, qweight, sm, group_size, bias, out):
    """out[M, N] (row stride out.stride(0)) = x[M, K] @ W.T + bias; sm holds (scale, min) pairs."""
    fn = lib.linear_q4h if sm.dtype == torch.float16 else lib.linear_q4f
    m, k = x.shape
    fn(x.data_ptr(), m, k, qweight.data_ptr(), sm.data_ptr(), group_size, _ptr(bias),
       qweight.shape[0], out.data_ptr(), out.stride(0))  # fmt: skip


def linear_i8_q4(x, qweight, scales, mins, bias, out):
    """Int8-activation kernel; weights in the super-block layout of csrc/int8_linear.c."""
    fn = lib.linear_i8_q4h if scales.dtype == torch.float16 else lib.linear_i8_q4f
    m, k = x.shape
    if fn(x.data_ptr(), m, k, qweight.data_ptr(), scales.data_ptr(), mins.data_ptr(), _ptr(bias),
          qweight.shape[0], out.data_ptr(), out.stride(0)):  # fmt: skip
        raise MemoryError("int8 activation buffers")


def linear_i8_q8(x, qweight, scales, bias, out):
    m, k = x.shape
    if lib.linear_i8_q8(x.data_ptr(), m, k, qweight.data_ptr(), scales.data_ptr(), _ptr(bias),
                        qweight.shape[0], out.data_ptr(), out.stride(0)):  # fmt: skip
        raise MemoryError("int8 activation buffers")


def embed_i8_q8(ids, qweight, scales, out):
    lib.embed_i8_q8(ids.data_ptr(), ids.shape[0], qweight.data_ptr(), scales.data_ptr(),
                    qweight.shape[1], out.data_ptr())  # fmt: skip


def linear_q8(x, qweight, scales, bias, out):
    m, k = x.shape
    lib.linear_q8(x.data_ptr(), m, k, qweight.data_ptr(), scales.data_ptr(), _ptr(bias),
                  qweight.shape[0], out.data_ptr(), out.stride(0))  # fmt: skip


def linear_f32(x, weight, bias, out):
    m, k = x.shape
    lib.linear_f32(x.data_ptr(), m, k, weight.data_ptr(), _ptr(bias), weight.shape[0],
                   out.data_ptr(), out.stride(0))  # fmt: skip


def embed_q8(ids, qweight, scales, out):
    lib.embed_q8(ids.data_ptr(), ids.shape[0], qweight.data_ptr(), scales.data_ptr(),
                 qweight.shape[1], out.data_ptr())  # fmt: skip


def add_rmsnorm(h, add, weight, eps, out):
    """h += add (if given, in place); out = rmsnorm(h) * weight. Rows of h.shape[-1]."""
    c = h.shape[-1]
    lib.add_rmsnorm(h.data_ptr(), _ptr(add), weight.data_ptr(), eps, h.numel() // c, c,
                    out.data_ptr())  # fmt: skip


def silu_mul(gate_up, out):
    t, f2 = gate_up.shape
    lib.silu_mul(gate_up.data_ptr(), t, f2 // 2, out.data_ptr())


def rope_store_kv(
    qkv, n_heads, n_kv_heads, head_dim, positions, cos, sin, slots, k_cache, v_cache, q_out
):
    """Rotate q into q_out; rotate k and copy v into the caches (layouts: see ``kv_cache_shapes``)."""
    lib.rope_store_kv(qkv.data_ptr(), qkv.shape[0], n_heads, n_kv_heads, head_dim,
                      positions.data_ptr(), cos.data_ptr(), sin.data_ptr(), slots.data_ptr(),
                      v_cache.shape[1], k_cache.data_ptr(), v_cache.data_ptr(),
                      q_out.data_ptr())  # fmt: skip


def kv_cache_shapes(num_blocks: int, block_size: int, kv_heads: int, head_dim: int):
    """K is transposed within each block ([blocks, kv_heads, head_dim, block_size]) so attention
    reads one dimension of 16 keys as a vector; V is [blocks, block_size, kv_heads, head_dim]."""
    return (num_blocks, kv_heads, head_dim, block_size), (
        num_blocks,
        block_size,
        kv_heads,
        head_dim,
    )


def paged_attention(q, k_cache, v_cache, block_tables, token_seq, token_ctx, scale, out):
    """q, out [T, H, D]; caches as ``kv_cache_shapes``; block_tables int32 [S, max_blocks]."""
    t, h, d = q.shape
    lib.paged_attention(q.data_ptr(), t, h, v_cache.shape[2], d, k_cache.data_ptr(),
                        v_cache.data_ptr(), v_cache.shape[1], block_tables.data_ptr(),
                        block_tables.shape[1], token_seq.data_ptr(), token_ctx.data_ptr(), scale,
                        out.data_ptr())  # fmt: skip


class Lin(ctypes.Structure):
    """One linear layer for ``decoder_step`` (csrc/decoder.c); kind: ``LIN_KINDS``' index."""

    _fields_ = [("kind", _I), ("n_in", _I), ("n_out", _I), ("w", _P), ("scales", _P),
                ("mins", _P), ("bias", _P)]  # fmt: skip


LIN_KINDS = ("q4h", "q4f", "q8", "f32")


class Layer(ctypes.Structure):
    """One decoder layer's weights and KV cache for ``decoder_step``."""

    _fields_ = [("qkv", Lin), ("o_proj", Lin), ("gate_up", Lin), ("down", Lin),
                ("input_norm", _P), ("post_norm", _P), ("input_eps", _F), ("post_eps", _F),
                ("scale", _F), ("H", _I), ("Hkv", _I), ("D", _I), ("bs", _I), ("cos", _P),
                ("sin", _P), ("k_cache", _P), ("v_cache", _P)]  # fmt: skip


def decoder_step(layers, n_layers, residual, x, ctx):
    """All n_layers of ``layers`` (the address of a ``Layer`` array) on the tokens of ``ctx``:
    residual [T, C] (the embeddings) updated in place, the last layer's output written to x."""
    if lib.decoder_step(layers, n_layers, residual.shape[0], ctx.positions.data_ptr(),
                        ctx.slot_mapping.data_ptr(), ctx.block_tables.data_ptr(),
                        ctx.block_tables.shape[1], ctx.token_seq.data_ptr(),
                        ctx.token_ctx.data_ptr(), residual.data_ptr(), x.data_ptr()):  # fmt: skip
        raise MemoryError("decoder step buffers")
