"""Keeping shopper and article text in their place as data, turning away abuse, and redacting
personal data from stored transcripts.

Prompt injection is handled by how the prompt is built and by what a reply may contain, not by
guessing from English words ("what are the rules for returns?" is a shopping question): text from
shoppers and articles cannot forge chat-template tokens or the prompt's own delimiters (`as_data`);
a message that tries to (`forges_prompt`) is refused; and no sentence that repeats the instructions
(`leaks_instructions`) or that no source supports (`support`) is ever shown.
"""

import re

# Chat-template control tokens (<|im_start|>, <|endoftext|>), and the labels the prompt puts at
# the start of its sections ("Article:", "Question:"), which data must not be able to forge.
CONTROL_TOKEN = re.compile(r"<\|[^<>|]{0,40}\|>|<\||\|>")
PROMPT_LABEL = re.compile(r"^(\s*)(article|question|system|assistant|user)\s*:", re.I | re.M)

ABUSE = re.compile(
    r"\b(?:fuck|screw|f\*+k)\s+(?:you|u|off|yourself|this)\b"
    r"|\b(?:you|u|you're|youre|ur|you\s+are)\s+(?:\w+\s+){0,3}?"
    r"(?:stupid|idiot|idiotic|moron|morons|dumb|useless|pathetic|worthless|incompetent|trash|"
    r"garbage|shit|crap|retard\w*|loser|imbecile|scum)s?\b"
    r"|\b(?:stupid|dumb|useless|worthless|pathetic|shitty|idiot)\s+"
    r"(?:bot|robot|machine|ai|assistant|chatbot|program|company|store|shop|people)\b"
    r"|\bshut\s+up\b|\bgo\s+to\s+hell\b|\b(?:kill|hurt)\s+(?:you|u)\b"
    r"|\b(?:asshole|bastard|bitch|dickhead|motherfucker)s?\b",
    re.IGNORECASE,
)


def as_data(text: str) -> str:
    """Text safe to place inside the prompt's data sections: no control tokens, no forged
    section labels."""
    return PROMPT_LABEL.sub(r"\1\2 -", CONTROL_TOKEN.sub(" ", text))


def forges_prompt(text: str) -> bool:
    """The text carries the chat template's control tokens (<|im_start|>system ...): no shopper
    types those by accident."""
    return bool(re.search(r"<\|[^<>|\s]{1,40}\|>", text))


def is_abusive(text: str) -> bool:
    """Insults or threats aimed at someone. Swearing about a thing ('where's the damn invoice')
    is frustration, not abuse, and gets an answer."""
    return bool(ABUSE.search(text))


def leaks_instructions(reply: str, instructions: str, run: int = 8) -> bool:
    """The reply repeats `run` consecutive words of the instructions."""
    words = re.findall(r"\w+", instructions.lower())
    said = " " + " ".join(re.findall(r"\w+", reply.lower())) + " "
    return any(
        " " + " ".join(words[i : i + run]) + " " in said for i in range(len(words) - run + 1)
    )


# --- Redaction ------------------------------------------------------------------------------------
EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")
CARD_CANDIDATE = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
PHONE_CANDIDATE = re.compile(
    r"(?<![\w+-])(?:\+?\d{1,3}[\s.-]?)?(?:\(\d{1,4}\)[\s.-]?)?\d{2,4}(?:[\s.-]\d{2,5}){1,4}(?![\w-])"
    r"|(?<![\w+])\+\d{8,15}(?!\w)"
)
CARD_BRANDS = (  # (prefixes, lengths)
    (("4",), (13, 16, 19)),  # Visa
    (tuple(str(p) for p in range(51, 56)) + tuple(str(p) for p in range(2221, 2721)), (16,)),
    (("34", "37"), (15,)),  # American Express
    (("6011", "65") + tuple(str(p) for p in range(644, 650)), (16, 19)),  # Discover
    (("35",), (16, 19)),  # JCB
    (("300", "301", "302", "303", "304", "305", "36", "38"), (14, 16)),  # Diners Club
)


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def is_card_number(digits: str) -> bool:
    """A payment card number: a known brand's prefix and length, and a valid Luhn check digit.

    The brand test keeps order numbers (which pass Luhn one time in ten) out.
    """
    return luhn_valid(digits) and any(
        len(digits) in lengths and digits.startswith(prefixes) for prefixes, lengths in CARD_BRANDS
    )


def _card(match: re.Match) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return "[card number]" if is_card_number(digits) else match.group(0)


def _phone(match: re.Match) -> str:
    text = match.group(0)
    digits = re.sub(r"\D", "", text)
    international = text.startswith("+") or "(" in text
    if 9 <= len(digits) <= 15 or (international and len(digits) >= 7):
        return "[phone number]"
    return text


def redact(text: str) -> str:
    """The text with card numbers, email addresses and phone numbers replaced by placeholders."""
    text = CARD_CANDIDATE.sub(_card, text)
    text = EMAIL.sub("[email]", text)
    return PHONE_CANDIDATE.sub(_phone, text)


def redacts_transcripts(store_id: int) -> bool:
    from .models import AssistantSettings

    return AssistantSettings.objects.filter(store_id=store_id, redact_transcripts=True).exists()


def stored_text(store_id: int, text: str) -> str:
    """What to store for a shopper's message: redacted when the store asks for it."""
    return redact(text) if redacts_transcripts(store_id) else text
