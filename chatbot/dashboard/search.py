"""Full-text search over transcripts: PostgreSQL full-text search (English stemming, web-search
syntax: quotes, OR, -word, ranked, GIN-indexed) when on PostgreSQL, a case-insensitive substring
match on SQLite."""

import re

from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector
from django.db import connection
from django.db.models import F

from chatbot.conversations.models import Message

CONFIG = "english"
SNIPPET_CHARS = 160
MAX_MESSAGES = 300
HITS_PER_CONVERSATION = 3
WORD = re.compile(r"\w+", re.UNICODE)


def matching_messages(conversations, query: str):
    """Messages of `conversations` that match `query`, best first."""
    messages = Message.objects.filter(conversation__in=conversations).exclude(
        role=Message.Role.SYSTEM
    )
    if connection.vendor == "postgresql":
        wanted = SearchQuery(query, config=CONFIG, search_type="websearch")
        vector = SearchVector("text", config=CONFIG)
        return (
            messages.annotate(document=vector, rank=SearchRank(vector, wanted))
            .filter(document=wanted)
            .order_by(F("rank").desc(), "-pk")
        )
    return messages.filter(text__icontains=query).order_by("-pk")


def snippet(text: str, query: str) -> tuple[str, str, str]:
    """(before, match, after) around the first place a query word (or its stem) occurs.

    Returned as plain parts so the template escapes each and marks the match itself.
    """
    lowered = text.lower()
    found = None
    for word in sorted(WORD.findall(query.lower()), key=len, reverse=True):
        for probe in (word, word[: max(3, len(word) - 2)]):
            at = lowered.find(probe)
            if at >= 0:
                found = (at, at + len(probe))
                break
        if found:
            break
    if found is None:
        return "", "", text[:SNIPPET_CHARS]
    start, end = found
    lead = max(0, start - SNIPPET_CHARS // 2)
    before = ("…" if lead else "") + text[lead:start]
    tail = end + SNIPPET_CHARS // 2
    after = text[end:tail] + ("…" if tail < len(text) else "")
    return before, text[start:end], after


def search(conversations, query: str) -> list[dict]:
    """Conversations with matching messages: [{"conversation", "hits": [{"message", "snippet"}]}]."""
    query = query.strip()
    if not query:
        return []
    results: dict[int, dict] = {}
    hits = matching_messages(conversations, query).select_related("conversation__store")
    for message in hits[:MAX_MESSAGES]:
        entry = results.setdefault(
            message.conversation_id, {"conversation": message.conversation, "hits": []}
        )
        if len(entry["hits"]) < HITS_PER_CONVERSATION:
            entry["hits"].append({"message": message, "snippet": snippet(message.text, query)})
    return list(results.values())
