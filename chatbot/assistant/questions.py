"""Splitting a message that asks several things ("Do you ship to Canada, and how much does express
shipping cost?") into its questions, so each is answered from its own passage, or named as not
covered, instead of the best passage for the mixture answering neither."""

import re

from chatbot.knowledge.keywords import STOPWORDS

MAX_PARTS = 3
MIN_WORDS = 3  # a shorter piece ("and you?") stays with its neighbour
# Words that open a question of their own after "and" / "also" / a comma.
OPENERS = (
    "how|what|when|where|which|who|why|whom|whose|do|does|did|can|could|is|are|was|were|will|"
    "would|should|shall|may|might|have|has|must|i|is there|are there"
)
BOUNDARY = re.compile(
    rf"(?<=[?])\s+|(?:[,;]\s*|\s+)(?:and\s+(?:also\s+)?|also,?\s+|plus\s+)(?=(?:{OPENERS})\b)"
    rf"|[.!]\s+(?=(?:also,?\s+|and\s+)?(?:{OPENERS})\b[^.!?]*\?)",
    re.IGNORECASE,
)

LEAD = re.compile(r"^(?:and|also|plus),?\s+", re.IGNORECASE)
# A label before the first question ("Two things: how much is ...", "Quick question: ...").
LABEL = re.compile(r"^(?:[\w']+ ){0,5}[\w']+:\s+")
# A greeting before the first question ("hiya, what's your e-mail ...") asks nothing.
GREETING = re.compile(
    r"^(?:hi+|hiya|hey+|hello|howdy|good (?:morning|afternoon|evening))(?: there)?\b[\s,!.]*",
    re.IGNORECASE,
)
# A piece that asks or requests something of its own; anything else ("I live in Cork", "its not for
# me") is context for the question beside it, never a question the articles fail to cover.
ASKS = re.compile(
    rf"\?\s*$|^(?:(?!i\b)(?:{OPENERS})\b|i (?:want|need|would like|'d like)\b|please\b|help\b)",
    re.IGNORECASE,
)
# Words that ask how much or how long without naming what of: a piece whose only content words are
# these ("how much do i need to spend", "what does it cost?") asks about the topic of the question
# before it; one that names its own ("can you gift wrap it?") is a question of its own.
NO_TOPIC = frozenset(
    "much many long often cost costs price spend pay paying take takes charge charged last lasts "
    "valid expire expires".split()
)


def _names_no_topic(piece: str) -> bool:
    content = {w for w in re.findall(r"[a-z]+", piece.lower()) if w not in STOPWORDS}
    return content <= NO_TOPIC


WISH = re.compile(r"(?:i (?:want|need|would like|'d like)|please|help)\b", re.IGNORECASE)
# A question that points back at what was said before it ("... Can I use Afterpay for that?").
POINTS_BACK = re.compile(r"\b(?:that|this|it|them|those|these|one)\b[^.!?]*\?\s*$", re.IGNORECASE)


def _sets_up(piece: str, following: str) -> bool:
    """Whether `piece`, a wish said without a question mark ("I want the A$2,400 table but would
    rather pay it off in bits."), is the setting of the question after it, which points back at
    it ("Can I use Afterpay for that?"), rather than a request of its own."""
    return (
        bool(WISH.match(piece))
        and not piece.rstrip().endswith("?")
        and bool(POINTS_BACK.search(following))
    )


def _bare(piece: str) -> str:
    """`piece` without the greeting, label and "and"/"also" that open it."""
    return LEAD.sub("", LABEL.sub("", GREETING.sub("", piece.strip(" ,;"))))


def split(text: str) -> list[str]:
    """The questions of `text`, in order (the whole text when it asks one thing)."""
    text = text.strip()
    cuts = [0, *(i for m in BOUNDARY.finditer(text) for i in (m.start(), m.end())), len(text)]
    spans = [(a, b) for a, b in zip(cuts[::2], cuts[1::2], strict=True) if text[a:b].strip(" ,;")]
    groups: list[list[int]] = []  # [start, end] of each question, in the text
    pending: int | None = None  # where statements before the next question begin
    pieces = [_bare(text[a:b]) for a, b in spans]
    for n, (a, b) in enumerate(spans):
        piece = pieces[n]
        words = len(re.findall(r"\w+", piece))
        following = pieces[n + 1] if n + 1 < len(pieces) else ""
        if not ASKS.search(piece) or _sets_up(piece, following):
            if groups:
                groups[-1][1] = b
            elif pending is None:
                pending = a
            continue
        if pending is not None:
            a, pending = pending, None
        if groups and (words < MIN_WORDS or _names_no_topic(piece)):
            groups[-1][1] = b
        else:
            groups.append([a, b])
    if pending is not None:
        groups.append([pending, len(text)])
    if len(groups) > 1 and len(re.findall(r"\w+", text[slice(*groups[0])])) < MIN_WORDS:
        groups[1][0] = groups[0][0]  # "and you? how long is shipping"
        groups = groups[1:]
    if len(groups) > MAX_PARTS:
        groups = [*groups[: MAX_PARTS - 1], [groups[MAX_PARTS - 1][0], groups[-1][1]]]
    parts = [_bare(text[a:b]) for a, b in groups]
    return parts if len(parts) > 1 else [text]
