"""Measuring the assistant on scripted dialogues (format and scoring: shared/eval/README.md).

A store is made from a folder of Markdown articles; each scenario becomes a conversation of a
verified shopper whose turns go through the same path as a widget message (stored by the
conversations services, answered by the `generate_reply` Celery task); orders a scenario lists are
served by a real local HTTP order-status endpoint configured as the store's integration.
"""

import json
import re
import secrets
import time
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from django.utils.text import slugify

from chatbot.conversations import services
from chatbot.conversations.costs import percentile, reply_cost
from chatbot.conversations.models import Conversation, Message
from chatbot.conversations.tasks import generate_reply
from chatbot.knowledge.indexing import index_stale_articles
from chatbot.knowledge.models import Article
from chatbot.stores.models import Store

from .grounding import invented_figures
from .models import ReplyTrace
from .order_endpoint import OrderEndpoint


@dataclass(frozen=True)
class Scenario:
    id: str
    intent: str
    turns: list[str]
    orders: dict[str, dict]
    escalate: bool
    facts: list[list[str]]

    @classmethod
    def parse(cls, line: str) -> "Scenario":
        data = json.loads(line)
        expect = data.get("expect", {})
        return cls(
            id=str(data["id"]),
            intent=str(data.get("intent", "")),
            turns=[str(t) for t in data["turns"]],
            orders=dict(data.get("orders") or {}),
            escalate=bool(expect.get("escalate", False)),
            facts=[list(group) for group in expect.get("facts", [])],
        )


def load_scenarios(path: Path, limit: int | None = None) -> list[Scenario]:
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [Scenario.parse(line) for line in lines[:limit]]


def load_articles(kb_dir: Path) -> list[tuple[str, str]]:
    """(title, body) per Markdown file: the title is the first heading, else the file name."""
    articles = []
    for path in sorted(kb_dir.glob("*.md")):
        body = path.read_text(encoding="utf-8")
        heading = re.search(r"^#\s+(.+?)\s*$", body, re.MULTILINE)
        title = heading.group(1) if heading else path.stem.replace("-", " ").capitalize()
        articles.append((title[:200], body))
    return articles


def _plain(text: str) -> str:
    return text.replace("–", "-").replace("—", "-").lower()


def facts_pass(replies: str, facts: list[list[str]]) -> bool:
    """Every group has one alternative in the replies (case-insensitive, en/em dash as '-')."""
    said = _plain(replies)
    return all(any(_plain(alternative) in said for alternative in group) for group in facts)


@dataclass
class Result:
    scenario: Scenario
    escalated: bool
    facts_ok: bool
    replies: list[str]
    tokens: int
    cost: float
    ttfts: list[float]
    turn_seconds: list[float]
    invented: list[str]
    routes: list[str] = field(default_factory=list)

    @property
    def resolved(self) -> bool:
        return not self.scenario.escalate and self.facts_ok and not self.escalated


