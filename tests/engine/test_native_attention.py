"""Paged attention over a shared prefix: each decode token's output is the same bits whatever the
batch around it and however many threads split the work (tasks group fewer tokens when the batch
is small), and agrees with plain softmax attention."""

import pytest
import torch

from inference import native

HEADS, KV_HEADS, HEAD_DIM, BLOCK = 9, 3, 64, 16
PREFIX_BLOCKS, SEQS = 5, 20


def _make_batch(seed, heads, kv_heads, head_dim, prefix_blocks, seqs, own_blocks=1, tail=-7):
    """Caches where every sequence shares prefix_blocks blocks, then has own_blocks of its own;
    sequence s attends to prefix_blocks * BLOCK + tail + s positions."""
    g = torch.Generator().manual_seed(seed)
    n_blocks = prefix_blocks + seqs * own_blocks
    k_shape, v_shape = native.kv_cache_shapes(n_blocks, BLOCK, kv_heads, head_dim)
    k_cache, v_cache = torch.randn(k_shape, generator=g), torch.randn(v_shape, generator=g)
    tables = torch.zeros(seqs, prefix_blocks + own_blocks, dtype=torch.int32)
    for s in range(seqs):
        tables[s, :prefix_blocks] = torch.arange(prefix_blocks)
        tables[s, prefix_blocks:] = prefix_blocks + s * own_blocks + torch.arange(own_blocks)
    q = torch.randn(seqs, heads, head_dim, generator=g) * 2
    ctx = torch.tensor([prefix_blocks * BLOCK + tail + s for s in range(seqs)], dtype=torch.int32)
    return q, k_cache, v_cache, tables, ctx


@pytest.fixture(scope="module")
def batch():
    return _make_batch(3, HEADS, KV_HEADS, HEAD_DIM, PREFIX_BLOCKS, SEQS)


def _attend(batch, rows: list[int], seq=None) -> torch.Tensor:
    q, k_cache, v_cache, tables, ctx = batch
    idx = torch.tensor(rows)
    seq = idx if seq is None else torch.tensor(seq)
    out = torch.empty(len(rows), q.shape[1], q.shape[2])
    native.paged_attention(
        q[idx].contiguous(), k_cache, v_cache, tables, seq.to(torch.int32), ctx[idx].contiguous(),
        q.shape[2] ** -0.5, out,
    )  # fmt: skip
    return out


def _reference(batch, row: int, seq=None) -> torch.Tensor:
    q, k_cache, v_cache, tables, ctx = batch
    seq = row if seq is None else seq
    kv_heads, head_dim = v_cache.shape[2], v_cache.shape[3]
    n = int(ctx[row])
    pos = torch.arange(n)
    slots = tables[seq].long()[pos // BLOCK] * BLOCK + pos % BLOCK
    k = k_cache.permute(0, 3, 1, 2).reshape(-1, kv_heads, head_dim)[slots]
    v = v_cache.view(-1, kv_heads, head_dim)[slots]
    group = q.shape[1] // kv_heads
    k, v = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)
    scores = torch.einsum("hd,nhd->hn", q[row].double(), k.double()) * head_dim**-0.5
    return torch.einsum("hn,nhd->hd", scores.softmax(dim=-1), v.double()).float()


@pytest.fixture
def threads(request):
    native.set_num_threads(request.param)
    yield request.param
    native.set_num_threads(torch.get_num_threads())


@pytest.mark.parametrize("threads", [1, 2, 4], indirect=True)
def test_each_token_gets_the_same_bits_in_any_batch(batch, threads):
    full = _attend(batch, list(range(SEQS)))
    for rows in ([5], [0, 19], [3, 4, 5, 6], [1, 8, 2, 9, 17, 11, 12]):
        assert torch.equal(_attend(batch, rows), full[rows])
    for row in (0, 7, 19):
        torch.testing.assert_close(full[row], _reference(batch, row), rtol=1e-5, atol=1e-5)


# (heads, kv_heads, head_dim): query heads per kv head 3 (the default model), 4, 8 and 1, head_dim
# 64 and 128, and head_dim 32 (the one-head-at-a-time path)
SHAPES = [(9, 3, 64), (8, 2, 64), (16, 2, 64), (4, 4, 128), (6, 2, 128), (4, 2, 32)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("threads", [1, 2, 3], indirect=True)
def test_long_shared_context_same_bits_in_any_batch(shape, threads):
    """36 tokens on a 40-block shared prefix: tasks of up to 16 tokens, tokens scored together in
    fours and twos when they read the same keys (whole blocks of the prefix; the last, partly
    filled block only with tokens of the same length, as the repeated token), alone otherwise."""
    heads, kv_heads, head_dim = shape
    seqs = 36
    b = _make_batch(11, heads, kv_heads, head_dim, 40, seqs, own_blocks=2, tail=-(seqs // 2))
    full = _attend(b, list(range(seqs)))
    for rows in (
        [0],
        [17],
        [35, 2],
        [0, 1, 2, 3, 4],
        list(range(20, 36)),
        [9, 30, 4, 33, 12, 1],
        [3] * 7,
    ):
        assert torch.equal(_attend(b, rows), full[rows])
    for row in (0, 17, 35):
        torch.testing.assert_close(full[row], _reference(b, row), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("threads", [1, 2], indirect=True)
def test_prompt_tokens_same_bits_as_decode(threads):
    """A prompt chunk (one sequence, causal: token i sees i + 1 positions) beside decode tokens of
    other sequences: each token gets the bits it gets alone."""
    q, k_cache, v_cache, tables, _ = _make_batch(5, HEADS, KV_HEADS, HEAD_DIM, 6, 4, own_blocks=3)
    n_prompt = 40  # positions 60..99 of sequence 0: the shared prefix is 96, the rest its own
    ctx = torch.tensor([61 + i for i in range(n_prompt)] + [90, 95, 120], dtype=torch.int32)
    seq = [0] * n_prompt + [1, 2, 3]
    g = torch.Generator().manual_seed(6)
    q = torch.randn(len(seq), HEADS, HEAD_DIM, generator=g) * 2
    b = (q, k_cache, v_cache, tables, ctx)
    rows = list(range(len(seq)))
    full = _attend(b, rows, seq)
    for i in (0, 13, 39, 40, 42):
        assert torch.equal(_attend(b, [i], [seq[i]]), full[i : i + 1])
        torch.testing.assert_close(full[i], _reference(b, i, seq[i]), rtol=1e-5, atol=1e-5)
    assert torch.equal(_attend(b, rows[7:30], seq[7:30]), full[7:30])
