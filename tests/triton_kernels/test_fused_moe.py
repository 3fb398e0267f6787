import pytest
import torch

from kernels.fused_moe import (
    MoEConfig,
    SharedExpert,
    fused_experts,
    fused_moe,
    fused_moe_reference,
    shared_expert,
    shared_expert_reference,
)
from kernels.int4_gemm import prepare_int4
from kernels.moe_routing import (
    moe_align_block_size,
    moe_align_block_size_reference,
    topk_routing,
    topk_routing_reference,
)

DTYPES = [torch.float32, torch.float16, torch.bfloat16]


def stacked_int4(experts: int, n: int, k: int, group: int):
    lead = (experts,) if experts else ()
    q = torch.randint(0, 256, (*lead, n, k // 2), dtype=torch.uint8)
    scales = torch.rand(*lead, n, k // group) * 0.04 + 0.01
    mins = -7.5 * scales
    return prepare_int4(q, scales, mins, group)


def logits_avoiding(tokens: int, experts: int, unused: list[int]) -> torch.Tensor:
    logits = torch.randn(tokens, experts) * 2
    logits[:, unused] = -30.0
    return logits


@pytest.mark.parametrize("experts,top_k", [(7, 1), (13, 3), (64, 8)])
@pytest.mark.parametrize("renormalize", [True, False])
def test_topk_routing_matches_reference(experts, top_k, renormalize):
    logits = torch.randn(5, experts).to(torch.bfloat16)
    weights, ids = topk_routing(logits, top_k, renormalize)
    ref_w, ref_ids = topk_routing_reference(logits, top_k, renormalize)
    assert torch.equal(ids, ref_ids)
    torch.testing.assert_close(weights, ref_w, atol=1e-6, rtol=1e-5)
    if renormalize:
        torch.testing.assert_close(weights.sum(-1), torch.ones(5))


@pytest.mark.parametrize(
    "tokens,top_k,experts,block_size",
    [(1, 2, 9, 4), (5, 3, 7, 4), (11, 2, 16, 16), (70, 4, 5, 8)],
)
def test_align_block_size_equals_a_stable_sort(tokens, top_k, experts, block_size):
    ids = torch.stack([torch.randperm(experts)[:top_k] for _ in range(tokens)]).to(torch.int32)
    ids[ids == 1] = 0  # expert 1 gets nothing
    out = moe_align_block_size(ids, experts, block_size)
    ref = moe_align_block_size_reference(ids, experts, block_size)
    for got, want in zip(out, ref, strict=True):
        assert torch.equal(got, want)
    sorted_ids, expert_ids, num_padded = out
    n = int(num_padded)
    assert n % block_size == 0
    flat = ids.flatten()
    real = sorted_ids[:n] < flat.numel()
    assert torch.equal(
        sorted_ids[:n][real].sort().values, torch.arange(flat.numel(), dtype=torch.int32)
    )
    tile_expert = expert_ids[: n // block_size].repeat_interleave(block_size)
    assert torch.equal(flat[sorted_ids[:n][real].long()], tile_expert[real])
    assert 1 not in expert_ids.tolist()
    assert torch.all(expert_ids[n // block_size :] == -1)


@pytest.mark.parametrize("tokens", [1, 6])
@pytest.mark.parametrize("dtype", DTYPES)
def test_fused_moe_matches_per_expert_reference(tokens, dtype, assert_close):
    experts, hidden, inter, top_k = 9, 64, 48, 3
    w13 = stacked_int4(experts, 2 * inter, hidden, 32)
    w2 = stacked_int4(experts, hidden, inter, 16)
    x = torch.randn(tokens, hidden).to(dtype)
    logits = logits_avoiding(tokens, experts, unused=[2, 5])
    out = fused_moe(x, logits, w13, w2, top_k)
    assert out.dtype == dtype
    assert_close(out, fused_moe_reference(x.float(), logits, w13, w2, top_k), dtype, factor=2.0)


@pytest.mark.parametrize("block_m", [16, 32])
def test_fused_experts_tilings_agree(block_m, assert_close):
    experts, hidden, inter, tokens, top_k = 4, 32, 40, 9, 2
    w13 = stacked_int4(experts, 2 * inter, hidden, 32)
    w2 = stacked_int4(experts, hidden, inter, 8)
    x = torch.randn(tokens, hidden)
    logits = torch.randn(tokens, experts)
    weights, ids = topk_routing(logits, top_k)
    configs = (MoEConfig(block_m, 16, 32), MoEConfig(block_m, 32, 16))
    out = fused_experts(x, w13, w2, weights, ids, configs)
    assert_close(out, fused_moe_reference(x, logits, w13, w2, top_k), torch.float32)


@pytest.mark.parametrize("gated", [False, True])
def test_shared_expert_is_added(gated, assert_close):
    experts, hidden, inter, tokens = 5, 32, 16, 3
    w13 = stacked_int4(experts, 2 * inter, hidden, 16)
    w2 = stacked_int4(experts, hidden, inter, 16)
    shared = SharedExpert(
        stacked_int4(0, 2 * inter, hidden, 16),
        stacked_int4(0, hidden, inter, 16),
        torch.randn(1, hidden) if gated else None,
    )
    x = torch.randn(tokens, hidden)
    logits = torch.randn(tokens, experts)
    assert_close(shared_expert(x, shared), shared_expert_reference(x, shared), torch.float32)
    out = fused_moe(x, logits, w13, w2, 2, shared=shared)
    assert_close(out, fused_moe_reference(x, logits, w13, w2, 2, shared=shared), torch.float32)
    assert (out - fused_moe(x, logits, w13, w2, 2)).abs().max() > 1e-3


def test_pairs_naming_no_expert_contribute_nothing(assert_close):
    """The engine's router and expert parallelism may give ids outside [0, E)."""
    experts, hidden, inter = 5, 32, 16
    w13 = stacked_int4(experts, 2 * inter, hidden, 16)
    w2 = stacked_int4(experts, hidden, inter, 16)
    x = torch.randn(3, hidden)
    ids = torch.tensor([[0, -1], [experts, 2], [4, 0]])
    weights = torch.rand(3, 2)
    sorted_ids, expert_ids, num_padded = moe_align_block_size(ids, experts, 4)
    placed = sorted_ids[: int(num_padded)]
    assert sorted(placed[placed < 6].tolist()) == [0, 3, 4, 5]
    out = fused_experts(x, w13, w2, weights, ids)
    kept = torch.where((ids >= 0) & (ids < experts), weights, torch.zeros(()))
    expected = fused_experts(x, w13, w2, kept, ids.clamp(0, experts - 1))
    assert_close(out, expected, torch.float32)
