"""MoE routing and expert dispatch: the sums a MoE layer stands for, tokens routed nowhere, experts
without tokens skipped, and each router against its ``transformers`` counterpart."""

import pytest
import torch
import transformers as tf
from torch.nn import functional as F
from transformers.models.deepseek_v2.modeling_deepseek_v2 import DeepseekV2TopkRouter
from transformers.models.deepseek_v3.modeling_deepseek_v3 import DeepseekV3TopkRouter
from transformers.models.mixtral.modeling_mixtral import MixtralTopKRouter
from transformers.models.qwen2_moe.modeling_qwen2_moe import Qwen2MoeTopKRouter

from inference.formats.int4_quantize import quantize_int4
from inference.layers.linear import Linear, exact_activations
from inference.layers.mlp import GatedMLP
from inference.layers.moe import Router, SparseMoE

HIDDEN, INTER, EXPERTS = 64, 32, 8


def random_experts(n=EXPERTS, int4=False, seed=0):
    """Experts as the engine builds them, and their float weights (gate, up, down) for reference sums."""
    g = torch.Generator().manual_seed(seed)
    experts, dense = [], []
    for _ in range(n):
        gate, up = (
            torch.randn(INTER, HIDDEN, generator=g) * 0.2,
            torch.randn(INTER, HIDDEN, generator=g) * 0.2,
        )
        down = torch.randn(HIDDEN, INTER, generator=g) * 0.2
        if int4:
            gate, up, down = (quantize_int4(w, 32) for w in (gate, up, down))
            dense.append(tuple(w.dequantize() for w in (gate, up, down)))
        else:
            dense.append((gate, up, down))
        with exact_activations(
            True
        ):  # int4 weights meet float32 activations: sums comparable exactly
            experts.append(GatedMLP(Linear([gate, up]), Linear(down)))
    return experts, dense


def expert_reference(x, gate, up, down):
    return (F.silu(x @ gate.T) * (x @ up.T)) @ down.T


class CountingExpert:
    """A real expert that records the batch size of every call."""

    def __init__(self, inner):
        self.inner, self.batches = inner, []

    def __call__(self, x):
        self.batches.append(x.shape[0])
        return self.inner(x)

    def nbytes(self):
        return self.inner.nbytes()


@pytest.mark.parametrize("int4", [False, True])
def test_every_expert_selected_equals_the_weighted_sum(int4):
    experts, dense = random_experts(int4=int4)
    router = Router(torch.randn(EXPERTS, HIDDEN) * 0.3, top_k=EXPERTS, normalize=True)
    moe = SparseMoE(router, experts)
    x = torch.randn(5, HIDDEN)
    probs = (x @ router.weight.T).softmax(-1)
    expected = sum(probs[:, e : e + 1] * expert_reference(x, *dense[e]) for e in range(EXPERTS))
    torch.testing.assert_close(moe(x), expected, atol=2e-5, rtol=1e-5)


def test_shared_expert_behind_sigmoid_gate_is_added():
    experts, dense = random_experts(n=4)
    (shared,), (shared_dense,) = random_experts(n=1, seed=1)
    gate = torch.randn(1, HIDDEN)
    moe = SparseMoE(Router(torch.randn(4, HIDDEN), top_k=4), experts, shared, gate)
    x = torch.randn(3, HIDDEN)
    routed = SparseMoE(Router(moe.router.weight, top_k=4), experts)(x)
    expected = routed + torch.sigmoid(x @ gate.T) * expert_reference(x, *shared_dense)
    torch.testing.assert_close(moe(x), expected, atol=2e-5, rtol=1e-5)


def test_pairs_routed_to_no_expert_contribute_nothing():
    experts, dense = random_experts(n=4)
    moe = SparseMoE(Router(torch.zeros(4, HIDDEN), top_k=2), experts)
    x = torch.randn(3, HIDDEN)
    ids = torch.tensor([[2, -1], [-1, 4], [1, 2]])  # -1 and 4 name no expert
    weights = torch.tensor([[0.5, 0.5], [0.7, 0.3], [0.25, 0.75]])
    out = moe.run_experts(x, weights, ids)
    torch.testing.assert_close(
        out[0], 0.5 * expert_reference(x[0:1], *dense[2])[0], atol=1e-5, rtol=1e-5
    )
    assert torch.equal(out[1], torch.zeros(HIDDEN))
    expected = 0.25 * expert_reference(x[2:3], *dense[1]) + 0.75 * expert_reference(
        x[2:3], *dense[2]
    )
    torch.testing.assert_close(out[2], expected[0], atol=1e-5, rtol=1e-5)


