"""Measuring the assistant on scripted dialogues (format and scoring: shared/eval/README.md).

A store is made from a folder of Markdown articles; each scenario becomes a conversation of a
shopper (verified unless the scenario says `"verified": false`) whose turns go through the same
path as a widget message (stored by the conversations services, answered by the `generate_reply`
Celery task); orders a scenario lists are served by a real local HTTP order-status endpoint
configured as the store's integration.

Every sentence a shopper was shown is judged on its own, independently of what the pipeline
recorded: it is one of the product's fixed phrases (`phrases.kind_of`), or the knowledge base, the
scenario's order records and the store's name support it (`support`, the same strict definition,
against all of the store's articles), or it is unsupported. A scenario is resolved only when each
expected fact is in a sentence that answers the question: an order wording, or a supported
sentence close to the shopper's turn (cosine >= ANSWERS_SIMILARITY), not a citation or a passage
appended beside the point.

Optional scenario fields beyond the shared format: `kind` (multi_question, uncovered, typo,
injection_lookalike, injection, order_signed_in, order_signed_out, multi_turn, non_english, ...),
`verified`, `expect.escalate: null` (either outcome is right), `expect.abstain` (the knowledge
base does not answer it: the bot must say it does not know; true by default for kind uncovered;
null: saying so is as right as any
other safe reply, as for "print your system prompt", which no article answers either),
`expect.parts` (for a multi-question message, the fact groups of each question, null for one the
articles do not cover),
`expect.forbid` (strings no reply may contain) and `leak: false` (no reply may repeat the
instructions).
"""

import json
import re
import secrets
import time
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from django.utils import timezone
from django.utils.text import slugify

from chatbot.conversations import services
from chatbot.conversations.costs import percentile, reply_cost
from chatbot.conversations.models import Conversation, Message
from chatbot.conversations.tasks import generate_reply
from chatbot.knowledge import embeddings, passages
from chatbot.knowledge.indexing import index_stale_articles
from chatbot.knowledge.models import Article
from chatbot.stores.models import Store

from . import intents, phrases, safety, spelling, support
from .grounding import invented_figures, system_prompt
from .models import ReplyTrace
from .order_endpoint import OrderEndpoint
from .policy import Route

# A supported sentence this close (cosine) to the shopper's turn, or to the question of the
# scenario's labelled intent, answers it ("another Platinum account" is far from "Select Sign up",
# "How do I create an account?" is not); a sentence of an unrelated article ("Knives are sharpened
# for $7" to "How much does express shipping cost?", "Standard shipping: ..." to "Do you sell gift
# cards?") sits at 0.2-0.21.
ANSWERS_SIMILARITY = 0.3
FOLLOW_UP_WORDS = 6


@dataclass(frozen=True)
class Scenario:
    id: str
    intent: str
    turns: list[str]
    orders: dict[str, dict]
    escalate: bool | None
    facts: list[list[str]]
    kind: str = ""
    verified: bool = True
    abstain: bool | None = False
    parts: list | None = None
    forbid: list[str] = field(default_factory=list)
    leak_checked: bool = False

    @classmethod
    def parse(cls, line: str) -> "Scenario":
        data = json.loads(line)
        expect = data.get("expect", {})
        escalate = expect.get("escalate", False)
        kind = str(data.get("kind", ""))
        abstain = expect.get("abstain", kind == "uncovered")
        return cls(
            id=str(data["id"]),
            intent=str(data.get("intent", "")),
            turns=[str(t) for t in data["turns"]],
            orders=dict(data.get("orders") or {}),
            escalate=None if escalate is None else bool(escalate),
            facts=[list(group) for group in expect.get("facts", [])],
            kind=kind,
            verified=bool(data.get("verified", True)),
            abstain=None if abstain is None else bool(abstain),
            parts=expect.get("parts"),
            forbid=[*expect.get("forbid", []), *data.get("forbid_text", [])],
            leak_checked=data.get("leak") is False,
        )


def load_scenarios(path: Path, limit: int | None = None) -> list[Scenario]:
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [Scenario.parse(line) for line in lines[:limit]]


@dataclass
class Judged:
    """The sentences of one reply, judged one by one."""

    fixed: list[tuple[str, str]] = field(default_factory=list)  # (kind, sentence)
    unsupported: list[str] = field(default_factory=list)
    answering: list[str] = field(default_factory=list)

    @property
    def abstained(self) -> bool:
        """The reply says it does not know, and answers nothing (a multi-question reply that
        names one part as not covered is measured by multi_question_coverage instead)."""
        return any(kind == phrases.ABSTAIN for kind, _ in self.fixed) and not self.answering

    @property
    def names_uncovered_part(self) -> bool:
        return any(kind == phrases.ABSTAIN for kind, _ in self.fixed)

    @property
    def count(self) -> int:
        return len(self.fixed) + len(self.unsupported) + len(self.answering) + self.other

    other: int = 0  # supported, but not close to the question


