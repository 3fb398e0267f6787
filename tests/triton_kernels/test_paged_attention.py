import math

import pytest
import torch

from kernels.kv_cache import write_kv, write_kv_reference
from kernels.paged_attention import (
    default_partition_size,
    paged_decode_attention,
    paged_decode_attention_reference,
)


def paged_cache(seq_lens, kv_heads, head_dim, block_size, dtype, spare_blocks=3):
    """A cache with each sequence's blocks scattered (shuffled) over the pool."""
    need = [math.ceil(n / block_size) for n in seq_lens]
    width = max(max(need), 1)
    pool = sum(need) + spare_blocks
    order = torch.randperm(pool)
    tables = torch.zeros(len(seq_lens), width, dtype=torch.int32)
    used = 0
    for b, n in enumerate(need):
        tables[b, :n] = order[used : used + n].to(torch.int32)
        used += n
    k_cache = torch.randn(pool, block_size, kv_heads, head_dim).to(dtype)
    v_cache = torch.randn(pool, block_size, kv_heads, head_dim).to(dtype)
    return k_cache, v_cache, tables, torch.tensor(seq_lens, dtype=torch.int32)


@pytest.mark.parametrize(
    "seq_lens,q_heads,kv_heads,head_dim,block_size,partition",
    [
        ([1], 4, 4, 16, 16, None),  # one token, no GQA
        ([5, 37, 0], 8, 2, 24, 8, None),  # GQA 4, head_dim not a power of two, a padding row
        ([70, 3], 6, 2, 16, 16, 16),  # split along the sequence, merged
        ([33], 3, 1, 32, 4, 32),  # GQA 3 (padded to the tile), small pages, two partitions
    ],
)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_paged_decode_attention_matches_reference(
    seq_lens, q_heads, kv_heads, head_dim, block_size, partition, dtype, assert_close
):
    k_cache, v_cache, tables, lens = paged_cache(seq_lens, kv_heads, head_dim, block_size, dtype)
    q = torch.randn(len(seq_lens), q_heads, head_dim).to(dtype)
    scale = head_dim**-0.5
    out = paged_decode_attention(q, k_cache, v_cache, tables, lens, scale, partition_size=partition)
    ref = paged_decode_attention_reference(q, k_cache, v_cache, tables, lens, scale)
    assert_close(out, ref, dtype, factor=2.0)
    if 0 in seq_lens:
        assert torch.all(out[seq_lens.index(0)] == 0)


def test_partition_size_shrinks_only_to_fill_the_gpu():
    assert default_partition_size(64, 8, 1024, 132) == 1024
    assert default_partition_size(1, 4, 4096, 132) == 64
    assert default_partition_size(1, 4, 32768, 132) == 256


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_write_kv_places_tokens_at_their_slots_and_skips_padding(dtype):
    tokens, heads, head_dim, block_size = 4, 3, 10, 4
    qkv = torch.randn(tokens, 3 * heads * head_dim).to(dtype)
    key = qkv[:, heads * head_dim : 2 * heads * head_dim].view(tokens, heads, head_dim)
    value = qkv[:, 2 * heads * head_dim :].view(tokens, heads, head_dim)
    slots = torch.tensor([9, -1, 0, 22], dtype=torch.int32)
    k_cache = torch.zeros(6, block_size, heads, head_dim, dtype=dtype)
    v_cache = torch.zeros_like(k_cache)
    ref_k, ref_v = k_cache.clone(), v_cache.clone()
    write_kv_reference(key, value, ref_k, ref_v, slots)
    write_kv(key, value, k_cache, v_cache, slots)
    assert torch.equal(k_cache, ref_k) and torch.equal(v_cache, ref_v)
    assert torch.equal(k_cache[2, 1], key[0])  # slot 9 = block 2, offset 1
    assert torch.equal(v_cache[5, 2], value[3])
    assert int((k_cache != 0).any(-1).any(-1).sum()) == 3  # the padding token wrote nothing


@pytest.mark.parametrize("partition", [None, 16])
def test_per_token_queries_attend_causally_within_their_sequence(partition, assert_close):
    """The engine's mixed batch: every token a query row, naming its sequence and prefix length."""
    k_cache, v_cache, tables, _ = paged_cache([7, 20], 2, 16, 4, torch.float32)
    token_seq = torch.tensor([0, 1, 1, 1, 0], dtype=torch.int32)
    token_ctx = torch.tensor([7, 18, 19, 20, 3], dtype=torch.int32)
    q = torch.randn(5, 4, 16)
    out = paged_decode_attention(
        q, k_cache, v_cache, tables, token_ctx, 0.25, query_seq=token_seq, partition_size=partition
    )
    ref = paged_decode_attention_reference(q, k_cache, v_cache, tables, token_ctx, 0.25, token_seq)
    assert_close(out, ref, torch.float32)
    alone = paged_decode_attention_reference(
        q[4:], k_cache, v_cache, tables[:1], token_ctx[4:], 0.25
    )
    assert_close(out[4:], alone, torch.float32)
