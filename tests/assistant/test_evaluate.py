"""The evaluation command end to end with the default model: on a slice of the shared development
set, and on a store and scenarios written here (orders served by its local HTTP endpoint)."""

import io
import json
import os
from pathlib import Path

import pytest
from django.core.management import call_command

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

EVAL_DIR = Path(
    os.environ.get("PARLEY_EVAL_DIR") or Path(__file__).resolve().parents[3] / "shared" / "eval"
)
KEYS = {
    "bot_resolution_rate",
    "escalation_recall",
    "escalation_precision",
    "cost_per_dialogue",
    "tokens_per_dialogue",
    "ttft_p50_ms",
    "ttft_p95_ms",
    "per_intent",
    "invented_fact_errors",
}


def evaluate(*args: str) -> tuple[dict, str]:
    out = io.StringIO()
    call_command("evaluate", *args, "--json", stdout=out)
    lines = out.getvalue().strip().splitlines()
    return json.loads(lines[-1]), out.getvalue()


def test_a_slice_of_the_development_set():
    kb = EVAL_DIR / "harbor-pine" / "kb"
    if not kb.is_dir():
        pytest.skip(f"no shared evaluation data at {EVAL_DIR}")
    figures, text = evaluate(
        "--kb", str(kb), "--scenarios", str(kb.parent / "scenarios.jsonl"), "--limit", "3"
    )
    assert KEYS <= figures.keys() and figures["dialogues"] == 3
    assert 0 <= figures["bot_resolution_rate"] <= 1
    assert figures["tokens_per_dialogue"] > 0 and figures["ttft_p50_ms"] > 0
    assert "bot resolution rate:" in text


def test_orders_handoffs_and_answers_on_a_store_written_here(tmp_path):
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "care.md").write_text(
        "# Caring for cast iron\n\n## Seasoning\nRub a thin layer of flaxseed oil on the pan and "
        "bake it at 230 °C for one hour.\n\n## Cleaning\nRinse with hot water only; never use "
        "the dishwasher.\n"
    )
    scenarios = tmp_path / "scenarios.jsonl"
    rows = [
        {
            "id": "t-1",
            "intent": "track_order",
            "turns": ["where is my order 4400218?"],
            "orders": {"4400218": {"status": "Shipped", "tracking_number": "ZX81"}},
            "expect": {"escalate": False, "facts": [["Shipped"], ["ZX81"]]},
        },
        {
            "id": "t-2",
            "intent": "complaint",
            "turns": ["I want to file a complaint against your company"],
            "expect": {"escalate": True, "facts": []},
        },
        {
            "id": "t-3",
            "intent": "care",
            "turns": ["can I put the cast iron pan in the dishwasher?"],
            "expect": {"escalate": False, "facts": [["dishwasher"]]},
        },
    ]
    scenarios.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    figures, _ = evaluate("--kb", str(kb), "--scenarios", str(scenarios))
    assert figures["per_intent"]["track_order"]["passed"] == 1
    assert figures["escalation_recall"] == 1.0 and figures["escalation_precision"] == 1.0
    assert figures["invented_fact_errors"] == 0
