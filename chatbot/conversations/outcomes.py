"""How a conversation ends, and the moves between the bot, the shopper and staff.

`Conversation.state` says who answers now; `Conversation.outcome` records how the dialogue went:

- resolved by the bot (`resolved_bot`): the shopper confirms the answer helped (rates the chat 4 or
  5 right after a bot answer), or leaves after the bot's last answer without asking for more and
  the inactivity timeout passes (`close_inactive`, run by Celery beat);
- escalated (`escalated`): handed to a person, because the shopper asked for one, the bot said it
  hands over, or staff took the conversation over. Set at that moment and kept while it is open;
- resolved by staff (`resolved_staff`): staff closed an escalated conversation, or it went quiet
  after a staff (or, once handed back, a bot) answer;
- abandoned (`abandoned`): the shopper left before any answer to their last message.

A dialogue that was ever escalated is never counted as resolved by the bot: its outcome stays
`escalated` or becomes `resolved_staff`, so the escalation rate is the share of dialogues whose
outcome is one of those two. The store's own systems close conversations (the API's `close`) by the
same rules.

These are domain rules: the dashboard, the API and the workers call them; what shows a conversation
(the staff inbox) hears of changes through ``chatbot.conversations.signals``.
"""

import re
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models, transaction
from django.db.models import Max, Q
from django.utils import timezone

from chatbot.integrations import events
from chatbot.stores.models import SupportHours

from . import publish, signals
from .models import Conversation, ConversationInfo, Message

State = Conversation.State


class Outcome(models.TextChoices):
    RESOLVED_BY_BOT = "resolved_bot", "Resolved by the bot"
    ESCALATED = "escalated", "Escalated"
    RESOLVED_BY_STAFF = "resolved_staff", "Resolved by staff"
    ABANDONED = "abandoned", "Abandoned"


ESCALATED_EVER = (Outcome.ESCALATED, Outcome.RESOLVED_BY_STAFF)
OPEN_STATES = (State.BOT, State.HUMAN, State.ESCALATED)
ANSWER_ROLES = (Message.Role.BOT, Message.Role.STAFF)
# A rating this high right after a bot answer is the shopper confirming that it helped.
CONFIRMING_SCORE = 4

ASKS_FOR_PERSON = re.compile(
    r"\b(?:(?:talk|speak|chat)\s+(?:to|with)\s+(?:a\s+|an\s+|some\s+|your\s+)?"
    r"(?:human|person|real\s+person|someone|somebody|agent|representative|staff|operator)"
    r"|human\s+(?:agent|being|please)|real\s+person|live\s+agent|customer\s+service\s+agent)\b",
    re.IGNORECASE,
)
HANDS_OVER = re.compile(
    r"\b(?:I(?:'ll|\s+will)|let\s+me|I\s+am\s+going\s+to|I'm\s+going\s+to)\s+"
    r"(?:connect|transfer|hand)\s+you\b",
    re.IGNORECASE,
)


def asks_for_person(text: str) -> bool:
    return bool(ASKS_FOR_PERSON.search(text))


def hands_over(text: str) -> bool:
    return bool(HANDS_OVER.search(text))


def after_shopper_message(conversation_id: int, text: str) -> None:
    """Hook after a shopper message is stored, before a reply is queued."""
    if asks_for_person(text):
        escalate(conversation_id, ConversationInfo.EscalatedBy.SHOPPER)


def after_bot_reply(conversation_id: int, text: str, finish_reason: str) -> None:
    """Hook after a bot reply is stored: the bot decides to hand over by saying so."""
    if finish_reason != "abort" and hands_over(text):
        escalate(conversation_id, ConversationInfo.EscalatedBy.BOT)


def staff_name(user) -> str:
    """How staff are named to shoppers: a first name, never a login."""
    return user.first_name.strip() or "A person from the store"


def _mark_escalated(conversation_id: int, by: str, now: datetime) -> ConversationInfo:
    info, _ = ConversationInfo.objects.get_or_create(conversation_id=conversation_id)
    if info.escalated_at is None:
        info.escalated_at, info.escalated_by = now, by
        info.save(update_fields=["escalated_at", "escalated_by"])
    return info


def _note(conversation_id: int, text: str) -> Message:
    """A system line in the conversation, shown to both sides, never sent to the model."""
    return Message.objects.create(
        conversation_id=conversation_id, role=Message.Role.SYSTEM, text=text
    )


def _send(conversation_id: int, frame: dict) -> None:
    publish.send_frame(Conversation(pk=conversation_id).group_name, frame)