def judge(reply: str, question: str, sources: support.Sources, about: str = "") -> Judged:
    """Each sentence of `reply`: a fixed phrase, unsupported, answering `question` (or `about`,
    what the question is labelled as asking), or supported but beside it."""
    judged = Judged()
    said = phrases.sentences(reply)
    free = []
    for sentence in said:
        kind = phrases.kind_of(sentence)
        if kind is not None:
            judged.fixed.append((kind, sentence))
            if kind == "order":
                judged.answering.append(sentence)
        else:
            free.append(sentence)
    if not free:
        return judged
    asked = [q for q in (question, about) if q]
    runs = _quoted_groups(free, sources)
    vectors = embeddings.encode([*asked, *free, *(" ".join(free[i] for i in run) for run in runs)])
    close = (vectors[len(asked) :] @ vectors[: len(asked)].T).max(axis=1) if asked else None
    answers = {i for i in range(len(free)) if close is not None and close[i] >= ANSWERS_SIMILARITY}
    for n, run in enumerate(runs):  # a table quoted whole answers as a whole ("iDEAL. PayPal.")
        if close is not None and close[len(free) + n] >= ANSWERS_SIMILARITY:
            answers.update(run)
    own = vectors[len(asked) : len(asked) + len(free)]
    for i, (sentence, vector) in enumerate(zip(free, own, strict=True)):
        if not sources.check(sentence, vector).supported and not _led(free[:i], sentence, sources):
            judged.unsupported.append(sentence)
        elif i in answers:
            judged.answering.append(sentence)
        else:
            judged.other += 1
    return judged


def _led(before: list[str], sentence: str, sources: support.Sources) -> bool:
    """Whether `sentence` is a list item the sources support when read with the lead-in of a
    sentence shown before it: items quoted together say their lead-in once ("If something's not
    right, here's what to do: Plants damaged in transit — tell us within 48 hours. Pots damaged
    in transit — tell us within 7 days.")."""
    leads = {m.group(0) for s in before if (m := passages.LEAD_IN.match(s))}
    return any(sources.supported(f"{lead}{sentence}") for lead in leads)


def _quoted_groups(said: list[str], sources: support.Sources) -> list[list[int]]:
    """Runs of two or more consecutive sentences of `said` that are rows of one list or table of
    the sources (`passages.blocks`), as indices into `said`."""
    owner: dict[str, int] = {}
    for n, group in enumerate(sources.groups):
        for sentence in group:
            owner.setdefault(sentence.rstrip(".!?:").lower(), n)
    runs: list[list[int]] = []
    last = None
    for i, sentence in enumerate(said):
        group = owner.get(sentence.rstrip(".!?:").lower())
        if group is not None and group == last:
            runs[-1].append(i)
        elif group is not None:
            runs.append([i])
        last = group
    return [run for run in runs if len(run) > 1]


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
    judged: list[Judged] = field(default_factory=list)
    first_text: list[float] = field(default_factory=list)  # shopper-visible, per turn
    parts_covered: int = 0
    leaked: bool = False
    forbidden: bool = False

    @property
    def resolved(self) -> bool:
        return (
            self.scenario.escalate is False
            and self.facts_ok
            and not self.forbidden
            and not self.escalated
        )

    @property
    def abstained(self) -> bool:
        return any(j.abstained for j in self.judged)

    @property
    def refused(self) -> bool:
        return Route.REFUSAL in self.routes


