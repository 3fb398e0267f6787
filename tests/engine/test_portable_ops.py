"""The portable PyTorch kernels against the C kernels, op by op on random inputs of odd shapes, and
how ``inference.cpu_kernels`` chooses between them."""

import os
import subprocess
import sys

import pytest
import torch
from tiny_models import random_int4, random_q8

from inference import cpu_kernels, native, portable
from inference.layers.linear import Linear, exact_activations

needs_native = pytest.mark.skipif(
    cpu_kernels.native_isa() is None,
    reason="the C kernels need AVX-512 F/BW/VL + VNNI or AVX2 + FMA + F16C on Linux x86-64",
)


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


WEIGHTS = {
    "q4 f16 scales": lambda n, k: random_int4(n, k),
    "q4 f32 scales": lambda n, k: random_int4(n, k, f16=False),
    "q4 group 64": lambda n, k: random_int4(n, k, group=64),
    "q8": lambda n, k: random_q8(n, k, low=-128),
    "f32": lambda n, k: torch.randn(n, k, generator=_gen(1)),
}


def _call(module, part, x, out) -> None:
    """The kernel a layer's part calls, from ``module``, on the part's own tensors."""
    if part.kind == "f32":
        module.linear_f32(x, part.weight, part.bias, out)
    elif part.kind == "q4" and part.exact:
        module.linear_q4(x, part.qweight, part.sm, 32, part.bias, out)
    elif part.kind == "q4":
        module.linear_i8_q4(x, part.qweight, part.scales, part.mins, part.bias, out)
    elif part.exact:
        module.linear_q8(x, part.qweight, part.scales, part.bias, out)
    else:
        module.linear_i8_q8(x, part.qweight, part.scales, part.bias, out)


def _relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).abs().max() / b.abs().max()).item()


@needs_native
@pytest.mark.parametrize("kind", sorted(WEIGHTS))
@pytest.mark.parametrize("exact", [False, True], ids=["int8 activations", "float activations"])
@pytest.mark.parametrize(("m", "n", "k"), [(1, 40, 576), (3, 24, 192), (13, 72, 704), (8, 8, 256)])
def test_linear_matches_the_c_kernel(kind, exact, m, n, k):
    with exact_activations(exact):
        part = Linear(WEIGHTS[kind](n, k), torch.randn(n, generator=_gen(2))).parts[0][1]
    x = torch.randn(m, k, generator=_gen(3))
    x[:, 5] = 40.0  # an outlier channel, which the two int8 digits exist for
    want, got = torch.empty(m, n), torch.full((m, n), float("nan"))
    _call(native, part, x, want)
    _call(portable, part, x, got)
    # integer dots are exact in both; what is left is float32 summation order (about 1e-7 of
    # the largest output; one int8 digit of error would be 1e-3, a wrong digit far more)
    assert _relative(got, want) < 5e-6


@needs_native
def test_int8_activation_linear_differs_from_float_activations_as_the_c_kernel_does():
    """The portable int8-activation kernel quantizes x, it does not just multiply in float32."""
    w = random_int4(64, 576)
    x = torch.randn(4, 576, generator=_gen(4))
    x[:, 7] = 40.0
    parts = {}
    for exact in (False, True):
        with exact_activations(exact):
            parts[exact] = Linear(w).parts[0][1]
    out = {(mod, e): torch.empty(4, 64) for mod in (native, portable) for e in (False, True)}
    for (mod, e), o in out.items():
        _call(mod, parts[e], x, o)
    gap = _relative(out[portable, False], out[portable, True])
    assert gap > 1e-6  # the quantization shows ...
    assert _relative(out[portable, False], out[native, False]) < gap / 10  # ... as in C


@needs_native
def test_linear_writes_its_columns_of_a_wider_output():
    part = Linear(random_int4(24, 96)).parts[0][1]
    x = torch.randn(5, 96, generator=_gen(5))
    want = torch.empty(5, 24)
    _call(native, part, x, want)
    wide = torch.zeros(5, 40)
    _call(portable, part, x, wide[:, 8:32])
    assert _relative(wide[:, 8:32], want) < 5e-6
    assert not wide[:, :8].any() and not wide[:, 32:].any()