def test_empty_batch():
    moe = SparseMoE(Router(torch.randn(4, HIDDEN), top_k=2), random_experts(n=4)[0])
    assert moe(torch.empty(0, HIDDEN)).shape == (0, HIDDEN)


def test_experts_without_tokens_cost_nothing_and_each_used_expert_runs_once():
    experts, _ = random_experts()
    counting = [CountingExpert(e) for e in experts]
    weight = torch.zeros(EXPERTS, HIDDEN)
    weight[1], weight[5] = 1.0, 0.5  # with x > 0, experts 1 and 5 always win
    moe = SparseMoE(Router(weight, top_k=2, normalize=True), counting)
    moe(torch.rand(7, HIDDEN) + 0.1)
    assert [c.batches for c in counting] == [[], [7], [], [], [], [7], [], []]


def test_tokens_are_grouped_by_expert():
    experts, dense = random_experts()
    counting = [CountingExpert(e) for e in experts]
    router = Router(torch.randn(EXPERTS, HIDDEN), top_k=2)
    x = torch.randn(40, HIDDEN)
    out = SparseMoE(router, counting)(x)
    weights, ids = router(x)
    for e, c in enumerate(counting):
        used = int((ids == e).sum())
        assert c.batches == ([used] if used else [])
    expected = torch.zeros_like(x)
    for t in range(40):
        for j in range(2):
            expected[t] += weights[t, j] * expert_reference(x[t : t + 1], *dense[int(ids[t, j])])[0]
    torch.testing.assert_close(out, expected, atol=2e-5, rtol=1e-5)


def _sorted_by_id(weights, ids):
    order = ids.argsort(-1)
    return weights.gather(1, order), ids.gather(1, order)


ROUTER_CASES = {
    "mixtral": (
        tf.MixtralConfig(hidden_size=HIDDEN, num_local_experts=8, num_experts_per_tok=2),
        MixtralTopKRouter,
        dict(top_k=2, normalize=True),
    ),
    "qwen2_moe": (
        tf.Qwen2MoeConfig(
            hidden_size=HIDDEN, num_experts=8, num_experts_per_tok=3, norm_topk_prob=False
        ),
        Qwen2MoeTopKRouter,
        dict(top_k=3),
    ),
    "deepseek_v2": (
        tf.DeepseekV2Config(
            hidden_size=HIDDEN,
            n_routed_experts=16,
            num_experts_per_tok=3,
            topk_method="group_limited_greedy",
            n_group=4,
            topk_group=2,
            routed_scaling_factor=2.0,
        ),
        DeepseekV2TopkRouter,
        dict(top_k=3, method="group_limited_greedy", n_group=4, topk_group=2, scaling=2.0),
    ),
    "deepseek_v3": (
        tf.DeepseekV3Config(
            hidden_size=HIDDEN, n_routed_experts=16, num_experts_per_tok=4, n_group=4, topk_group=2
        ),
        DeepseekV3TopkRouter,
        dict(
            top_k=4,
            method="noaux_tc",
            scoring="sigmoid",
            normalize=True,
            n_group=4,
            topk_group=2,
            scaling=2.5,
        ),
    ),
}


@pytest.mark.parametrize("case", sorted(ROUTER_CASES))
def test_router_matches_transformers(case):
    config, router_cls, options = ROUTER_CASES[case]
    module = router_cls(config)
    torch.manual_seed(0)
    with torch.no_grad():
        module.weight.normal_(0, 0.5)
        if hasattr(module, "e_score_correction_bias"):
            module.e_score_correction_bias.normal_(0, 0.2)
    bias = getattr(module, "e_score_correction_bias", None)
    ours = Router(
        module.weight.detach().clone(), bias=None if bias is None else bias.clone(), **options
    )
    x = torch.randn(256, HIDDEN)
    with torch.no_grad():
        _, ref_weights, ref_ids = module(x)
    weights, ids = ours(x)
    ref_weights, ref_ids = _sorted_by_id(ref_weights, ref_ids)
    weights, ids = _sorted_by_id(weights, ids)
    assert torch.equal(ids, ref_ids)
    torch.testing.assert_close(weights, ref_weights, atol=1e-6, rtol=1e-6)
