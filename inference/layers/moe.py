"""Mixture-of-experts feed-forward: a router picks experts per token, only those experts run.

Routing (``Router``) follows the families' reference implementations:
- ``softmax``: softmax over all experts, top-k, optionally renormalized over the chosen
  (Mixtral always renormalizes; Qwen2-MoE, Qwen3-MoE and OLMoE by ``norm_topk_prob``);
- ``group_limited_greedy`` (DeepSeek-V2): softmax, experts split in ``n_group`` groups ranked by their
  best score, top-k among the experts of the ``topk_group`` best groups;
- ``noaux_tc`` (DeepSeek-V3): sigmoid scores plus ``e_score_correction_bias`` choose the experts (groups
  ranked by the sum of their two best), the unbiased scores weight them;
then weights are multiplied by ``routed_scaling_factor``.

Execution (``SparseMoE``) groups the (token, expert) pairs by expert: each expert with tokens runs
once on all its tokens (its weights are read once per step), experts without tokens cost nothing,
and pairs naming no expert (an id outside ``[0, num_experts)``) contribute nothing. On the triton
backend, int4 experts are stacked at load and run by ``kernels.fused_moe.fused_experts`` (one
grouped GEMM per projection for all experts, no host synchronisation: CUDA-graph safe), and
softmax top-k routing is the ``kernels.moe_routing`` kernel.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from inference.layers import backend as backends
from inference.layers.mlp import GatedMLP

ROUTING_METHODS = ("greedy", "group_limited_greedy", "noaux_tc")


@dataclass
class Router:
    weight: torch.Tensor  # float32 [experts, hidden]
    top_k: int
    method: str = "greedy"
    scoring: str = "softmax"  # or "sigmoid"
    normalize: bool = False
    n_group: int = 1
    topk_group: int = 1
    scaling: float = 1.0
    bias: torch.Tensor | None = None  # e_score_correction_bias, float32 [experts]

    def __post_init__(self):
        if self.method not in ROUTING_METHODS:
            raise ValueError(f"unknown routing method {self.method!r}")
        backend = backends.current()
        self.weight = backend.put(self.weight, torch.float32)
        if self.bias is not None:
            self.bias = backend.put(self.bias, torch.float32)
        self.kernel = self.method == "greedy" and self.scoring == "softmax" and backend.triton

    @property
    def num_experts(self) -> int:
        return self.weight.shape[0]

    def __call__(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x [T, hidden] -> (weights float32 [T, k], expert ids [T, k])."""
        logits = x.float() @ self.weight.T
        if self.kernel:
            from kernels.moe_routing import topk_routing

            weights, ids = topk_routing(logits, self.top_k, self.normalize)
            return (weights * self.scaling if self.scaling != 1.0 else weights), ids
        scores = logits.sigmoid() if self.scoring == "sigmoid" else logits.softmax(dim=-1)
        if self.method == "greedy":
            weights, ids = scores.topk(self.top_k, dim=-1)
        else:
            choice = scores if self.bias is None else scores + self.bias
            grouped = choice.view(x.shape[0], self.n_group, -1)
            if self.method == "group_limited_greedy":
                group_scores = grouped.amax(dim=-1)
            else:
                group_scores = grouped.topk(2, dim=-1)[0].sum(dim=-1)
            keep_groups = group_scores.topk(self.topk_group, dim=-1)[1]
            group_mask = torch.zeros_like(group_scores, dtype=torch.bool).scatter_(
                1, keep_groups, True
            )
            expert_mask = group_mask.unsqueeze(-1).expand_as(grouped).reshape(x.shape[0], -1)
            masked = choice.masked_fill(
                ~expert_mask, 0.0 if self.method == "group_limited_greedy" else float("-inf")
            )
            ids = masked.topk(self.top_k, dim=-1)[1]
            weights = scores.gather(1, ids)
        if self.normalize:
            weights = weights / (
                weights.sum(dim=-1, keepdim=True) + (1e-20 if self.scoring == "sigmoid" else 0.0)
            )
        if self.scaling != 1.0:
            weights = weights * self.scaling
        return weights, ids

    def nbytes(self) -> int:
        return self.weight.numel() * 4 + (0 if self.bias is None else self.bias.numel() * 4)