@needs_native
@pytest.mark.parametrize("exact", [False, True])
def test_embedding_rows_are_the_c_kernels_bit_for_bit(exact):
    with exact_activations(exact):
        part = Linear(random_q8(50, 608, low=-128)).parts[0][
            1
        ]  # a tied head's table, 608 = 4.75 super-blocks
    ids = torch.tensor([3, 49, 0, 3, 17])
    want, got = torch.empty(5, 608), torch.empty(5, 608)
    for module, out in ((native, want), (portable, got)):
        embed = module.embed_q8 if exact else module.embed_i8_q8
        embed(ids, part.qweight, part.scales, out)
    assert torch.equal(got, want)
    assert torch.equal(want, random_q8(50, 608, low=-128).dequantize()[ids])


@needs_native
@pytest.mark.parametrize("with_add", [False, True])
def test_add_rmsnorm(with_add):
    h = torch.randn(7, 80, generator=_gen(6)) * 3
    add = torch.randn(7, 80, generator=_gen(7)) if with_add else None
    w = torch.randn(80, generator=_gen(8))
    results = []
    for module in (native, portable):
        hh, out = h.clone(), torch.empty(7, 80)
        module.add_rmsnorm(hh, add, w, 1e-5, out)
        results.append((hh, out))
    (h_c, out_c), (h_p, out_p) = results
    assert torch.equal(h_p, h_c)  # the residual add is the same float32 sum
    torch.testing.assert_close(out_p, out_c, rtol=2e-6, atol=2e-6)


@needs_native
def test_silu_mul():
    gu = torch.randn(5, 2 * 88, generator=_gen(9)) * 5
    want, got = torch.empty(5, 88), torch.empty(5, 88)
    native.silu_mul(gu, want)
    portable.silu_mul(gu, got)
    torch.testing.assert_close(got, want, rtol=2e-6, atol=1e-6)


def _caches(blocks, bs, hkv, d):
    k_shape, v_shape = portable.kv_cache_shapes(blocks, bs, hkv, d)
    assert (k_shape, v_shape) == native.kv_cache_shapes(blocks, bs, hkv, d)
    return torch.zeros(k_shape), torch.zeros(v_shape)


