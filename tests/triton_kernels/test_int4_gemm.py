import pytest
import torch

from inference.int4 import Int4Weight, pack_codes
from kernels.int4_gemm import (
    Int4Config,
    default_config,
    int4_gemm,
    int4_gemm_reference,
    prepare_int4,
)

DTYPES = [torch.float32, torch.float16, torch.bfloat16]


def random_int4(n: int, k: int, group: int) -> Int4Weight:
    codes = torch.randint(0, 16, (n, k), dtype=torch.uint8)
    scales = torch.rand(n, k // group) * 0.05 + 0.01
    mins = -8 * scales + torch.randn(n, k // group) * 0.01
    return Int4Weight(pack_codes(codes), scales, mins, group)


def prepared(n: int, k: int, group: int):
    w = random_int4(n, k, group)
    return prepare_int4(w.qweight, w.scales, w.mins, w.group_size)


def test_prepared_layout_dequantizes_like_int4weight():
    w = random_int4(7, 64, 32)
    p = prepare_int4(w.qweight, w.scales, w.mins, w.group_size)
    assert p.shape == (7, 64)
    assert p.scales.dtype == torch.float16
    # Only the fp16 rounding of scales and minimums separates the two.
    torch.testing.assert_close(p.dequantize(), w.dequantize(), atol=2e-3, rtol=1e-3)
    exact = prepare_int4(w.qweight, w.scales, w.mins, 32, scale_dtype=torch.float32)
    torch.testing.assert_close(exact.dequantize(), w.dequantize())


@pytest.mark.parametrize("group", [3, 24])
def test_prepare_rejects_groups_that_are_not_powers_of_two(group):
    w = random_int4(4, 96, 32)
    with pytest.raises(ValueError):
        prepare_int4(w.qweight, w.scales, w.mins, group)


@pytest.mark.parametrize(
    "m,n,k,group",
    [
        (1, 37, 96, 32),  # decode GEMV, N and K not multiples of the tiles
        (3, 40, 128, 64),  # GEMV path, several rows
        (7, 33, 96, 32),  # tiled path, M below one tile
        (70, 20, 64, 16),  # tiled path, M above 64
    ],
)
@pytest.mark.parametrize("dtype", DTYPES)
def test_int4_gemm_matches_reference(m, n, k, group, dtype, assert_close):
    w = prepared(n, k, group)
    x = torch.randn(m, k).to(dtype)
    out = int4_gemm(x, w)
    assert out.dtype == dtype
    assert_close(out, int4_gemm_reference(x.float(), w), dtype)


@pytest.mark.parametrize(
    "config",
    [
        Int4Config(1, 16, 64, split_k=2),  # GEMV with split-K (fp32 atomics)
        Int4Config(1, 8, 32, split_k=3),  # uneven split of K tiles
        Int4Config(16, 16, 32, split_k=3),  # tiled with split-K
        Int4Config(16, 32, 64),  # two M tiles, grouped ordering
    ],
)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_int4_gemm_explicit_configs(config, dtype, assert_close):
    w = prepared(37, 256, 32)
    x = torch.randn(2 if config.block_m == 1 else 21, 256).to(dtype)
    assert_close(int4_gemm(x, w, config), int4_gemm_reference(x.float(), w), dtype)


def test_int4_gemm_keeps_leading_dims_and_strided_rows(assert_close):
    w = prepared(24, 64, 32)
    x = torch.randn(2, 3, 128)[..., ::2]
    out = int4_gemm(x, w)
    assert out.shape == (2, 3, 24)
    assert_close(out, int4_gemm_reference(x, w), torch.float32)


def test_default_config_splits_k_only_when_rows_are_few():
    narrow = default_config(1, 2048, 4096, 32, 132)
    assert narrow.block_m == 1 and narrow.block_n == 8 and narrow.split_k == 2
    square = default_config(1, 4096, 4096, 32, 132)
    assert square.block_n == 8 and square.split_k == 1
    assert default_config(1, 28672, 4096, 32, 132).block_n == 16
    prefill = default_config(2048, 4096, 4096, 32, 132)
    assert prefill.block_m == 128 and prefill.split_k == 1
    assert default_config(16, 4096, 4096, 128, 132).block_k % 128 == 0