def waiting_text(store_id: int, now: datetime) -> str:
    hours = SupportHours.objects.filter(store_id=store_id).first()
    if hours is not None and not hours.is_open(now):
        return f"A person will answer during our support hours: {hours.describe()}."
    return "A person from the store will join this chat shortly."


def escalate(conversation_id: int, by: str) -> bool:
    """The bot stops answering and the conversation waits for staff. False if the bot had no say."""
    now = timezone.now()
    with transaction.atomic():
        moved = Conversation.objects.filter(pk=conversation_id, state=State.BOT).update(
            state=State.ESCALATED, outcome=Outcome.ESCALATED, last_activity=now
        )
        if not moved:
            return False
        _mark_escalated(conversation_id, by, now)
        events.conversation_event(conversation_id, "conversation.escalated")
        store_id = Conversation.objects.values_list("store_id", flat=True).get(pk=conversation_id)
        note = _note(conversation_id, waiting_text(store_id, now))
    _send(conversation_id, {"type": "message", "message": note.as_frame()})
    return True


def take_over(conversation: Conversation, user) -> bool:
    """Staff answer from now on. An in-flight bot reply is aborted by its worker's stop watcher
    (chatbot.conversations.stops), which sees the state leave `bot`."""
    now = timezone.now()
    with transaction.atomic():
        locked = Conversation.objects.select_for_update().get(pk=conversation.pk)
        if locked.state == State.HUMAN:
            return False
        Conversation.objects.filter(pk=conversation.pk).update(
            state=State.HUMAN, outcome=Outcome.ESCALATED, last_activity=now
        )
        info = _mark_escalated(conversation.pk, ConversationInfo.EscalatedBy.STAFF, now)
        if locked.state == State.BOT:  # an escalated conversation already announced it
            events.conversation_event(conversation.pk, "conversation.escalated")
        if info.assignee_id is None:
            info.assignee = user
            info.save(update_fields=["assignee"])
        name = staff_name(user)
        note = _note(conversation.pk, f"{name} joined the chat.")
    _send(conversation.pk, {"type": "staff_joined", "name": name, "message": note.as_frame()})
    conversation.refresh_from_db()
    return True


def hand_back(conversation: Conversation) -> bool:
    """The bot answers again, from the next shopper message on (staff covered the earlier ones)."""
    with transaction.atomic():
        locked = Conversation.objects.select_for_update().get(pk=conversation.pk)
        if locked.state not in (State.HUMAN, State.ESCALATED):
            return False
        latest = locked.messages.filter(role=Message.Role.SHOPPER).aggregate(m=Max("pk"))["m"]
        Conversation.objects.filter(pk=conversation.pk).update(
            state=State.BOT, answered_through=max(locked.answered_through, latest or 0)
        )
        note = _note(conversation.pk, "You are chatting with the store's assistant again.")
    _send(conversation.pk, {"type": "message", "message": note.as_frame()})
    conversation.refresh_from_db()
    return True


def resolve_by_staff(conversation: Conversation, user) -> bool:
    """Staff close a conversation that was handed to them."""
    with transaction.atomic():
        moved = Conversation.objects.filter(
            pk=conversation.pk, state__in=[State.HUMAN, State.ESCALATED]
        ).update(state=State.RESOLVED, outcome=Outcome.RESOLVED_BY_STAFF)
        if not moved:
            return False
        note = _note(conversation.pk, f"{staff_name(user)} closed the conversation.")
        events.conversation_event(conversation.pk, "conversation.resolved")
    _send(conversation.pk, {"type": "message", "message": note.as_frame()})
    _send(conversation.pk, {"type": "ended", "outcome": Outcome.RESOLVED_BY_STAFF})
    conversation.refresh_from_db()
    return True


class CloseRefused(ValueError):
    """The conversation cannot be closed that way; the message says why (safe to show)."""


class AlreadyClosed(CloseRefused):
    pass


# How a caller (the API) may close a conversation; "resolved" means by whoever had it.
CLOSE_AS = ("resolved", Outcome.RESOLVED_BY_BOT, Outcome.RESOLVED_BY_STAFF, Outcome.ABANDONED)


