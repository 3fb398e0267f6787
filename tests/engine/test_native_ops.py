"""The C kernels against plain PyTorch, and their batch invariance (a row's result never depends
on which other rows share the call)."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from tiny_models import random_int4, random_q8

from inference import native
from inference.formats.int4_quantize import quantize_int4
from inference.layers.linear import Linear, exact_activations
from inference.q8 import Q8Weight

WEIGHTS = {
    "q4 f16 scales": lambda n, k: random_int4(n, k),
    "q4 f32 scales": lambda n, k: random_int4(n, k, f16=False),
    "q4 group 64": lambda n, k: random_int4(n, k, group=64),
    "q4 group 128": lambda n, k: random_int4(n, k, group=128),
    "q8": lambda n, k: random_q8(n, k),
    "f32": lambda n, k: torch.randn(n, k, generator=torch.Generator().manual_seed(0)),
}


def _dense(w) -> torch.Tensor:
    return w if isinstance(w, torch.Tensor) else w.dequantize()


def _int8_rows(x: torch.Tensor) -> torch.Tensor:
    """x as the kernel holds it: per 32 columns, s = max|x| / 127 and x ~ s * (q1 + q2 / 128)
    with int8 digits q1 = round(x / s), q2 = round(128 * (x / s - q1)); dequantized."""
    g = x.reshape(x.shape[0], -1, 32)
    d = g.abs().amax(-1, keepdim=True) / 127
    u = g * torch.where(d > 0, 1.0 / d, 0.0)
    q1 = torch.round(u).clamp(-127, 127)
    q2 = torch.round((u - q1) * 128)
    return ((q1 * 128 + q2) * (d / 128)).reshape(x.shape)


def _int8_reference(x, w, bias) -> torch.Tensor:
    """What the int8-activation kernel computes: scaled integer dots plus min * (exact sum of x)."""
    if isinstance(w, torch.Tensor):
        return x.double() @ w.double().T + bias.double()
    xq = _int8_rows(x).double()
    if isinstance(w, Q8Weight):
        return xq @ w.dequantize().double().T + bias.double()
    codes = w.codes().double()
    rep = w.group_size // 32
    scales = w.scales.double().repeat_interleave(rep, 1).repeat_interleave(32, 1)
    mins = w.mins.double().repeat_interleave(rep, 1).repeat_interleave(32, 1)
    return xq @ (codes * scales).T + x.double() @ mins.T + bias.double()


@pytest.mark.parametrize("kind", sorted(WEIGHTS))
@pytest.mark.parametrize("m", [1, 3, 5, 8, 13])
# whole super-blocks of 128, and partial ones (12, 4 lanes; 19, 25 groups of 32)
@pytest.mark.parametrize("k", [256, 96, 608, 800])
def test_linear_matches_reference(kind, m, k):
    group = 128 if "128" in kind else 64 if "64" in kind else 32
    k = -(-k // group) * group
    w = WEIGHTS[kind](40, k)
    bias = torch.randn(40)
    x = torch.randn(m, k)
    torch.testing.assert_close(
        Linear(w, bias)(x), _int8_reference(x, w, bias).float(), rtol=1e-4, atol=1e-4
    )
    with exact_activations():
        y = Linear(w, bias)(x)
    torch.testing.assert_close(
        y, (x.double() @ _dense(w).double().T + bias.double()).float(), rtol=1e-5, atol=1e-4
    )


def test_two_digit_activations_stay_close_to_float32():
    w = random_int4(64, 576)
    x = torch.randn(4, 576)
    x[:, 7] = 40.0  # an outlier channel, as real activations have
    ref = x.double() @ w.dequantize().double().T
    err = (Linear(w)(x).double() - ref).norm() / ref.norm()
    assert 1e-7 < err < 2e-4  # quantized, but only by the second digit's rounding


@pytest.mark.parametrize("exact", [False, True])
def test_fused_linear_of_mixed_kinds_writes_each_part_in_place(exact):
    parts = [random_int4(24, 64), random_q8(8, 64), torch.randn(16, 64), random_int4(8, 64, seed=3)]
    biases = [None, torch.randn(8), None, torch.randn(8)]
    x = torch.randn(3, 64)
    with exact_activations(exact):
        fused = Linear(parts, biases)
        ref = torch.cat([Linear(w, b)(x) for w, b in zip(parts, biases, strict=True)], dim=1)
    assert fused.out_features == 56 and len(fused.parts) == 4
    assert torch.equal(fused(x), ref)


def test_int4_weights_keep_exact_f16_scales_compact():
    assert Linear(random_int4(32, 64)).parts[0][1].scales.dtype == torch.float16
    assert Linear(quantize_int4(torch.randn(32, 64))).parts[0][1].scales.dtype == torch.float32
    with exact_activations():
        assert Linear(random_int4(32, 64)).parts[0][1].sm.dtype == torch.float16


@settings(max_examples=40, deadline=None)
@given(
    m=st.integers(1, 24),
    row=st.integers(0, 23),
    kind=st.sampled_from(sorted(WEIGHTS)),
    exact=st.booleans(),
)
def test_linear_rows_are_batch_invariant(m, row, kind, exact):
    row = row % m
    with exact_activations(exact):
        layer = Linear(WEIGHTS[kind](72, 128))
    x = torch.randn(m, 128, generator=torch.Generator().manual_seed(m))
    assert torch.equal(layer(x)[row], layer(x[row : row + 1].clone())[0])


@pytest.mark.parametrize("kind", sorted(WEIGHTS))
@pytest.mark.parametrize("k", [608, 800])  # a partial last super-block, groups past 16
def test_linear_rows_alone_equal_the_batch_with_partial_super_blocks(kind, k):
    """One row and many rows may take different code (AVX2: byte and 16-bit products); each
    row's result is the same bits."""
    group = 128 if "128" in kind else 64 if "64" in kind else 32
    k = -(-k // group) * group
    layer = Linear(WEIGHTS[kind](40, k), torch.randn(40))
    x = torch.randn(13, k, generator=torch.Generator().manual_seed(k))
    x[:, 5] = 30.0  # an outlier channel: large digits
    batch = layer(x)
    for row in range(13):
        assert torch.equal(batch[row], layer(x[row : row + 1].clone())[0])


def test_rmsnorm_with_residual_add():
    h, add, w = torch.randn(5, 96), torch.randn(5, 96), torch.randn(96)
    expected_h = h + add
    ref = w * (expected_h * torch.rsqrt(expected_h.pow(2).mean(-1, keepdim=True) + 1e-6))
    out = torch.empty_like(h)
    native.add_rmsnorm(h, add, w, 1e-6, out)
    torch.testing.assert_close(h, expected_h)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)