class SparseMoE:
    """Routed experts, plus an always-on shared expert (scaled by ``sigmoid(x @ shared_gate.T)`` when
    that gate is given, as in Qwen2-MoE)."""

    def __init__(
        self,
        router: Router,
        experts: list[GatedMLP],
        shared: GatedMLP | None = None,
        shared_gate: torch.Tensor | None = None,
    ):
        if len(experts) != router.num_experts:
            raise ValueError(f"router scores {router.num_experts} experts, {len(experts)} given")
        self.router, self.experts = router, experts
        self.shared = shared
        backend = backends.current()
        self.shared_gate = (
            None if shared_gate is None else backend.put(shared_gate.reshape(1, -1), torch.float32)
        )
        self.fused = _stack_int4_experts(experts) if backend.triton else None
        if self.fused is not None:
            self.experts = []  # their weights live on in the stacks

    @property
    def graph_safe(self) -> bool:
        """Whether a forward runs without host synchronisation (the per-expert loop syncs)."""
        return self.fused is not None

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        weights, ids = self.router(x)
        out = self.run_experts(x, weights, ids)
        if self.shared is not None:
            s = self.shared(x)
            if self.shared_gate is not None:
                s = s * torch.sigmoid(x.float() @ self.shared_gate.T).to(s.dtype)
            out += s
        return out

    def run_experts(
        self, x: torch.Tensor, weights: torch.Tensor, ids: torch.Tensor
    ) -> torch.Tensor:
        """Sum over each token's (expert, weight) pairs of ``weight * expert(x)``, expert by expert."""
        if self.fused is not None:
            from kernels.fused_moe import fused_experts

            return fused_experts(x, *self.fused, weights.float(), ids)
        n_experts, top_k = len(self.experts), ids.shape[1]
        out = x.new_zeros(x.shape)
        flat_ids = ids.reshape(-1)
        flat_w = weights.reshape(-1).to(torch.float32)
        valid = (flat_ids >= 0) & (flat_ids < n_experts)
        # stable sort: pairs grouped by expert, in token order within an expert; invalid ones last
        order = torch.argsort(torch.where(valid, flat_ids, n_experts), stable=True)
        counts = torch.bincount(flat_ids[valid], minlength=n_experts).tolist()
        start = 0
        for expert, count in enumerate(counts):
            if count == 0:
                continue
            pairs = order[start : start + count]
            start += count
            tokens = pairs // top_k
            y = self.experts[expert](x.index_select(0, tokens))
            out.index_add_(0, tokens, (y.float() * flat_w[pairs].unsqueeze(1)).to(out.dtype))
        return out

    def nbytes(self) -> int:
        total = self.router.nbytes() + sum(e.nbytes() for e in self.experts)
        total += sum(w.nbytes() for w in self.fused or ())
        if self.shared is not None:
            total += self.shared.nbytes()
        if self.shared_gate is not None:
            total += self.shared_gate.numel() * 4
        return total


def _stack_int4_experts(experts: list[GatedMLP]):
    """(w13 [E, 2I, H], w2 [E, H, I]) stacked ``PreparedInt4`` when every expert is one int4 weight
    per projection with one group size, else None (those experts run one by one)."""
    from kernels.int4_gemm import PreparedInt4

    def single(linear):
        parts = linear.parts
        return parts[0][1].int4 if len(parts) == 1 else None

    ups = [single(e.gate_up) for e in experts]
    downs = [single(e.down) for e in experts]
    if any(w is None for w in ups + downs) or len({w.group_size for w in ups + downs}) != 1:
        return None

    def stack(ws):
        fields = (torch.stack([getattr(w, f) for w in ws]) for f in ("qweight", "scales", "mins"))
        return PreparedInt4(*fields, ws[0].group_size)

    return stack(ups), stack(downs)