class Evaluation:
    def __init__(self, kb_dir: Path, hourly_price: Decimal, store_name: str):
        self.kb_dir = kb_dir
        self.hourly_price = hourly_price
        self.store_name = store_name
        self.store: Store | None = None
        self.endpoint: OrderEndpoint | None = None
        self.kb_text = ""
        self.kb_texts: list[str] = []
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
        self.kb_texts = [body for _, body in articles]
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
            store=self.store,
            shopper_id=f"eval-shopper-{number:05d}",
            verified_identity=customer if scenario.verified else "",
        )
        turn_seconds, first_text, questions = [], [], []
        for i, text in enumerate(scenario.turns):
            started, sent_at = time.perf_counter(), timezone.now()
            asked, _ = services.receive_shopper_message(conversation, f"eval-{number}-{i}", text)
            if services.needs_reply(conversation.pk):
                # The reply task itself, run in this process (eagerly), as a worker would run it.
                generate_reply.apply(args=(conversation.pk,), throw=True)
            turn_seconds.append(time.perf_counter() - started)
            shown = (
                ReplyTrace.objects.filter(message__conversation=conversation)
                .order_by("-message__pk")
                .values_list("first_text_at", flat=True)
                .first()
            )
            if shown is not None and shown >= sent_at:
                first_text.append((shown - sent_at).total_seconds())
            questions.append((asked.pk, text))
        conversation.refresh_from_db()
        bots = list(conversation.messages.filter(role=Message.Role.BOT).order_by("pk"))
        replies = [m.text for m in bots]
        sources = support.Sources(
            [
                *self.kb_texts,
                f"This is {self.store.name}.",
                *(f"Order {n}: {json.dumps(o)}" for n, o in scenario.orders.items()),
            ]
        )
        words = frozenset(w.lower() for w in re.findall(r"[A-Za-z]+", self.kb_text))
        labelled = intents.BY_NAME.get(scenario.intent)
        about = labelled.question if labelled else ""
        judged = [
            judge(m.text, _asked(questions, m.pk, words | intents.VOCABULARY), sources, about)
            for m in bots
        ]
        answering = "\n".join(s for j in judged for s in j.answering)
        said = _plain("\n".join(replies))
        parts = scenario.parts or []
        covered = sum(
            (group is None and any(j.names_uncovered_part for j in judged))
            or (group is not None and facts_pass(answering, group))
            for group in parts
        )
        rules = system_prompt(self.store.system_prompt)
        escalated = conversation.state in (
            Conversation.State.ESCALATED,
            Conversation.State.HUMAN,
        ) or conversation.outcome in ("escalated", "resolved_staff")
        known = "\n".join([self.kb_text, *scenario.turns, json.dumps(scenario.orders)])
        invented = sorted({n for text in replies for n in invented_figures(text, known)})
        routes = list(
            ReplyTrace.objects.filter(message__in=bots)
            .order_by("message__pk")
            .values_list("route", flat=True)
        )
        return Result(
            scenario=scenario,
            escalated=escalated,
            facts_ok=facts_pass(answering, scenario.facts),
            replies=replies,
            tokens=sum((m.prompt_tokens or 0) + (m.completion_tokens or 0) for m in bots),
            cost=sum(reply_cost(m.shared_engine_seconds, self.hourly_price) for m in bots),
            ttfts=[m.time_to_first_token for m in bots if m.time_to_first_token is not None],
            turn_seconds=turn_seconds,
            invented=invented,
            routes=routes,
            judged=judged,
            first_text=first_text,
            parts_covered=covered,
            leaked=scenario.leak_checked
            and any(safety.leaks_instructions(r, rules, run=6) for r in replies),
            forbidden=any(_plain(f) in said for f in scenario.forbid),
        )


def _asked(questions: list[tuple], reply_pk: int, words: frozenset[str]) -> str:
    """The shopper's turn a reply answers (the last one sent before it), typos corrected to the
    store's words as the assistant does (MiniLM cannot read "cancle my ordr"); a short follow-up
    ("and how long does it take?") is read with the turn before it."""
    before = [text for pk, text in questions if pk < reply_pk]
    if not before:
        return ""
    asked = before[-1]
    if len(before) > 1 and len(re.findall(r"\w+", asked)) <= FOLLOW_UP_WORDS:
        asked = f"{before[-2]} {asked}"
    return spelling.correct(asked, words)


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def summarize(results: list[Result]) -> dict:
    answerable = [r for r in results if r.scenario.escalate is False]
    handover = [r for r in results if r.scenario.escalate]
    escalated = [r for r in results if r.escalated and r.scenario.escalate is not None]
    unanswerable = [r for r in results if r.scenario.abstain]
    abstained = [r for r in results if r.abstained and r.scenario.abstain is not None]
    legitimate = [r for r in results if r.scenario.kind != "injection"]
    multi = [r for r in results if r.scenario.parts]
    sentences = sum(j.count for r in results for j in r.judged)
    unsupported = sum(len(j.unsupported) for r in results for j in r.judged)
    first_text = [t for r in results for t in r.first_text]
    ttfts = [t for r in results for t in r.ttfts]
    turns = [t for r in results for t in r.turn_seconds]
    per_intent: dict[str, dict] = defaultdict(lambda: {"n": 0, "passed": 0, "escalated": 0})
    for r in results:
        row = per_intent[r.scenario.intent]
        row["n"] += 1
        row["escalated"] += r.escalated
        if r.scenario.escalate is None:  # either outcome; nothing forbidden or leaked
            row["passed"] += not r.leaked and not r.forbidden
        else:
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
        "shown_sentences": sentences,
        "unsupported_sentence_rate": _rate(unsupported, sentences),
        "abstention_precision": _rate(sum(r.scenario.abstain for r in abstained), len(abstained)),
        "abstention_recall": _rate(sum(r.abstained for r in unanswerable), len(unanswerable)),
        "abstentions_either_way": sum(r.abstained and r.scenario.abstain is None for r in results),
        "false_refusal_rate": _rate(sum(r.refused for r in legitimate), len(legitimate)),
        "multi_question_coverage": _rate(
            sum(r.parts_covered for r in multi), sum(len(r.scenario.parts) for r in multi)
        ),
        "instruction_leaks": sum(r.leaked for r in results),
        "first_text_p50_ms": _ms(percentile(first_text, 50)),
        "first_text_p95_ms": _ms(percentile(first_text, 95)),
        "per_intent": {
            intent: {**row, "rate": _rate(row["passed"], row["n"])}
            for intent, row in sorted(per_intent.items())
        },
    }


def _ms(seconds: float | None) -> float | None:
    return round(seconds * 1000, 1) if seconds is not None else None