class Evaluation:
    def __init__(self, kb_dir: Path, hourly_price: Decimal, store_name: str):
        self.kb_dir = kb_dir
        self.hourly_price = hourly_price
        self.store_name = store_name
        self.store: Store | None = None
        self.endpoint: OrderEndpoint | None = None
        self.kb_text = ""
        self.index_seconds = 0.0

    def set_up(self) -> None:
        from chatbot.integrations.models import StoreIntegration

        articles = load_articles(self.kb_dir)
        if not articles:
            raise ValueError(f"no Markdown articles in {self.kb_dir}")
        suffix = secrets.token_hex(4)
        self.store = Store.objects.create(
            name=self.store_name,
            slug=f"{slugify(self.store_name)[:60] or 'store'}-eval-{suffix}",
            hourly_price=self.hourly_price,
        )
        for title, body in articles:
            Article.objects.create(store=self.store, title=title, body=body)
        self.kb_text = "\n".join(body for _, body in articles)
        started = time.perf_counter()
        index_stale_articles(self.store.pk)
        self.index_seconds = time.perf_counter() - started
        self.endpoint = OrderEndpoint().start()
        StoreIntegration.objects.create(
            store=self.store,
            order_status_url=self.endpoint.url,
            order_auth=StoreIntegration.OrderAuth.BEARER,
            order_auth_secret=self.endpoint.token,
        )

    def tear_down(self, keep: bool) -> None:
        if self.endpoint is not None:
            self.endpoint.stop()
        if self.store is not None and not keep:
            self.store.delete()

    def run(self, scenario: Scenario, number: int) -> Result:
        customer = f"eval-customer-{number}"
        self.endpoint.serve(customer, scenario.orders)
        conversation = Conversation.objects.create(
            store=self.store, shopper_id=f"eval-shopper-{number:05d}", verified_identity=customer
        )
        turn_seconds = []
        for i, text in enumerate(scenario.turns):
            started = time.perf_counter()
            services.receive_shopper_message(conversation, f"eval-{number}-{i}", text)
            if services.needs_reply(conversation.pk):
                # The reply task itself, run in this process (eagerly), as a worker would run it.
                generate_reply.apply(args=(conversation.pk,), throw=True)
            turn_seconds.append(time.perf_counter() - started)
        conversation.refresh_from_db()
        bots = list(conversation.messages.filter(role=Message.Role.BOT).order_by("pk"))
        replies = [m.text for m in bots]
        escalated = conversation.state in (
            Conversation.State.ESCALATED,
            Conversation.State.HUMAN,
        ) or conversation.outcome in ("escalated", "resolved_staff")
        sources = "\n".join([self.kb_text, *scenario.turns, json.dumps(scenario.orders)])
        invented = sorted({n for text in replies for n in invented_figures(text, sources)})
        routes = list(
            ReplyTrace.objects.filter(message__in=bots)
            .order_by("message__pk")
            .values_list("route", flat=True)
        )
        return Result(
            scenario=scenario,
            escalated=escalated,
            facts_ok=facts_pass("\n".join(replies), scenario.facts),
            replies=replies,
            tokens=sum((m.prompt_tokens or 0) + (m.completion_tokens or 0) for m in bots),
            cost=sum(reply_cost(m.shared_engine_seconds, self.hourly_price) for m in bots),
            ttfts=[m.time_to_first_token for m in bots if m.time_to_first_token is not None],
            turn_seconds=turn_seconds,
            invented=invented,
            routes=routes,
        )


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def summarize(results: list[Result]) -> dict:
    answerable = [r for r in results if not r.scenario.escalate]
    handover = [r for r in results if r.scenario.escalate]
    escalated = [r for r in results if r.escalated]
    ttfts = [t for r in results for t in r.ttfts]
    turns = [t for r in results for t in r.turn_seconds]
    per_intent: dict[str, dict] = defaultdict(lambda: {"n": 0, "passed": 0, "escalated": 0})
    for r in results:
        row = per_intent[r.scenario.intent]
        row["n"] += 1
        row["escalated"] += r.escalated
        row["passed"] += r.escalated if r.scenario.escalate else r.resolved
    n = len(results)
    return {
        "dialogues": n,
        "bot_resolution_rate": _rate(sum(r.resolved for r in answerable), len(answerable)),
        "escalation_recall": _rate(sum(r.escalated for r in handover), len(handover)),
        "escalation_precision": _rate(sum(r.scenario.escalate for r in escalated), len(escalated)),
        "cost_per_dialogue": round(sum(r.cost for r in results) / n, 8) if n else None,
        "tokens_per_dialogue": round(sum(r.tokens for r in results) / n, 1) if n else None,
        "ttft_p50_ms": _ms(percentile(ttfts, 50)),
        "ttft_p95_ms": _ms(percentile(ttfts, 95)),
        "turn_p50_ms": _ms(percentile(turns, 50)),
        "turn_p95_ms": _ms(percentile(turns, 95)),
        "model_replies": len(ttfts),
        "invented_fact_errors": sum(bool(r.invented) for r in results),
        "per_intent": {
            intent: {**row, "rate": _rate(row["passed"], row["n"])}
            for intent, row in sorted(per_intent.items())
        },
    }


def _ms(seconds: float | None) -> float | None:
    return round(seconds * 1000, 1) if seconds is not None else None
