"""Sampling rules against the ``transformers`` logits processors, and seeded reproducibility."""

import pytest
import torch
from transformers.generation.logits_process import (
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from inference.sampling import SamplingParams, apply_repetition_penalty, sample_one


def _logits(seed=0, n=50):
    return torch.randn(n, generator=torch.Generator().manual_seed(seed)) * 3


def test_repetition_penalty_matches_transformers():
    logits, seen = _logits(), [3, 7, 7, 12, 40]
    expected = RepetitionPenaltyLogitsProcessor(1.3)(torch.tensor([seen]), logits[None].clone())[0]
    torch.testing.assert_close(apply_repetition_penalty(logits, seen, 1.3), expected)


@pytest.mark.parametrize(
    "top_k,top_p,temperature", [(5, 1.0, 1.0), (0, 0.8, 0.7), (10, 0.5, 1.3), (0, 0.05, 1.0)]
)
def test_only_tokens_transformers_keeps_are_ever_sampled(top_k, top_p, temperature):
    logits = _logits(1)
    warped = TemperatureLogitsWarper(temperature)(None, logits[None].clone())
    if top_k:
        warped = TopKLogitsWarper(top_k)(None, warped)
    if top_p < 1.0:
        warped = TopPLogitsWarper(top_p)(None, warped)
    allowed = set(torch.nonzero(warped[0] > float("-inf")).flatten().tolist())
    params = SamplingParams(temperature=temperature, top_k=top_k, top_p=top_p)
    g = torch.Generator().manual_seed(0)
    drawn = {sample_one(logits, params, [], g) for _ in range(400)}
    assert drawn <= allowed
    assert len(drawn) == len(allowed) or len(allowed) > 8  # small kept sets are fully explored


def test_greedy_and_top_k_one_take_the_argmax():
    logits = _logits(2)
    best = int(logits.argmax())
    assert sample_one(logits, SamplingParams(), [], None) == best
    assert (
        sample_one(logits, SamplingParams(temperature=1.0, top_k=1), [], torch.Generator()) == best
    )


def test_a_seed_fixes_the_draws():
    logits = _logits(3)
    params = SamplingParams(temperature=1.0)

    def draws(seed):
        g = torch.Generator().manual_seed(seed)
        return [sample_one(logits, params, [], g) for _ in range(20)]

    assert draws(1) == draws(1) != draws(2)


@pytest.mark.parametrize(
    "bad", [dict(temperature=-1), dict(top_p=0), dict(top_k=-1), dict(max_tokens=0)]
)
def test_invalid_settings_are_rejected(bad):
    with pytest.raises(ValueError):
        SamplingParams(**bad)
