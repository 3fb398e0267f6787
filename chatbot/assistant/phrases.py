"""The product's own fixed phrases: everything the bot says that is not taken from a source.

A shopper may only read sentences that a source supports (see `support`) or one of these. They are
kept in one place so that the support check and the evaluation recognise them exactly, sentence by
sentence; a `{placeholder}` stands for a value filled in at run time (an opening time, the part of
a question no article covers, an article's label, an order's fields).
"""

import functools
import re

from chatbot.knowledge import passages

GREETING = "Hello! How can I help you today?"
THANKS = "You're welcome! Is there anything else I can help you with?"
DISMISS = "No problem. Is there anything else I can help you with?"
ASK_ORDER_NUMBER = "I can look that up for you. What is your order number?"
SIGN_IN_FOR_ORDERS = (
    "I can only share order details with signed-in customers. Please sign in to your account on "
    "our site and ask me again, or ask for a person from our team."
)
FORGED_PROMPT = (
    "I can't accept messages that imitate the chat's control codes. Please ask your question in "
    "plain words, and I'm happy to help with your orders, shipping, returns or your account."
)
ABUSE = (
    "I'm here to help, and I'd like to keep this respectful. Tell me what went wrong and "
    "I'll do my best, or ask for a person and I'll bring one in."
)
# The first words of a hand-over, by reason.
OPENERS = {
    "asked_for_person": "Of course.",
    "complaint": "I'm sorry to hear that. Your complaint deserves a person's attention.",
    "repeated_question": "It looks like my answer didn't help.",
    "nothing_relevant": "I don't have information on that in our help articles, and I'd rather "
    "not guess.",
    "nothing_supported": "I can't answer that reliably myself, and I'd rather not guess.",
    "abuse": "I'd like to keep this conversation respectful.",
    "no_order_system": "I can't look up order details from this chat.",
    "other_language": "I can only answer in English myself.",
}
PASSING_ON = "I'm passing you to a person from our team, who will reply right here in this chat."
OFFLINE = (
    "Our team is offline right now; a person will be back {when}. I've passed your "
    "conversation on, and they will reply right here, so you can leave this chat open "
    "or come back to it later."
)
# One part of a multi-part question that no article answers.
PART_NOT_COVERED = "Our help articles don't cover this part of your question: “{part}”."
OFFER_PERSON = "If you need more on it, ask for a person from our team."
SOURCE = "(Source: {label})"

# What each phrase is, for measuring: an abstention says the bot does not know.
ABSTAIN = "abstain"
KINDS = {
    "greeting": [GREETING],
    "thanks": [THANKS, DISMISS],
    "order": [ASK_ORDER_NUMBER, SIGN_IN_FOR_ORDERS, OPENERS["no_order_system"]],
    "refusal": [FORGED_PROMPT, ABUSE],
    "handoff": [
        *(
            v
            for k, v in OPENERS.items()
            if k
            not in ("nothing_relevant", "nothing_supported", "no_order_system", "other_language")
        ),
        PASSING_ON,
        OFFLINE,
        OFFER_PERSON,
    ],
    # "I can only answer in English myself" says as plainly that the bot cannot answer this.
    ABSTAIN: [
        OPENERS["nothing_relevant"],
        OPENERS["nothing_supported"],
        OPENERS["other_language"],
        PART_NOT_COVERED,
    ],
    "source": [SOURCE],
}
SENTENCE_END = re.compile(rf"(?<=[.!?]){passages.NOT_AFTER_ABBREVIATION}\s+(?=[A-Z0-9$€£\"“(¿¡])")
# The citation line is one phrase, whatever its label holds ("… › My item broke. What now?").
SOURCE_LINE = re.compile(r"^\(Source: .+\)$", re.MULTILINE)


def sentences(text: str) -> list[str]:
    """The sentences of a reply as a shopper reads them (lines, then sentence ends; a reply's
    sentence may also open with ¿ or ¡). A quotation is part of the sentence that quotes it,
    however many sentences it holds (“… after three years of use. Is that covered?”)."""
    out: list[str] = []
    start = 0
    for line in SOURCE_LINE.finditer(text):
        out.extend(passages.sentences(text[start : line.start()], SENTENCE_END))
        out.append(line.group(0))
        start = line.end()
    out.extend(passages.sentences(text[start:], SENTENCE_END))
    joined: list[str] = []
    for sentence in out:
        if joined and joined[-1].count("“") > joined[-1].count("”"):
            joined[-1] = f"{joined[-1]} {sentence}"
        else:
            joined.append(sentence)
    return joined


def _pattern(template: str) -> re.Pattern:
    pieces = re.split(r"\{\w+\}", template)
    return re.compile("(.+?)".join(re.escape(p) for p in pieces) + r"\Z", re.DOTALL)


def _order_templates() -> list[str]:
    """The order system's wordings (chatbot.integrations.order_replies), with its fields left as
    placeholders: filled with markers, then the markers turned back into `{field}`."""
    from chatbot.integrations import order_replies, orders

    marks = {f"\x01{i}\x02": "{value}" for i in range(5)}
    status = orders.OrderStatus(*marks)
    texts = [order_replies.wording(status)]
    texts += [
        order_replies.wording(orders.LookupFailure(reason, "\x010\x02"))
        for reason in orders.Failure
    ]
    texts += [
        order_replies.wording(orders.OrderStatus("\x010\x02", "\x011\x02", "", "\x013\x02", "")),
        order_replies.wording(orders.OrderStatus("\x010\x02", "\x011\x02", "\x012\x02", "", "")),
    ]
    out = []
    for text in texts:
        for mark, placeholder in marks.items():
            text = text.replace(mark, placeholder)
        out.append(text)
    return out


@functools.cache
def _registry() -> list[tuple[str, re.Pattern]]:
    kinds = {**KINDS, "order": [*KINDS["order"], *_order_templates()]}
    return [
        (kind, _pattern(sentence))
        for kind, templates in kinds.items()
        for template in templates
        for sentence in sentences(template)
    ]


def kind_of(sentence: str) -> str | None:
    """Which fixed phrase `sentence` is (None: it is not one of the product's own phrases)."""
    sentence = sentence.strip()
    for kind, pattern in _registry():
        if pattern.match(sentence):
            return kind
    return None


def part_not_covered(part: str) -> str:
    return PART_NOT_COVERED.format(part=re.sub(r"[“”\"\n]", "", part).strip(" ?.!,"))


def source(label: str) -> str:
    return SOURCE.format(label=label)
