"""One bot reply, from the shopper's pending messages to the stored answer.

The reply worker (chatbot.conversations.replies) calls `start`, streams the returned reply's
deltas to the conversation like an engine stream, stores `reply.text`, and calls `reply.record`
with the stored message. In between, this module decides the route (policy), splits a message that
asks several things into its questions, retrieves passages for each, looks up orders, builds the
grounded prompt, and lets through only the model's sentences that a source supports (`support`),
each as soon as it is complete.
"""

import logging
import re
import threading
from dataclasses import dataclass, field, replace

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from chatbot.conversations import prompt as conversation_prompt
from chatbot.conversations.models import Conversation, Message
from chatbot.engine import cache_salt
from chatbot.knowledge import embeddings, passages, retrieval
from chatbot.knowledge.retrieval import Hit

from . import grounding, intents, phrases, policy, questions, spelling, support
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
# How sure the intent must be for its question to rank passages with its full weight
# (`_expansion`; retrieval.EXPANSION_WEIGHT): none at INTENT_UNSURE, all from INTENT_SURE. On the
# read stores' first turns, this put the passage holding the expected facts first for 140 of the
# 191 answerable questions of the six stores written as shoppers write (135 with the question
# always at full weight) and for 178 of the development store's 216 short requests (179); in full
# `evaluate` runs it moved bot resolution by +1 scenario on VoltBay, Tallow and Fernleaf, -1 on
# Copperline, 0 on the development store (0.45 to 0.75 gained 5 scenarios and lost 6).
INTENT_UNSURE, INTENT_SURE = 0.40, 0.65
# A follow-up this short ("and for express?") is searched together with the previous question.
SHORT_FOLLOW_UP_WORDS = 6
# So is a longer one that goes on from it ("and if we want to buy it outright after, how much is
# it?"): the shopper's own word for "about what I just asked".
GOES_ON = re.compile(r"^\W*(?:and|also|plus|what about|how about)\b", re.IGNORECASE)
MAX_ORDER_LOOKUPS = 3
ASSISTANT_MODEL = "parley-assistant"
# One part of a multi-part message is answered by this many best sentences of its passage.
PART_SENTENCES = 2
# A complete sentence in the model's text so far: it ends, and something follows it.
SENTENCE_DONE = re.compile(rf"(?<=[.!?]){passages.NOT_AFTER_ABBREVIATION}[\"”')]?\s+|\n+")


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
    composer: grounding.Composer | None = None
    fallback: object = None  # () -> hand-over text, when none of the model's text can be shown
    text: str = ""
    usage: object = field(default_factory=FixedUsage)
    first_text_at: object = None  # when the shopper saw the first words
    quoted: bool = False  # the reply shows passage sentences verbatim (the model left them out)

    def __iter__(self):
        if self.stream is None:
            self.quoted = self.found is not None
            self.text = self.fixed_text
            yield from self._shown(_words(self.fixed_text))
            return
        composer = self.composer
        shown: list[str] = []
        pending = ""
        for delta in self.stream:
            pending += delta
            *complete, pending = _complete_sentences(pending)
            for sentence in complete:
                if composer.accept(sentence):
                    shown.append(sentence)
                    yield from self._shown(_words((" " if len(shown) > 1 else "") + sentence))
        self.usage = self.stream.usage
        finish = self.usage.finish_reason
        if finish == "abort":  # staff took over: what was shown is what is stored
            self.text = " ".join(shown)
            return
        if finish != "length" and composer.accept(pending):  # a sentence cut short is dropped
            shown.append(pending.strip())
            yield from self._shown(_words((" " if len(shown) > 1 else "") + pending.strip()))
        rest = composer.closing()
        self.quoted = len(rest) > 1
        if not shown and not rest:
            self.route, self.reason = Route.HANDOFF, "nothing_supported"
            self.text = self.fallback()
            yield from self._shown(_words(self.text))
            return
        body = " ".join([*shown, *rest[:-1]])
        tail = body[len(" ".join(shown)) :] if shown else body
        self.text = f"{body}\n{rest[-1]}" if rest else body
        yield from self._shown(_words(tail + (f"\n{rest[-1]}" if rest else "")))

    def _shown(self, deltas):
        for delta in deltas:
            if self.first_text_at is None and delta.strip():
                self.first_text_at = timezone.now()
            yield delta

    def record(self, message: Message) -> None:
        """Store how this reply came about (call inside the transaction that stores `message`);
        a hand-over takes effect once that transaction commits."""
        composer = self.composer
        dropped = composer.dropped if composer else []
        sources = "\n".join(composer.sources.texts) if composer else ""
        trace = ReplyTrace.objects.create(
            message=message,
            route=self.route,
            reason=self.reason[:40],
            intent=self.match.intent.name if self.match and self.match.intent else "",
            intent_similarity=self.match.similarity if self.match else None,
            quoted=self.quoted,
            model_text_rejected=bool(dropped),
            invented_figures=sorted(
                {n for s in dropped for n in grounding.invented_figures(s, sources)}
            ),
            dropped_sentences=dropped,
            first_text_at=self.first_text_at,
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


def _complete_sentences(text: str) -> list[str]:
    """The complete sentences of `text`, then what follows them (perhaps an unfinished one)."""
    pieces, start = [], 0
    for match in SENTENCE_DONE.finditer(text):
        if match.end() < len(text):
            pieces.append(text[start : match.start() + len(match.group(0).rstrip())])
            start = match.end()
    return [*(p.strip() for p in pieces if p.strip()), text[start:]]


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
class Part:
    """One question of the message, and what was retrieved for it."""

    text: str
    match: intents.Match
    hits: list[Hit]
    asked: grounding.Asked  # the question (and its intent's question) and the figures it asks for
    relevance: float
    evidence: float  # closest retrieved sentence to `asked.vector`
    offered: bool = True  # a passage names the offer asked about (first in `hits`)
    said: str = ""  # the shopper's own words for it, before spelling correction

    @property
    def answerable(self) -> bool:
        return bool(self.hits) and policy.answerable(
            self.match, self.relevance, self.evidence, self.offered
        )


@dataclass(frozen=True)
class Plan:
    """What the assistant decided for the pending messages, and what it decided on."""

    decision: policy.Decision
    match: intents.Match
    hits: list[Hit]
    asked: grounding.Asked
    order_numbers: list[str]
    parts: list[Part] = field(default_factory=list)  # when the message asks several things


def _classified(vector: np.ndarray, text: str) -> intents.Match:
    """The message's intent; an order look-up only when it names an order ("where do I find the
    frame number?" is near "where is my order" but asks the articles). On the 5,182 labelled
    requests, every one labelled track_order that is read as one names an order or a number."""
    match = intents.classify(vector)
    if (
        match.intent is not None
        and match.intent.action == intents.ORDER_STATUS
        and not intents.mentions_order(text)
        and not intents.order_numbers(text)
    ):
        return intents.Match(None, match.similarity)
    if match.intent is None and intents.PAY_LATER.search(text):
        # The brand names the offer outright: its question steers the ranking in full.
        return intents.Match(intents.BY_NAME["instalments"], 1.0)
    return match


def _order_status_sentence(text: str, match: intents.Match) -> intents.Match:
    """`match`, or an order look-up when one sentence of a message that names an order number
    reads as one more closely than the whole message reads as anything ("I ordered over the phone
    last week, order number 305117642. Has it gone out yet?" read as a cancellation whole)."""
    said = [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s.strip()]
    if len(said) < 2:
        return match
    for sentence, vector in zip(said, embeddings.encode(said), strict=True):
        own = intents.classify(vector)
        if (
            own.intent is not None
            and own.intent.action == intents.ORDER_STATUS
            and own.similarity > match.similarity
            and (intents.order_numbers(sentence) or intents.mentions_order(sentence))
        ):
            return own
    return match


def _expansion(vector: np.ndarray, question: np.ndarray, similarity: float) -> np.ndarray:
    """What ranks passages beside the shopper's own words: their intent's question, as far as the
    intent is sure (INTENT_UNSURE to INTENT_SURE), else their own words. A message barely read as
    an intent ("how long is the wait on a made-to-order dining table?" as delivery time, 0.48) is
    ranked mostly by what it names (the made-to-order article), not by the intent's article (when
    parcels leave)."""
    sure = (similarity - INTENT_UNSURE) / (INTENT_SURE - INTENT_UNSURE)
    sure = min(1.0, max(0.0, sure))
    mixed = sure * question + (1 - sure) * vector
    return mixed / (np.linalg.norm(mixed) or 1.0)


def _part(index, text: str, query: str, vector: np.ndarray, match: intents.Match) -> Part:
    expansion = None
    evidence_vector = vector
    if match.intent is not None and match.intent.question:
        question = _question_vector(match.intent.question)
        evidence_vector = (vector + question) / (np.linalg.norm(vector + question) or 1.0)
        expansion = _expansion(vector, question, match.similarity)
    asked = grounding.Asked.of(query, evidence_vector)
    hits = grounding.ranked_for(
        index.search(query, SEARCH_K, query_vector=vector, expansion=expansion), asked
    )
    offered = True
    if match.intent is not None and match.intent.names:
        # An offer: only passages that name it can answer, so they go first.
        naming = [h for h in hits if intents.names_offer(match.intent, h.entry.embedding_text())]
        offered = bool(naming)
        hits = naming + [h for h in hits if h not in naming]
    relevance = max((h.relevance for h in hits), default=0.0)
    evidence = grounding.best_sentence_similarity(hits, evidence_vector) if match.intent else 0.0
    return Part(text, match, hits, asked, relevance, evidence, offered)


def _leaning(index, parts: list[Part]) -> list[Part]:
    """A short part that matches no intent and that nothing answers alone asks about the part
    before it ("What's your e-mail address, and how fast do you answer?"): it is read with it,
    as a short follow-up turn is read with the turn before it. A part naming an offer ("and do you
    have a student discount?") matches an intent and keeps its own reading."""
    out = list(parts)
    for i, part in enumerate(out[1:], start=1):
        if part.answerable or part.match.intent is not None:
            continue
        if len(re.findall(r"\w+", part.text)) > SHORT_FOLLOW_UP_WORDS:
            continue
        joined = f"{out[i - 1].text} {part.text}"
        vector = embeddings.encode([joined])[0]
        leaning = _part(index, part.text, joined, vector, _classified(vector, joined))
        if leaning.answerable:
            out[i] = leaning
    return out


def plan(conversation: Conversation, pending: list[Message]) -> Plan:
    """Classify, retrieve and apply the policy to `pending` (the shopper's unanswered messages)."""
    index = retrieval.store_index(conversation.store_id)
    written = "\n".join(m.text for m in pending).strip()
    domain = index.words | intents.VOCABULARY
    text = spelling.correct(written, domain)
    query = text
    if len(re.findall(r"\w+", text)) <= SHORT_FOLLOW_UP_WORDS or GOES_ON.match(text):
        query = f"{_earlier_shopper_text(conversation, pending[0].pk)}\n{text}".strip()
    own_vector = embeddings.encode([text])[0]
    vector = own_vector if query == text else embeddings.encode([query])[0]
    match = _classified(own_vector, text)
    if query != text:
        # A short follow-up is read with the question before it ("and for express?"), unless its
        # own words name a topic the articles answer ("and when do I get the money back?").
        if match.intent is not None and _part(index, text, text, own_vector, match).answerable:
            query, vector = text, own_vector
        elif match.intent is None:
            match = _classified(vector, query)

    last = _last_bot_trace(conversation, pending[0].pk)
    numbers = intents.order_numbers(written)
    if last is not None and last.route == Route.ORDER and last.reason == "asked_number":
        # The answer to "What is your order number?" is a number, not "thanks" or "human".
        if numbers or re.fullmatch(r"\W*#?\s*(?=[A-Za-z-]*\d)[A-Za-z0-9-]{3,}\W*", written):
            numbers = numbers or [re.sub(r"[^A-Za-z0-9-]", "", written)]
            match = intents.Match(intents.BY_NAME["track_order"], 1.0)
    elif numbers and match.intent is None and intents.mentions_order(text):
        match = intents.Match(intents.BY_NAME["track_order"], match.similarity)
    elif numbers and match.intent is not None and match.intent.action != intents.ORDER_STATUS:
        match = _order_status_sentence(text, match)
        if match.intent.name == "delivery_period" and intents.names_order(text):
            # "order KS-48203, any idea when it's arriving?": that order's record answers it.
            match = intents.Match(intents.BY_NAME["track_order"], match.similarity)

    whole = _part(index, text, query, vector, match)
    parts = []
    split = questions.split(text)
    if len(split) > 1:
        vectors = embeddings.encode(split)
        parts = _leaning(
            index,
            [_part(index, q, q, v, _classified(v, q)) for q, v in zip(split, vectors, strict=True)],
        )
        own = questions.split(written)
        if len(own) == len(parts):  # a part named as not covered is quoted as the shopper wrote it
            parts = [replace(p, said=w) for p, w in zip(parts, own, strict=True)]
    refusals = ReplyTrace.objects.filter(
        message__conversation=conversation, route=Route.REFUSAL, reason="abuse"
    ).count()
    turn = policy.Turn(
        text=text,
        match=match,
        relevance=whole.relevance,
        evidence=whole.evidence,
        offered=whole.offered,
        grounded=bool(index.entries),
        other_language=spelling.other_language(written, text, domain),
        repeated=_repeats(own_vector, text, _answered_questions(conversation, pending[0].pk)),
        refusals_before=refusals,
    )
    decision = policy.decide(turn)
    if decision.reason == "nothing_relevant" and any(p.answerable for p in parts):
        decision = policy.Decision(Route.ANSWER, "parts")
    elif decision.route == Route.ANSWER and parts and not any(p.answerable for p in parts):
        # Each question alone is uncovered, whatever the whole message seemed near ("Do you supply
        # beans wholesale, and what would the pricing look like?"): a reply of nothing but "not
        # covered" lines helps no one, so a person takes it.
        decision = policy.Decision(Route.HANDOFF, "nothing_relevant")
    log.debug(
        "conversation %s: %s (%s), intent %s %.2f, relevance %.2f",
        conversation.pk,
        decision.route,
        decision.reason,
        match.intent.name if match.intent else "-",
        match.similarity,
        whole.relevance,
    )
    return Plan(decision, match, whole.hits, whole.asked, numbers, parts)


def start(conversation: Conversation, pending: list[Message], request_id: str, engine) -> Reply:
    """Decide and begin the reply to `pending`: a fixed text, or the engine's grounded answer."""
    planned = plan(conversation, pending)
    decision, hits = planned.decision, planned.hits
    reply = Reply(request_id, decision.route, decision.reason, planned.match, hits)
    reply.fallback = lambda: _handoff_text(conversation, "nothing_supported")
    if decision.route == Route.REFUSAL:
        reply.fixed_text = policy.REFUSALS[decision.reason]
    elif decision.route == Route.SMALLTALK:
        reply.fixed_text = policy.SMALLTALK[decision.reason]
    elif decision.route == Route.HANDOFF:
        reply.fixed_text = _handoff_text(conversation, decision.reason)
    elif decision.route == Route.ORDER:
        answered = _order_reply(conversation, planned.order_numbers, hits, planned.asked, reply)
        if not answered and planned.order_numbers:
            # A particular order, and no order system to ask: a person can look it up.
            reply.route, reply.reason = Route.HANDOFF, "no_order_system"
            reply.fixed_text = _handoff_text(conversation, reply.reason)
        elif not answered:  # "how do I track an order?": the store's articles answer it
            reply.route, reply.reason = Route.ANSWER, planned.match.intent.name
    if reply.route == Route.ANSWER and planned.parts and hits:
        reply.fixed_text = _parts_answer(planned.parts, reply)
    elif reply.route == Route.ANSWER and hits:
        _start_answer(conversation, pending, hits, planned.asked, engine, reply)
    elif reply.route == Route.ANSWER:
        _start_open_answer(conversation, pending, engine, reply)
    return reply


def _parts_answer(parts: list[Part], reply: Reply) -> str:
    """Each question of the message answered from its own passage, with its source, or named as
    one the articles do not cover: sentences copied verbatim, so no model is needed."""
    blocks, uncovered, said = [], False, set()
    last: grounding.Evidence | None = None
    for part in parts:
        if part.answerable:
            found = grounding.evidence(part.hits, part.asked, PART_SENTENCES, _naming(part.match))
            found.sentences = [s for s in found.sentences if s not in said]
            if not found.sentences:  # an earlier part's answer already says it
                continue
            if found.sentences[0] not in found.hit.entry.text:
                # What is left comes from another section: cite that one.
                found.hit = next(
                    (h for h in part.hits if found.sentences[0] in h.entry.text), found.hit
                )
            said.update(found.sentences)
            reply.found = reply.found or found
            if last is not None and last.label == found.label:
                # Two questions answered from one section: one answer, cited once.
                last.sentences += found.sentences
                last.texts += [t for t in found.texts if t not in last.texts]
                blocks[-1] = grounding.cited(last)
                continue
            last = found
            blocks.append(grounding.cited(found))
        else:
            uncovered, last = True, None
            blocks.append(phrases.part_not_covered(part.said or part.text))
    if uncovered:
        blocks.append(phrases.OFFER_PERSON)
    return "\n\n".join(blocks)


def _naming(match: intents.Match | None):
    """For an offer asked about, the test of a sentence that names it (quoted first)."""
    if match is None or match.intent is None or not match.intent.names:
        return None
    intent = match.intent
    return lambda sentence: intents.names_offer(intent, sentence)


def _store_facts(store) -> list[str]:
    """The store settings a reply may state (its name; never its persona, which holds instructions)."""
    return [f"This is {store.name}."]


def _handoff_text(conversation: Conversation, reason: str) -> str:
    return policy.handoff_text(reason, _support_hours(conversation.store_id), timezone.now())


def _support_hours(store_id: int):
    from chatbot.stores.models import SupportHours

    return SupportHours.objects.filter(store_id=store_id).first()


def _order_reply(conversation, numbers, hits, asked, reply: Reply) -> bool:
    """Word the order system's answer; False when the store has no order system configured."""
    from chatbot.integrations import order_replies, orders
    from chatbot.integrations.identity import integration_for

    integration = integration_for(conversation.store)
    if integration is None or not integration.order_status_url:
        return False
    if not conversation.verified_identity:
        reply.reason, reply.fixed_text = "unverified", phrases.SIGN_IN_FOR_ORDERS
        return True
    if not numbers:
        reply.reason = "asked_number"
        reply.fixed_text = phrases.ASK_ORDER_NUMBER
        if hits:
            found = reply.found = grounding.evidence(hits, asked)
            reply.fixed_text += f"\n\n{grounding.cited(found)}"
        return True
    parts = []
    for number in numbers[:MAX_ORDER_LOOKUPS]:
        result = _lookup(orders, integration, conversation.verified_identity, number)
        parts.append(order_replies.wording(result))
    reply.reason, reply.fixed_text = "looked_up", "\n\n".join(parts)
    return True


def _lookup(orders, integration, customer_id: str, number: str):
    """Look the number up as written, then without leading zeros ("00123842" is order 123842) or
    without its letter prefix ("TT-48213" where the order system knows 48213)."""
    result = orders.lookup(integration, customer_id, number)
    if not isinstance(result, orders.LookupFailure) or result.reason != orders.Failure.NOT_FOUND:
        return result
    digits = re.sub(r"^[A-Za-z]{1,4}-", "", number)
    for other in dict.fromkeys([number.lstrip("0"), digits, digits.lstrip("0")]):
        if other and other != number:
            retry = orders.lookup(integration, customer_id, other)
            if not isinstance(retry, orders.LookupFailure):
                return retry
    return result


def _start_open_answer(conversation, pending, engine, reply: Reply) -> None:
    """A store without a knowledge base: persona and as much history as fits, sampled as the
    store's reply settings say. Its sentences are checked like any other: only the store's own
    settings can support them, so most questions end with a person."""
    from inference import SamplingParams

    store = conversation.store
    persona = store.system_prompt.strip() or conversation_prompt.default_persona(store.name)
    reply.composer = grounding.Composer(
        support.Sources(_store_facts(store)), grounding.system_prompt(persona)
    )
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


def _start_answer(conversation, pending, hits, asked, engine, reply: Reply) -> None:
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
    found = reply.found = grounding.evidence(hits, asked, first=_naming(reply.match))
    # What the model's sentences may stand on: the passages of the evidence (the question and the
    # earlier turns are not sources), and the store's own settings.
    reply.composer = grounding.Composer(
        support.Sources([*found.texts, *_store_facts(store)]),
        grounding.system_prompt(persona),
        found,
    )
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