def close(conversation_id: int, outcome: str = "resolved", csat: int | None = None) -> Conversation:
    """Close an open conversation from outside, by the rules above: one ever escalated is
    `resolved_staff` (or, abandoned, stays `escalated`) and never `resolved_bot`; one never
    escalated is not `resolved_staff`. The widget gets its `ended` frame, the inbox its update,
    and webhooks their `conversation.resolved` / `csat.submitted` (on save)."""
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().get(pk=conversation_id)
        if conversation.state not in OPEN_STATES:
            raise AlreadyClosed(f"The conversation is already {conversation.state}.")
        escalated = conversation.outcome in ESCALATED_EVER or conversation.state != State.BOT
        resolved = Outcome.RESOLVED_BY_STAFF if escalated else Outcome.RESOLVED_BY_BOT
        if outcome == Outcome.ABANDONED:
            state, final = inactive_outcome(escalated, answered=False)
        elif outcome in ("resolved", resolved):
            state, final = State.RESOLVED, resolved
        else:
            was = "was escalated" if escalated else "was never escalated"
            raise CloseRefused(f"A conversation that {was} cannot be closed as {outcome}.")
        conversation.state, conversation.outcome = state, final
        fields = ["state", "outcome", "updated"]
        if csat is not None:
            conversation.csat = csat
            fields.append("csat")
        conversation.save(update_fields=fields)
    _send(conversation.pk, {"type": "ended", "outcome": final})
    signals.conversation_changed(conversation.pk)
    return conversation


def _last_answer_covers_shopper(conversation: Conversation) -> bool:
    """An answer (bot or staff) came after the shopper's last message."""
    last = conversation.messages.aggregate(
        shopper=Max("pk", filter=Q(role=Message.Role.SHOPPER)),
        answer=Max("pk", filter=Q(role__in=ANSWER_ROLES)),
    )
    return last["answer"] is not None and (last["shopper"] or 0) < last["answer"]


def record_csat(conversation_id: int, score: int) -> bool:
    """Store the shopper's rating (1-5). Returns True when it confirms a bot answer, which resolves
    the conversation as resolved by the bot."""
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().get(pk=conversation_id)
        confirms = (
            score >= CONFIRMING_SCORE
            and conversation.state == State.BOT
            and conversation.outcome not in ESCALATED_EVER
            and _last_answer_covers_shopper(conversation)
        )
        changes = {"csat": score, "updated": timezone.now()}
        if confirms:
            changes.update(state=State.RESOLVED, outcome=Outcome.RESOLVED_BY_BOT)
        Conversation.objects.filter(pk=conversation_id).update(**changes)
        events.conversation_event(conversation_id, "csat.submitted")
        if confirms:
            events.conversation_event(conversation_id, "conversation.resolved")
    signals.conversation_changed(conversation_id)
    return confirms


def inactive_outcome(escalated: bool, answered: bool) -> tuple[str, str]:
    """(state, outcome) of a conversation closed for inactivity.

    `escalated`: it was ever handed to a person; `answered`: an answer followed the shopper's
    last message, so the shopper left without asking for more.
    """
    if answered:
        return State.RESOLVED, Outcome.RESOLVED_BY_STAFF if escalated else Outcome.RESOLVED_BY_BOT
    return State.ABANDONED, Outcome.ESCALATED if escalated else Outcome.ABANDONED


def close_inactive(now: datetime | None = None) -> dict[str, int]:
    """Close open dialogues quiet for CONVERSATION_INACTIVE_MINUTES; returns counts per outcome.

    A conversation whose reply is being generated is left alone, and each close is conditional on
    the conversation not having moved since it was read, so a message arriving meanwhile wins.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(minutes=settings.CONVERSATION_INACTIVE_MINUTES)
    replying = Q(reply_lease_token__isnull=False, reply_lease_expires__gt=now)
    quiet = (
        Conversation.objects.filter(state__in=OPEN_STATES, last_activity__lt=cutoff)
        .exclude(replying)
        .annotate(
            last_shopper=Max("messages__pk", filter=Q(messages__role=Message.Role.SHOPPER)),
            last_answer=Max("messages__pk", filter=Q(messages__role__in=ANSWER_ROLES)),
        )
        .filter(last_shopper__isnull=False)
    )
    counts: dict[str, int] = {}
    for conversation in quiet:
        escalated = conversation.outcome in ESCALATED_EVER or conversation.state != State.BOT
        answered = (conversation.last_answer or 0) > conversation.last_shopper
        state, outcome = inactive_outcome(escalated, answered)
        closed = Conversation.objects.filter(
            pk=conversation.pk,
            state=conversation.state,
            last_activity=conversation.last_activity,
        ).update(state=state, outcome=outcome)
        if closed:
            counts[str(outcome)] = counts.get(str(outcome), 0) + 1
            if state == State.RESOLVED:
                events.conversation_event(conversation.pk, "conversation.resolved")
            _send(conversation.pk, {"type": "ended", "outcome": outcome})
            signals.conversation_changed(conversation.pk)
    return counts