def test_silu_mul():
    gu = torch.randn(4, 2 * 80) * 4
    out = torch.empty(4, 80)
    native.silu_mul(gu, out)
    torch.testing.assert_close(
        out, torch.nn.functional.silu(gu[:, :80]) * gu[:, 80:], rtol=1e-5, atol=1e-6
    )


def _rotate_half_rope(x, pos, inv_freq):
    freqs = torch.outer(pos.float(), inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos()[:, None], emb.sin()[:, None]
    x1, x2 = x.chunk(2, dim=-1)
    return x * cos + torch.cat((-x2, x1), dim=-1) * sin


def _reference_attention(q, k, v, ctx):
    """q [T, H, D]; k, v [S, Hkv, D] of one sequence; token t sees keys [0, ctx[t])."""
    h, hkv = q.shape[1], k.shape[1]
    k, v = k.repeat_interleave(h // hkv, 1), v.repeat_interleave(h // hkv, 1)
    out = []
    for t in range(q.shape[0]):
        s = torch.einsum("hd,shd->hs", q[t], k[: ctx[t]]) / math.sqrt(q.shape[-1])
        out.append(torch.einsum("hs,shd->hd", s.softmax(-1), v[: ctx[t]]))
    return torch.stack(out)


@pytest.mark.parametrize("block_size", [4, 16, 32])
@pytest.mark.parametrize("heads,kv_heads,head_dim", [(4, 2, 16), (9, 3, 64), (8, 8, 32)])
def test_rope_cache_write_and_paged_attention(heads, kv_heads, head_dim, block_size):
    """Two sequences with scattered blocks; prefill of one chunk plus a decode token of another."""
    g = torch.Generator().manual_seed(1)
    n_blocks = 16
    k_shape, v_shape = native.kv_cache_shapes(n_blocks, block_size, kv_heads, head_dim)
    k_cache, v_cache = torch.zeros(k_shape), torch.zeros(v_shape)

    def keys(slots):  # [n, kv_heads, head_dim] out of the block-transposed K cache
        return k_cache.permute(0, 3, 1, 2).reshape(-1, kv_heads, head_dim)[slots]

    inv_freq = 1.0 / (10000 ** (torch.arange(0, head_dim, 2).float() / head_dim))
    freqs = torch.outer(torch.arange(64).float(), inv_freq)
    cos, sin = freqs.cos().contiguous(), freqs.sin().contiguous()
    tables = torch.tensor([[7, 2, 11, 5, 0], [3, 14, 9, 1, 6]], dtype=torch.int32)
    lengths = [19, 11]
    width = (heads + 2 * kv_heads) * head_dim
    raw = [torch.randn(n, width, generator=g) for n in lengths]
    qs = []
    for s, n in enumerate(lengths):  # write each sequence's tokens into its blocks
        pos = torch.arange(n)
        slots = tables[s].long()[pos // block_size] * block_size + pos % block_size
        q = torch.empty(n, heads, head_dim)
        native.rope_store_kv(
            raw[s], heads, kv_heads, head_dim, pos, cos, sin, slots, k_cache, v_cache, q
        )
        parts = raw[s].split([heads * head_dim, kv_heads * head_dim, kv_heads * head_dim], dim=1)
        torch.testing.assert_close(
            q, _rotate_half_rope(parts[0].view(n, heads, head_dim), pos, inv_freq)
        )
        k = keys(slots)
        torch.testing.assert_close(
            k, _rotate_half_rope(parts[1].view(n, kv_heads, head_dim), pos, inv_freq)
        )
        assert torch.equal(
            v_cache.view(-1, kv_heads, head_dim)[slots], parts[2].view(n, kv_heads, head_dim)
        )
        qs.append(q)
    # a mixed batch: the last 5 tokens of sequence 0 (a prefill chunk) and the last of sequence 1
    q = torch.cat([qs[0][-5:], qs[1][-1:]])
    token_seq = torch.tensor([0] * 5 + [1], dtype=torch.int32)
    token_ctx = torch.tensor([15, 16, 17, 18, 19, 11], dtype=torch.int32)
    scale = head_dim**-0.5
    out = torch.empty_like(q)
    native.paged_attention(q, k_cache, v_cache, tables, token_seq, token_ctx, scale, out)
    for s, rows in ((0, slice(0, 5)), (1, slice(5, 6))):
        pos = torch.arange(lengths[s])
        slots = tables[s].long()[pos // block_size] * block_size + pos % block_size
        k = keys(slots)
        v = v_cache.view(-1, kv_heads, head_dim)[slots]
        ref = _reference_attention(q[rows], k, v, token_ctx[rows].tolist())
        torch.testing.assert_close(out[rows], ref, rtol=1e-5, atol=1e-5)
    alone = torch.empty(1, heads, head_dim)  # one token by itself gives the same bits
    native.paged_attention(
        q[2:3].clone(),
        k_cache,
        v_cache,
        tables,
        token_seq[2:3].clone(),
        token_ctx[2:3].clone(),
        scale,
        alone,
    )
    assert torch.equal(alone[0], out[2])
