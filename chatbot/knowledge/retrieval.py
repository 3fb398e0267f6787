"""Finding the passages that answer a shopper's question: cosine similarity of MiniLM embeddings
(of each passage's heading and text, and of its heading alone) combined with BM25 keyword scores,
over one store's passages held in numpy.

A store's knowledge base is small (tens to hundreds of passages), so an exact search over a matrix
loaded once per index version is faster and simpler than an ANN index; vectors live in the database
as float32 bytes, so it works the same on SQLite and PostgreSQL.

Measured on the development set (192 answerable questions, 25 passages): the best passage holds the
expected facts for 128 with the question alone, 156 when the question of the shopper's intent is
added to the query vector; the best article for 173 and 186.
"""

import functools
import re
import threading
from dataclasses import dataclass

import numpy as np

from . import embeddings
from .keywords import BM25, terms

# Weight of the keyword score in the hybrid: small, because shoppers' words rarely match articles'
# words, but enough to lift a passage that names the exact thing asked about (a brand, a menu).
KEYWORD_WEIGHT = 0.1
# BM25 is unbounded: score / (score + KEYWORD_HALF) maps it into [0, 1) without a per-query max.
KEYWORD_HALF = 4.0
# Weight of the expansion (what the shopper's intent is about) against their own words.
EXPANSION_WEIGHT = 0.65
# Added to a passage's score when it holds two of the question's words in a row ("full service",
# "frame number", "live chat"): an exact phrase of the store's own, which MiniLM weighs no more
# than any other pair of words. It ranks; it is no sign that the passage answers (relevance):
# "cracked screen" is in the warranty's exclusions, not an offer to repair one.
PHRASE_BONUS = 0.05


@dataclass(frozen=True)
class Entry:
    """One indexed passage, as search needs it."""

    passage_id: int | None
    article_id: int | None
    article_title: str
    heading: str
    text: str

    @property
    def label(self) -> str:
        """How a reply cites it: the article, and the section when it has its own heading."""
        if self.heading and self.heading != self.article_title:
            return f"{self.article_title} › {self.heading}"
        return self.article_title

    def embedding_text(self) -> str:
        return f"{self.label}\n{self.text}"


@dataclass(frozen=True)
class Hit:
    entry: Entry
    score: float  # what ranks: expanded-query cosine and keywords
    relevance: float  # cosine of the shopper's own words alone: is anything here about it at all


class HybridIndex:
    def __init__(self, entries: list[Entry], vectors: np.ndarray, heading_vectors: np.ndarray):
        self.entries = entries
        self.vectors = vectors
        self.heading_vectors = heading_vectors
        self.bm25 = BM25([e.embedding_text() for e in entries])
        self.phrases = [_pairs(e.embedding_text()) for e in entries]

    @classmethod
    def build(cls, entries: list[Entry]) -> "HybridIndex":
        """Embed and index entries in memory."""
        return cls(
            entries,
            embeddings.encode([e.embedding_text() for e in entries]),
            embeddings.encode([e.label for e in entries]),
        )

    @functools.cached_property
    def words(self) -> frozenset[str]:
        """Every word of the indexed passages, lowercased (the store's own vocabulary)."""
        return frozenset(
            w.lower() for e in self.entries for w in re.findall(r"[A-Za-z]+", e.embedding_text())
        )

    def _cosines(self, vector: np.ndarray) -> np.ndarray:
        return (self.vectors @ vector + self.heading_vectors @ vector) / 2

    def search(
        self,
        query: str,
        k: int = 3,
        query_vector: np.ndarray | None = None,
        expansion: np.ndarray | None = None,
    ) -> list[Hit]:
        """The k best passages, best first.

        `expansion` (a unit vector, e.g. the embedding of what the shopper's intent is about) is
        added to the query vector for ranking; relevance is always judged on the query alone.
        """
        if not self.entries or not query.strip():
            return []
        if query_vector is None:
            query_vector = embeddings.encode([query])[0]
        relevance = self._cosines(query_vector)
        ranking = relevance
        if expansion is not None:
            ranking = (1 - EXPANSION_WEIGHT) * relevance + EXPANSION_WEIGHT * self._cosines(
                expansion
            )
        raw = np.asarray(self.bm25.scores(query), dtype=np.float32)
        scores = (1 - KEYWORD_WEIGHT) * ranking + KEYWORD_WEIGHT * raw / (raw + KEYWORD_HALF)
        asked = _pairs(query)
        phrase = PHRASE_BONUS * np.array([bool(asked & own) for own in self.phrases])
        scores = scores + phrase
        order = np.argsort(-scores, kind="stable")[:k]
        return [Hit(self.entries[i], float(scores[i]), float(relevance[i])) for i in order]


def _pairs(text: str) -> set[tuple[str, str]]:
    """Neighbouring content words of each line, stemmed (`keywords.terms`)."""
    out = set()
    for line in text.splitlines():
        words = terms(line)
        out.update(zip(words, words[1:], strict=False))
    return out


_cache_lock = threading.Lock()
_cache: dict[int, tuple[tuple, HybridIndex]] = {}


def store_index(store_id: int) -> HybridIndex:
    """The store's index, rebuilt from the database only when its passages changed.

    Articles whose index is missing or stale (the background task has not run yet) are indexed
    here first, so a reply never misses an article that exists.
    """
    from .indexing import index_stale_articles
    from .models import Passage

    index_stale_articles(store_id)
    rows = Passage.objects.filter(store_id=store_id)
    ids = list(rows.values_list("pk", flat=True))
    version = (len(ids), max(ids, default=0), sum(ids))
    with _cache_lock:
        cached = _cache.get(store_id)
        if cached is not None and cached[0] == version:
            return cached[1]
    passages = list(rows.select_related("article").order_by("article__title", "position"))
    index = HybridIndex(
        [Entry(p.pk, p.article_id, p.article.title, p.heading, p.text) for p in passages],
        embeddings.from_bytes([p.embedding for p in passages]),
        embeddings.from_bytes([p.heading_embedding for p in passages]),
    )
    with _cache_lock:
        _cache[store_id] = (version, index)
    return index
