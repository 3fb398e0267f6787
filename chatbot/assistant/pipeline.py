"""One bot reply, from the shopper's pending messages to the stored answer.

The reply worker (chatbot.conversations.replies) calls `start`, streams the returned reply's
deltas to the conversation like an engine stream, stores `reply.text`, and calls `reply.record`
with the stored message. In between, this module decides the route (policy), retrieves passages,
looks up orders, builds the grounded prompt, and checks what the model said.
"""

import logging
import re
import threading
from dataclasses import dataclass, field

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from chatbot.conversations import prompt as conversation_prompt
from chatbot.conversations.models import Conversation, Message
from chatbot.engine import cache_salt
from chatbot.knowledge import embeddings, retrieval
from chatbot.knowledge.retrieval import Hit

from . import grounding, intents, policy, spelling
from .models import ReplyTrace, RetrievedPassage
from .policy import Route

log = logging.getLogger(__name__)

# Few, short earlier turns: a small model loses the question in a long prompt.
HISTORY_MESSAGES = 6
OPEN_HISTORY = 200
ANSWER_MAX_TOKENS = 64
# Greedy decoding loops on a small model ("You can also visit ... You can also visit ..."); a mild
# penalty and stopping at the first blank line keep the answer to its first sentences.
ANSWER_REPETITION_PENALTY = 1.15
SEARCH_K = 5
# A follow-up this short ("and for express?") is searched together with the previous question.
SHORT_FOLLOW_UP_WORDS = 4
MAX_ORDER_LOOKUPS = 3
ASSISTANT_MODEL = "parley-assistant"
ASK_ORDER_NUMBER = "I can look that up for you. What is your order number?"
SIGN_IN_FOR_ORDERS = (
    "I can only share order details with signed-in customers. Please sign in to your account on "
    "our site and ask me again, or ask for a person from our team."
)


@dataclass
class FixedUsage:
    """Engine-shaped usage of a reply no model produced: it costs no engine time."""

    model: str = ASSISTANT_MODEL
    prompt_tokens: int = 0
    cached_prompt_tokens: int = 0
    completion_tokens: int = 0
    engine_seconds: float = 0.0
    shared_engine_seconds: float = 0.0
    time_to_first_token: float | None = None
    finish_reason: str = "stop"

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class Reply:
    """A reply being produced: iterate it for text deltas, then read `text` and `usage`."""

    request_id: str
    route: str
    reason: str = ""
    match: intents.Match | None = None
    hits: list[Hit] = field(default_factory=list)
    fixed_text: str = ""
    stream: object = None  # the engine stream when the model answers
    found: grounding.Evidence | None = None
    sources: str = ""
    instructions: str = ""
    question: str = ""
    checked: grounding.Checked | None = None
    text: str = ""
    usage: object = field(default_factory=FixedUsage)

    def __iter__(self):
        if self.stream is None:
            self.text = self.fixed_text
            yield from _words(self.fixed_text)
            return
        parts = []
        grounded = self.found is not None
        for delta in self.stream:
            parts.append(delta)
            if not grounded:
                yield delta
        self.usage = self.stream.usage
        if not grounded:
            self.text = "".join(parts)
            return
        # A grounded answer is checked before the shopper sees any of it (the model's text may be
        # replaced), so it is held back while the model writes: a second or two for 64 tokens.
        if self.usage.finish_reason == "abort":
            self.text = ""  # stopped (staff took over): nothing unchecked is shown or stored
            return
        self.checked = grounding.check(
            "".join(parts), self.found, self.sources, self.instructions, self.question
        )
        self.text = self.checked.text
        yield from _words(self.text)

    def record(self, message: Message) -> None:
        """Store how this reply came about (call inside the transaction that stores `message`);
        a hand-over takes effect once that transaction commits."""
        checked = self.checked
        trace = ReplyTrace.objects.create(
            message=message,
            route=self.route,
            reason=self.reason[:40],
            intent=self.match.intent.name if self.match and self.match.intent else "",
            intent_similarity=self.match.similarity if self.match else None,
            quoted=bool(checked and checked.quoted),
            model_text_rejected=bool(checked and checked.rejected),
            invented_figures=checked.invented if checked else [],
        )
        cited = self.found.hit.entry.passage_id if self.found else None
        RetrievedPassage.objects.bulk_create(
            RetrievedPassage(
                trace=trace,
                passage_id=hit.entry.passage_id,
                rank=rank,
                label=hit.entry.label[:500],
                text=hit.entry.text,
                score=hit.score,
                cited=cited is not None and hit.entry.passage_id == cited,
            )
            for rank, hit in enumerate(self.hits)
        )
        if self.route == Route.HANDOFF:
            conversation_id = message.conversation_id
            transaction.on_commit(lambda: _escalate(conversation_id), robust=True)


def _words(text: str) -> list[str]:
    """Deltas for a finished text: word by word, as the engine would stream it."""
    return re.findall(r"\s*\S+\s*", text) if text.strip() else []


def _escalate(conversation_id: int) -> None:
    from chatbot.conversations import outcomes
    from chatbot.conversations.models import ConversationInfo

    outcomes.escalate(conversation_id, ConversationInfo.EscalatedBy.BOT)