@needs_native
@pytest.mark.parametrize(("h", "hkv", "d"), [(9, 3, 64), (4, 4, 48), (6, 1, 32)])
def test_rope_store_kv_and_paged_attention(h, hkv, d):
    """Two sequences in one batch: a prompt chunk of 21 tokens (causal, starting at position 5,
    its first 5 keys already cached) and a single decode token at position 37, over shuffled
    cache blocks of 16."""
    bs, blocks = 16, 12
    g = _gen(10)
    half = d // 2
    freqs = torch.outer(torch.arange(64).float(), 1.0 / 10000 ** (torch.arange(half) / half))
    cos, sin = freqs.cos(), freqs.sin()
    tables = torch.randperm(blocks, generator=g)[:6].view(2, 3).int()
    positions = torch.cat((torch.arange(5, 26), torch.tensor([37])))
    seq = torch.tensor([0] * 21 + [1], dtype=torch.int32)
    slots = tables[seq.long(), positions // bs].long() * bs + positions % bs
    ctx = (positions + 1).int()
    k_hist = torch.randn(blocks * bs, hkv, d, generator=g)  # keys already in the cache
    v_hist = torch.randn(blocks * bs, hkv, d, generator=g)
    qkv = torch.randn(22, (h + 2 * hkv) * d, generator=g)
    results = []
    for module in (native, portable):
        k_cache, v_cache = _caches(blocks, bs, hkv, d)
        k_cache.copy_(k_hist.view(blocks, bs, hkv, d).permute(0, 2, 3, 1))
        v_cache.copy_(v_hist.view(blocks, bs, hkv, d))
        q = torch.empty(22, h, d)
        module.rope_store_kv(qkv, h, hkv, d, positions, cos, sin, slots, k_cache, v_cache, q)
        out = torch.empty(22, h, d)
        module.paged_attention(q, k_cache, v_cache, tables, seq, ctx, d**-0.5, out)
        results.append((q, k_cache, v_cache, out))
    (q_c, k_c, v_c, out_c), (q_p, k_p, v_p, out_p) = results
    assert torch.equal(q_p, q_c) and torch.equal(k_p, k_c) and torch.equal(v_p, v_c)
    assert not torch.equal(k_p, k_hist.view(blocks, bs, hkv, d).permute(0, 2, 3, 1))
    torch.testing.assert_close(out_p, out_c, rtol=1e-5, atol=1e-5)


@needs_native
def test_a_decode_step_of_sequences_sharing_a_prefix_attends_as_the_c_kernel_does():
    """One token per sequence: three sequences whose first two blocks are the same cached
    prompt, of different lengths, with block tables padded by zeros as the model runner pads."""
    h, hkv, d, bs, blocks = 9, 3, 64, 16, 20
    g = _gen(11)
    k_cache, v_cache = _caches(blocks, bs, hkv, d)
    k_cache.copy_(torch.randn(k_cache.shape, generator=g))
    v_cache.copy_(torch.randn(v_cache.shape, generator=g))
    tables = torch.tensor([[7, 3, 12, 5], [7, 3, 0, 0], [7, 3, 9, 0]], dtype=torch.int32)
    ctx = torch.tensor([61, 33, 40], dtype=torch.int32)
    q = torch.randn(3, h, d, generator=g)
    seq = torch.arange(3, dtype=torch.int32)
    want, got = torch.empty(3, h, d), torch.empty(3, h, d)
    native.paged_attention(q, k_cache, v_cache, tables, seq, ctx, d**-0.5, want)
    portable.paged_attention(q, k_cache, v_cache, tables, seq, ctx, d**-0.5, got)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def _choose(env: dict) -> subprocess.CompletedProcess:
    code = "from inference import cpu_kernels; print(cpu_kernels.name())"
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("value", ["portable", "PORTABLE"])
def test_the_environment_forces_the_portable_kernels(value):
    done = _choose({**os.environ, cpu_kernels.ENV: value})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "portable (PyTorch)"


@needs_native
def test_native_is_chosen_where_the_cpu_has_avx512_vnni_or_avx2_and_can_be_forced():
    env = {k: v for k, v in os.environ.items() if k != cpu_kernels.ENV}
    for extra in ({}, {cpu_kernels.ENV: "native"}):
        done = _choose({**env, **extra})
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == f"native ({cpu_kernels.native_isa()})"


@pytest.mark.parametrize(
    ("flags", "isa"),
    [
        ({"avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx2", "fma", "f16c"}, "AVX-512 VNNI"),
        ({"avx512f", "avx512bw", "avx512vl", "avx2", "fma", "f16c"}, "AVX2"),  # Skylake-SP
        ({"avx", "avx2", "fma", "f16c", "bmi2"}, "AVX2"),  # AMD Zen 2/3, Intel client chips
        ({"avx", "avx2", "f16c"}, None),
        (set(), None),  # not Linux x86-64
    ],
)
def test_the_native_instruction_set_follows_the_cpu_flags(flags, isa):
    assert cpu_kernels.native_isa(frozenset(flags)) == isa


def test_an_unknown_choice_is_a_clear_error():
    done = _choose({**os.environ, cpu_kernels.ENV: "avx2"})
    assert done.returncode != 0
    assert "PARLEY_CPU_KERNELS must be one of native, portable, got 'avx2'" in done.stderr


@needs_native
def test_a_c_build_that_fails_falls_back_to_portable_with_a_warning(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != cpu_kernels.ENV}
    # an empty kernel cache and a compiler that does not exist: the build has to run, and fails
    env.update(PARLEY_KERNEL_CACHE=str(tmp_path), CC=str(tmp_path / "no-such-cc"))
    code = (
        "import logging; logging.basicConfig(); "
        "from inference import cpu_kernels; print(cpu_kernels.name())"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "portable (PyTorch)"
    assert "the C kernels did not build" in done.stderr
    forced = _choose({**env, cpu_kernels.ENV: "native"})
    assert forced.returncode != 0 and "no-such-cc" in forced.stderr
