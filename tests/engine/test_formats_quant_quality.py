"""The int4 quality measurement: its scores on known logits, and a run on a tiny checkpoint."""

import math

import torch
from tiny_models import make_hf_checkpoint

from inference.formats.quant_quality import compare_logits, measure


def test_identical_logits_score_perfectly():
    logits = torch.randn(6, 10)
    ids = [1, 2, 3, 4, 5, 6]
    scores = compare_logits(logits, logits.clone(), ids)
    assert scores["tokens"] == 5 and scores["top1_agreement"] == 1.0
    assert scores["ppl_ratio"] == 1.0 and abs(scores["mean_kl"]) < 1e-6
    expected_nll = -logits[:-1].log_softmax(-1)[torch.arange(5), torch.tensor(ids[1:])].mean()
    assert math.isclose(scores["ppl_float"], math.exp(expected_nll), rel_tol=1e-5)


def test_disagreeing_logits_are_counted():
    ref = torch.eye(4) * 5
    test = ref.clone()
    test[1] = torch.tensor([0.0, 0.0, 0.0, 5.0])
    scores = compare_logits(ref, test, [0, 1, 2, 3])
    assert math.isclose(scores["top1_agreement"], 2 / 3, rel_tol=1e-6) and scores["mean_kl"] > 0


def test_measure_on_a_tiny_checkpoint(tmp_path):
    make_hf_checkpoint("qwen2_moe", tmp_path)
    text = " ".join(f"t{(7 * i) % 128}" for i in range(40))
    scores = measure(str(tmp_path), group_size=32, text=text)
    assert scores["tokens"] == 39 and scores["int4_share_by_group"] == {"32": 1.0}
    assert 0.0 <= scores["top1_agreement"] <= 1.0 and scores["mean_kl"] > 0
    assert math.isclose(scores["ppl_ratio"], scores["ppl_int4"] / scores["ppl_float"], rel_tol=1e-9)