# --- Deciding ---------------------------------------------------------------------------------
_question_lock = threading.Lock()
_question_vectors: dict[str, np.ndarray] = {}


def _question_vector(question: str) -> np.ndarray:
    with _question_lock:
        vector = _question_vectors.get(question)
    if vector is None:
        vector = embeddings.encode([question])[0]
        with _question_lock:
            _question_vectors[question] = vector
    return vector


def _earlier_shopper_text(conversation: Conversation, before_id: int) -> str:
    earlier = (
        conversation.messages.filter(role=Message.Role.SHOPPER, pk__lt=before_id)
        .order_by("-pk")
        .values_list("text", flat=True)
        .first()
    )
    return earlier or ""


def _answered_questions(conversation: Conversation, before_id: int) -> list[str]:
    """Earlier shopper messages that got an answer from the knowledge base or the order system."""
    out: list[str] = []
    pending: list[str] = []
    for message in conversation.messages.filter(pk__lt=before_id).order_by("pk"):
        if message.role == Message.Role.SHOPPER:
            pending.append(message.text)
        elif message.role == Message.Role.BOT:
            route = ReplyTrace.objects.filter(message=message).values_list("route", flat=True)
            if route.first() in (Route.ANSWER, Route.ORDER):
                out.extend(pending)
            pending = []
    return out[-10:]


def _repeats(vector: np.ndarray, text: str, earlier: list[str]) -> bool:
    if not earlier:
        return False
    said = grounding.normalise(text).strip(" ?!.")
    if any(grounding.normalise(e).strip(" ?!.") == said for e in earlier):
        return True
    return bool((embeddings.encode(earlier) @ vector).max() >= policy.REPEAT_SIMILARITY)


def _last_bot_trace(conversation: Conversation, before_id: int) -> ReplyTrace | None:
    return (
        ReplyTrace.objects.filter(message__conversation=conversation, message__pk__lt=before_id)
        .order_by("-message__pk")
        .first()
    )


@dataclass(frozen=True)
class Plan:
    """What the assistant decided for the pending messages, and what it decided on."""

    decision: policy.Decision
    match: intents.Match
    hits: list[Hit]
    evidence_vector: np.ndarray  # the question (and its intent's question) as one unit vector
    order_numbers: list[str]


def plan(conversation: Conversation, pending: list[Message]) -> Plan:
    """Classify, retrieve and apply the policy to `pending` (the shopper's unanswered messages)."""
    index = retrieval.store_index(conversation.store_id)
    written = "\n".join(m.text for m in pending).strip()
    text = spelling.correct(written, index.words | intents.VOCABULARY)
    query = text
    if len(re.findall(r"\w+", text)) <= SHORT_FOLLOW_UP_WORDS:
        query = f"{_earlier_shopper_text(conversation, pending[0].pk)}\n{text}".strip()
    own_vector = embeddings.encode([text])[0]
    vector = own_vector if query == text else embeddings.encode([query])[0]
    match = intents.classify(own_vector)

    last = _last_bot_trace(conversation, pending[0].pk)
    numbers = intents.order_numbers(written)
    if last is not None and last.route == Route.ORDER and last.reason == "asked_number":
        if numbers or re.fullmatch(r"\W*#?\s*[A-Za-z0-9-]{3,}\W*", written):
            numbers = numbers or [re.sub(r"[^A-Za-z0-9-]", "", written)]
            match = intents.Match(intents.BY_NAME["track_order"], 1.0)

    expansion = None
    evidence_vector = vector
    if match.intent is not None and match.intent.question:
        expansion = _question_vector(match.intent.question)
        evidence_vector = (vector + expansion) / (np.linalg.norm(vector + expansion) or 1.0)
    hits = index.search(query, SEARCH_K, query_vector=vector, expansion=expansion)
    relevance = max((h.relevance for h in hits), default=0.0)
    refusals = ReplyTrace.objects.filter(
        message__conversation=conversation, route=Route.REFUSAL, reason="abuse"
    ).count()
    turn = policy.Turn(
        text=text,
        match=match,
        relevance=relevance,
        grounded=bool(index.entries),
        repeated=_repeats(own_vector, text, _answered_questions(conversation, pending[0].pk)),
        refusals_before=refusals,
    )
    decision = policy.decide(turn)
    log.debug(
        "conversation %s: %s (%s), intent %s %.2f, relevance %.2f",
        conversation.pk,
        decision.route,
        decision.reason,
        match.intent.name if match.intent else "-",
        match.similarity,
        relevance,
    )
    return Plan(decision, match, hits, evidence_vector, numbers)


