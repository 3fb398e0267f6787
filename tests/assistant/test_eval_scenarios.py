"""The project's own evaluation stores are well formed: every scenario parses, and every fact it
expects is written in the store's articles, its order records or the order system's own wording ("we
couldn't find order …"): a fact no source holds could never pass, and would count against the bot."""

import json
from pathlib import Path

import pytest

from chatbot.assistant.evaluation import facts_pass, load_articles, load_scenarios
from chatbot.integrations import order_replies, orders

STORES = Path(__file__).resolve().parents[2] / "chatbot/assistant/eval_scenarios"


@pytest.mark.parametrize(
    "store", sorted(str(p.parent.relative_to(STORES)) for p in STORES.glob("**/kb") if p.is_dir())
)
def test_every_expected_fact_is_in_the_stores_articles_or_orders(store):
    kb = "\n".join(body for _, body in load_articles(STORES / store / "kb"))
    scenarios = load_scenarios(STORES / store / "scenarios.jsonl")
    assert len({s.id for s in scenarios}) == len(scenarios) >= 40
    for scenario in scenarios:
        numbers = scenario.orders or {"0": {}}
        failures = [
            order_replies.wording(orders.LookupFailure(reason, number))
            for reason in orders.Failure
            for number in numbers
        ]
        known = "\n".join([kb, json.dumps(scenario.orders, ensure_ascii=False), *failures])
        groups = [*scenario.facts, *(g for part in scenario.parts or [] if part for g in part)]
        assert facts_pass(known, groups), scenario.id
        if scenario.abstain:
            assert scenario.escalate and not scenario.facts, scenario.id
