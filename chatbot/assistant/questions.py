"""Splitting a message that asks several things ("Do you ship to Canada, and how much does express
shipping cost?") into its questions, so each is answered from its own passage, or named as not
covered, instead of the best passage for the mixture answering neither."""

import re

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


def split(text: str) -> list[str]:
    """The questions of `text`, in order (the whole text when it asks one thing)."""
    pieces = [
        LEAD.sub("", p.strip(" ,;")) for p in BOUNDARY.split(text.strip()) if p and p.strip(" ,;")
    ]
    parts: list[str] = []
    for piece in pieces:
        if parts and len(re.findall(r"\w+", piece)) < MIN_WORDS:
            parts[-1] = f"{parts[-1]} {piece}"
        else:
            parts.append(piece)
    if len(parts) > 1 and len(re.findall(r"\w+", parts[0])) < MIN_WORDS:
        parts[1] = f"{parts[0]} {parts[1]}"
        parts = parts[1:]
    if len(parts) > MAX_PARTS:
        parts = [*parts[: MAX_PARTS - 1], " ".join(parts[MAX_PARTS - 1 :])]
    return parts or [text]