def start(conversation: Conversation, pending: list[Message], request_id: str, engine) -> Reply:
    """Decide and begin the reply to `pending`: a fixed text, or the engine's grounded answer."""
    planned = plan(conversation, pending)
    decision, hits = planned.decision, planned.hits
    reply = Reply(request_id, decision.route, decision.reason, planned.match, hits)
    if decision.route == Route.REFUSAL:
        reply.fixed_text = policy.REFUSALS[decision.reason]
    elif decision.route == Route.SMALLTALK:
        reply.fixed_text = policy.SMALLTALK[decision.reason]
    elif decision.route == Route.HANDOFF:
        reply.fixed_text = policy.handoff_text(
            decision.reason, _support_hours(conversation.store_id), timezone.now()
        )
    elif decision.route == Route.ORDER:
        answered = _order_reply(
            conversation, planned.order_numbers, hits, planned.evidence_vector, reply
        )
        if not answered:  # the store has no order system here: answer from its articles
            reply.route, reply.reason = Route.ANSWER, planned.match.intent.name
    if reply.route == Route.ANSWER and hits:
        _start_answer(conversation, pending, hits, planned.evidence_vector, engine, reply)
    elif reply.route == Route.ANSWER:
        _start_open_answer(conversation, pending, engine, reply)
    return reply


def _support_hours(store_id: int):
    from chatbot.stores.models import SupportHours

    return SupportHours.objects.filter(store_id=store_id).first()


def _order_reply(conversation, numbers, hits, vector, reply: Reply) -> bool:
    """Word the order system's answer; False when the store has no order system configured."""
    from chatbot.integrations import order_replies, orders
    from chatbot.integrations.identity import integration_for

    integration = integration_for(conversation.store)
    if integration is None or not integration.order_status_url:
        return False
    if not conversation.verified_identity:
        reply.reason, reply.fixed_text = "unverified", SIGN_IN_FOR_ORDERS
        return True
    if not numbers:
        reply.reason = "asked_number"
        reply.fixed_text = ASK_ORDER_NUMBER
        if hits:
            found = reply.found = grounding.evidence(hits, vector)
            reply.fixed_text += f"\n\nFrom our help article “{found.label}”: {found.quote}"
        return True
    parts = []
    for number in numbers[:MAX_ORDER_LOOKUPS]:
        result = _lookup(orders, integration, conversation.verified_identity, number)
        parts.append(order_replies.wording(result))
    reply.reason, reply.fixed_text = "looked_up", "\n\n".join(parts)
    return True


def _lookup(orders, integration, customer_id: str, number: str):
    """Look the number up as written, then without leading zeros ("00123842" is order 123842)."""
    result = orders.lookup(integration, customer_id, number)
    bare = number.lstrip("0")
    if isinstance(result, orders.LookupFailure) and result.reason == orders.Failure.NOT_FOUND:
        if bare and bare != number:
            retry = orders.lookup(integration, customer_id, bare)
            if not isinstance(retry, orders.LookupFailure):
                return retry
    return result


def _start_open_answer(conversation, pending, engine, reply: Reply) -> None:
    """A store without a knowledge base: persona and as much history as fits, sampled as the
    store's reply settings say."""
    from inference import SamplingParams

    store = conversation.store
    persona = store.system_prompt.strip() or conversation_prompt.default_persona(store.name)
    recent = conversation.messages.filter(pk__lte=pending[-1].pk).order_by("-pk")[:OPEN_HISTORY]
    messages = conversation_prompt.fit(
        persona,
        conversation_prompt.turns(reversed(recent)),
        engine.count_tokens,
        engine.max_context - settings.REPLY_MAX_TOKENS,
    )
    params = SamplingParams(
        temperature=settings.REPLY_TEMPERATURE,
        top_p=settings.REPLY_TOP_P,
        repetition_penalty=settings.REPLY_REPETITION_PENALTY,
        max_tokens=settings.REPLY_MAX_TOKENS,
    )
    reply.stream = engine.submit(
        messages, params, request_id=reply.request_id, priority=0, cache_salt=cache_salt(store.pk)
    )


def _start_answer(conversation, pending, hits, evidence_vector, engine, reply: Reply) -> None:
    from inference import SamplingParams

    store = conversation.store
    persona = store.system_prompt.strip() or conversation_prompt.default_persona(store.name)
    recent = conversation.messages.filter(pk__lte=pending[-1].pk).order_by("-pk")
    history = conversation_prompt.turns(reversed(list(recent[:HISTORY_MESSAGES])))
    if not history or history[-1]["role"] != "user":
        history.append({"role": "user", "content": pending[-1].text})
    max_tokens = min(settings.REPLY_MAX_TOKENS, ANSWER_MAX_TOKENS)
    messages = grounding.build_messages(
        persona, history, hits, engine.count_tokens, engine.max_context - max_tokens
    )
    reply.found = grounding.evidence(hits, evidence_vector)
    reply.instructions = grounding.system_prompt(persona)
    reply.question = history[-1]["content"]
    reply.sources = "\n".join([*(h.entry.text for h in hits), *(t["content"] for t in history)])
    # Greedy: the most likely wording of the passage is the faithful one.
    params = SamplingParams(
        temperature=0.0,
        repetition_penalty=ANSWER_REPETITION_PENALTY,
        max_tokens=max_tokens,
        stop=["\n\n", "Question:", "Article:"],
    )
    reply.stream = engine.submit(
        messages, params, request_id=reply.request_id, priority=0, cache_salt=cache_salt(store.pk)
    )
