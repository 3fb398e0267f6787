"""W4A16 matrix products over group-wise int4 weights, with fp32 accumulation.

Weights arrive in the shared ``Int4Weight`` form (``inference/int4.py``): codes packed two per byte,
``uint8 [N, K // 2]`` with the low nibble holding the even input column, and per row and group of
``group_size`` columns a scale and a minimum, ``W = q * scale + min``. ``prepare_int4`` keeps the packed
codes as they are (rows contiguous along K, which is what both kernels stream) and stores scales and
minimums in fp16: GGUF Q4_1 keeps them in fp16 already, and it cuts their traffic from 8 to 4 bytes
per group, about a fifth of all weight bytes at group 32. Leading dimensions (experts) are allowed.

Two kernels:
- ``_int4_gemv_kernel`` for one to ``GEMV_MAX_M`` rows (decode): a program reduces ``BLOCK_N`` outputs
  of one row; per group it sums ``q * x`` and ``x`` and applies scale and minimum once per group
  (``y = sum_g s_g * sum(q x) + m_g * sum(x)``); split-K adds programs when N alone cannot fill the GPU.
- ``_int4_gemm_kernel`` for more rows (batched decode, prefill): tiles dequantized to the activation
  dtype feed ``tl.dot``; split-K for short-M shapes, L2-friendly grouped ordering for long ones.
Split-K partial sums meet through fp32 atomic adds.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import triton
import triton.language as tl

from kernels.runtime import dot_in_f32, next_pow2, num_sms

GEMV_MAX_M = 4


@dataclass
class PreparedInt4:
    """Int4 weights in the kernels' layout; ``qweight`` may carry leading (expert) dimensions."""

    qweight: torch.Tensor  # uint8 [..., N, K // 2], low nibble = even k
    scales: torch.Tensor  # fp16 [..., N, K // group_size]
    mins: torch.Tensor  # fp16 [..., N, K // group_size]
    group_size: int

    @property
    def shape(self) -> tuple[int, ...]:
        return (*self.qweight.shape[:-1], self.qweight.shape[-1] * 2)

    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in (self.qweight, self.scales, self.mins))

    def dequantize(self, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        return dequantize_int4(self, dtype)

    def __getitem__(self, index: int) -> PreparedInt4:
        """One expert of a stacked weight."""
        return PreparedInt4(
            self.qweight[index], self.scales[index], self.mins[index], self.group_size
        )


def prepare_int4(
    qweight: torch.Tensor,
    scales: torch.Tensor,
    mins: torch.Tensor,
    group_size: int,
    scale_dtype: torch.dtype = torch.float16,
) -> PreparedInt4:
    """Repack once at load: contiguous codes, scales and minimums in ``scale_dtype``."""
    if group_size < 2 or group_size & (group_size - 1):
        raise ValueError(f"group_size must be a power of two >= 2, got {group_size}")
    k = qweight.shape[-1] * 2
    if k % group_size or scales.shape[-1] != k // group_size or mins.shape != scales.shape:
        raise ValueError(
            f"scales/mins {tuple(scales.shape)} do not match {k} columns in groups of {group_size}"
        )
    if qweight.dtype != torch.uint8:
        raise ValueError(f"qweight must be uint8, got {qweight.dtype}")
    return PreparedInt4(
        qweight.contiguous(),
        scales.to(scale_dtype).contiguous(),
        mins.to(scale_dtype).contiguous(),
        group_size,
    )


def dequantize_int4(w: PreparedInt4, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Full-precision weights ``[..., N, K]`` computed in fp32, then cast."""
    q = w.qweight
    codes = torch.stack((q & 0x0F, q >> 4), dim=-1).reshape(*q.shape[:-1], -1).float()
    groups = codes.reshape(*codes.shape[:-1], -1, w.group_size)
    deq = groups * w.scales.float().unsqueeze(-1) + w.mins.float().unsqueeze(-1)
    return deq.reshape(codes.shape).to(dtype)


def int4_gemm_reference(x: torch.Tensor, w: PreparedInt4) -> torch.Tensor:
    """Dequantize to the activation dtype, then one dense matmul."""
    return x @ dequantize_int4(w, x.dtype).T


@dataclass(frozen=True)
class Int4Config:
    block_m: int  # 1 selects the GEMV kernel
    block_n: int
    block_k: int  # a multiple of the group size
    split_k: int = 1
    num_warps: int = 4
    num_stages: int = 2


def default_config(m: int, n: int, k: int, group_size: int, sms: int) -> Int4Config:
    """Shape heuristics: enough programs to cover every SM a few times, tiles that stream K."""
    if m <= GEMV_MAX_M:
        # Fewer rows per program before splitting K (no atomics, zeroing or extra launches), down
        # to 8: below that the activation reads outweigh half the weight reads. Each step moves
        # 4 KB of weights per program, two 16-byte loads per thread.
        block_n = 16
        while block_n > 8 and m * triton.cdiv(n, block_n) < 4 * sms:
            block_n //= 2
        block_k = max(group_size, min(next_pow2(k), max(512, 8192 // block_n)))
        tiles = m * triton.cdiv(n, block_n)
        return Int4Config(1, block_n, block_k, _split_k(tiles, k, block_k, 2 * sms), 4, 2)
    if m <= 64:
        block_m = max(16, next_pow2(m))
        block_k = max(group_size, min(128, next_pow2(k)))
        tiles = triton.cdiv(m, block_m) * triton.cdiv(n, 64)
        return Int4Config(block_m, 64, block_k, _split_k(tiles, k, block_k, 2 * sms), 4, 3)
    block_k = max(group_size, min(64, next_pow2(k)))
    return Int4Config(128, 128, block_k, 1, 8, 3)


def _split_k(tiles: int, k: int, block_k: int, target: int) -> int:
    split = 1
    while tiles * split < target and k >= 2 * split * block_k:
        split *= 2
    return split


def int4_gemm(
    x: torch.Tensor,
    w: PreparedInt4,
    config: Int4Config | None = None,
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """``x [..., K] @ W.T`` -> ``[..., N]`` in ``x.dtype`` (fp16, bf16 or fp32)."""
    n, k = w.shape
    if x.shape[-1] != k:
        raise ValueError(f"x has {x.shape[-1]} columns, weight expects {k}")
    x2 = x.reshape(-1, k)
    if x2.stride(-1) != 1:
        x2 = x2.contiguous()
    m = x2.shape[0]
    cfg = config or default_config(m, n, k, w.group_size, num_sms(x.device))
    y = out if out is not None else torch.empty(m, n, dtype=x.dtype, device=x.device)
    if m == 0:
        return y.reshape(*x.shape[:-1], n)
    if cfg.split_k > 1:
        acc = (
            y
            if y.dtype == torch.float32
            else torch.empty(m, n, dtype=torch.float32, device=x.device)
        )
        acc.zero_()
    else:
        acc = y
    common = dict(
        GROUP=w.group_size,
        BLOCK_N=cfg.block_n,
        BLOCK_K=cfg.block_k,
        SPLIT_K=cfg.split_k,
        num_warps=cfg.num_warps,
        num_stages=cfg.num_stages,
    )
    if cfg.block_m == 1:
        grid = (m, triton.cdiv(n, cfg.block_n), cfg.split_k)
        _int4_gemv_kernel[grid](
            x2,
            w.qweight,
            w.scales,
            w.mins,
            acc,
            n,
            k,
            x2.stride(0),
            acc.stride(0),
            k // 2,
            k // w.group_size,
            **common,
        )
    else:
        grid = (triton.cdiv(m, cfg.block_m) * triton.cdiv(n, cfg.block_n), cfg.split_k)
        _int4_gemm_kernel[grid](
            x2,
            w.qweight,
            w.scales,
            w.mins,
            acc,
            m,
            n,
            k,
            x2.stride(0),
            acc.stride(0),
            k // 2,
            k // w.group_size,
            BLOCK_M=cfg.block_m,
            GROUP_M=8,
            DOT_F32=dot_in_f32(x.dtype),
            **common,
        )
    if acc is not y:
        y.copy_(acc)
    return y.reshape(*x.shape[:-1], n)


@triton.jit
def dequant_int4_tile(
    q_ptr,
    s_ptr,
    m_ptr,
    rn,
    n_mask,
    k0,
    KB,
    KG,
    GROUP: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_K: tl.constexpr,
):
    """fp32 weights ``[BLOCK_N, BLOCK_K]`` of rows ``rn``, columns ``k0 ..``; zeros where masked.

    ``KB = K // 2`` (bytes per row) and ``KG = K // GROUP`` (groups per row) are both row strides
    and mask bounds. They come in as arguments rather than being computed from K so that Triton's
    integer specialization sees them divisible by 16: a bound known only divisible by 8 caps the
    loads at 8 bytes.
    """
    GPB: tl.constexpr = BLOCK_K // GROUP
    rb = k0 // 2 + tl.arange(0, BLOCK_K // 2)
    mask = n_mask[:, None] & (rb < KB)[None, :]
    packed = tl.load(q_ptr + rn[:, None] * KB + rb[None, :], mask=mask, other=0)
    codes = tl.reshape(tl.join(packed & 0xF, packed >> 4), (BLOCK_N, BLOCK_K)).to(tl.float32)
    rg = k0 // GROUP + tl.arange(0, GPB)
    gmask = n_mask[:, None] & (rg < KG)[None, :]
    offs = rn[:, None] * KG + rg[None, :]
    scale = tl.load(s_ptr + offs, mask=gmask, other=0).to(tl.float32)
    mn = tl.load(m_ptr + offs, mask=gmask, other=0).to(tl.float32)
    w = tl.reshape(codes, (BLOCK_N, GPB, GROUP)) * scale[:, :, None] + mn[:, :, None]
    return tl.reshape(w, (BLOCK_N, BLOCK_K))


@triton.jit
def _int4_gemv_kernel(
    x_ptr,
    q_ptr,
    s_ptr,
    m_ptr,
    y_ptr,
    N,
    K,
    stride_xm,
    stride_ym,
    KB,
    KG,
    GROUP: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_K: tl.constexpr,
    SPLIT_K: tl.constexpr,
):
    pid_m = tl.program_id(0)
    pid_n = tl.program_id(1)
    pid_k = tl.program_id(2)
    GPB: tl.constexpr = BLOCK_K // GROUP
    HALF: tl.constexpr = BLOCK_K // 2
    rn = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    n_mask = rn < N
    rb = tl.arange(0, HALF)
    rk = tl.arange(0, BLOCK_K)
    rg = tl.arange(0, GPB)
    x_row = x_ptr + pid_m * stride_xm
    acc = tl.zeros([BLOCK_N], dtype=tl.float32)
    for kt in range(pid_k, tl.cdiv(K, BLOCK_K), SPLIT_K):
        b = kt * HALF + rb
        b_mask = b < KB
        packed = tl.load(
            q_ptr + rn[:, None] * KB + b[None, :],
            mask=n_mask[:, None] & b_mask[None, :],
            other=0,
        )
        kk = kt * BLOCK_K + rk
        x = tl.load(x_row + kk, mask=kk < K, other=0).to(tl.float32)
        x_even, x_odd = tl.split(tl.reshape(x, (HALF, 2)))
        lo = (packed & 0xF).to(tl.float32)
        hi = (packed >> 4).to(tl.float32)
        qx = lo * x_even[None, :] + hi * x_odd[None, :]
        qx_g = tl.sum(tl.reshape(qx, (BLOCK_N, GPB, GROUP // 2)), axis=2)
        x_g = tl.sum(tl.reshape(x_even + x_odd, (GPB, GROUP // 2)), axis=1)
        g = kt * GPB + rg
        gmask = n_mask[:, None] & (g < KG)[None, :]
        offs = rn[:, None] * KG + g[None, :]
        scale = tl.load(s_ptr + offs, mask=gmask, other=0).to(tl.float32)
        mn = tl.load(m_ptr + offs, mask=gmask, other=0).to(tl.float32)
        acc += tl.sum(qx_g * scale + mn * x_g[None, :], axis=1)
    y = y_ptr + pid_m * stride_ym + rn
    if SPLIT_K == 1:
        tl.store(y, acc, mask=n_mask)
    else:
        tl.atomic_add(y, acc, mask=n_mask)


@triton.jit
def _int4_gemm_kernel(
    x_ptr,
    q_ptr,
    s_ptr,
    m_ptr,
    y_ptr,
    M,
    N,
    K,
    stride_xm,
    stride_ym,
    KB,
    KG,
    GROUP: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_K: tl.constexpr,
    SPLIT_K: tl.constexpr,
    GROUP_M: tl.constexpr,
    DOT_F32: tl.constexpr,
):
    pid = tl.program_id(0)
    pid_k = tl.program_id(1)
    num_m = tl.cdiv(M, BLOCK_M)
    num_n = tl.cdiv(N, BLOCK_N)
    # Programs that share weight columns run together (L2 reuse of the int4 tiles).
    per_group = GROUP_M * num_n
    first_m = (pid // per_group) * GROUP_M
    size_m = min(num_m - first_m, GROUP_M)
    pid_m = first_m + (pid % per_group) % size_m
    pid_n = (pid % per_group) // size_m
    rm = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    rn = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    m_mask = rm < M
    n_mask = rn < N
    rk = tl.arange(0, BLOCK_K)
    acc = tl.zeros([BLOCK_M, BLOCK_N], dtype=tl.float32)
    for kt in range(pid_k, tl.cdiv(K, BLOCK_K), SPLIT_K):
        k0 = kt * BLOCK_K
        kk = k0 + rk
        x = tl.load(
            x_ptr + rm[:, None] * stride_xm + kk[None, :],
            mask=m_mask[:, None] & (kk < K)[None, :],
            other=0,
        )
        w = dequant_int4_tile(q_ptr, s_ptr, m_ptr, rn, n_mask, k0, KB, KG, GROUP, BLOCK_N, BLOCK_K)
        if DOT_F32:
            acc += tl.dot(x.to(tl.float32), tl.trans(w), input_precision="ieee")
        else:
            acc += tl.dot(x, tl.trans(w.to(x.dtype)))
    y = y_ptr + rm[:, None] * stride_ym + rn[None, :]
    mask = m_mask[:, None] & n_mask[None, :]
    if SPLIT_K == 1:
        tl.store(y, acc, mask=mask)
    else:
        tl.atomic_add(y, acc, mask=mask)
