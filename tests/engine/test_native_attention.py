"""Paged attention over a shared prefix: each decode token's output is the same bits whatever the
batch around it and however many threads split the work (tasks group fewer tokens when the batch
is small), and agrees with plain softmax attention."""

import pytest
import torch

from inference import native

HEADS, KV_HEADS, HEAD_DIM, BLOCK = 9, 3, 64, 16
PREFIX_BLOCKS, SEQS = 5, 20


@pytest.fixture(scope="module")
def batch():
    g = torch.Generator().manual_seed(3)
    n_blocks = PREFIX_BLOCKS + SEQS
    k_shape, v_shape = native.kv_cache_shapes(n_blocks, BLOCK, KV_HEADS, HEAD_DIM)
    k_cache, v_cache = torch.randn(k_shape, generator=g), torch.randn(v_shape, generator=g)
    tables = torch.zeros(SEQS, PREFIX_BLOCKS + 1, dtype=torch.int32)
    for s in range(SEQS):  # every sequence shares the prefix blocks, then has one of its own
        tables[s, :PREFIX_BLOCKS] = torch.arange(PREFIX_BLOCKS)
        tables[s, PREFIX_BLOCKS] = PREFIX_BLOCKS + s
    q = torch.randn(SEQS, HEADS, HEAD_DIM, generator=g)
    ctx = torch.tensor([PREFIX_BLOCKS * BLOCK - 7 + s for s in range(SEQS)], dtype=torch.int32)
    return q, k_cache, v_cache, tables, ctx


def _attend(batch, rows: list[int]) -> torch.Tensor:
    q, k_cache, v_cache, tables, ctx = batch
    idx = torch.tensor(rows)
    out = torch.empty(len(rows), HEADS, HEAD_DIM)
    native.paged_attention(
        q[idx].contiguous(), k_cache, v_cache, tables, idx.to(torch.int32), ctx[idx].contiguous(),
        HEAD_DIM**-0.5, out,
    )  # fmt: skip
    return out


def _reference(batch, row: int) -> torch.Tensor:
    q, k_cache, v_cache, tables, ctx = batch
    n = int(ctx[row])
    pos = torch.arange(n)
    slots = tables[row].long()[pos // BLOCK] * BLOCK + pos % BLOCK
    k = k_cache.permute(0, 3, 1, 2).reshape(-1, KV_HEADS, HEAD_DIM)[slots]
    v = v_cache.view(-1, KV_HEADS, HEAD_DIM)[slots]
    group = HEADS // KV_HEADS
    k, v = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)
    scores = torch.einsum("hd,nhd->hn", q[row].double(), k.double()) * HEAD_DIM**-0.5
    return torch.einsum("hn,nhd->hd", scores.softmax(dim=-1), v.double()).float()


@pytest.mark.parametrize("threads", [1, 2, 4])
def test_each_token_gets_the_same_bits_in_any_batch(batch, threads):
    native.set_num_threads(threads)
    try:
        full = _attend(batch, list(range(SEQS)))
        for rows in ([5], [0, 19], [3, 4, 5, 6], [1, 8, 2, 9, 17, 11, 12]):
            assert torch.equal(_attend(batch, rows), full[rows])
    finally:
        native.set_num_threads(torch.get_num_threads())
    for row in (0, 7, 19):
        torch.testing.assert_close(full[row], _reference(batch, row), rtol=1e-5, atol=1e-5)
