"""Keyword scoring (Okapi BM25) over passages: catches exact terms (a product line, a menu name,
"PayPal") that sentence embeddings blur, and is cheap enough to recompute per store in memory."""

import math
import re
from collections import Counter

WORD = re.compile(r"[a-z0-9]+")
# Function words, and the filler shoppers wrap around every request ("I need help to ...").
STOPWORDS = frozenset(
    """a about after again all also am an and any are as at be been before being below between both
    but by can cannot could did do does doing don done down during each few for from further get
    got gotta had has have having he her here hers him his how i if in into is it its itself just
    let me might more most must my myself need needs no nor not now of off on once only or other
    our ours out over own please same she should so some such than that the their them then there
    these they this those through to too try trying under until up very via wanna want wants was
    we were what when where which while who whom why will with would ya yes you your yours ur u
    help helping assistance assist support hi hello hey thanks thank know see tell show
    """.split()
)
SUFFIXES = ("ations", "ation", "ings", "ing", "ies", "ied", "ed", "es", "s", "ly")


def stem(word: str) -> str:
    """A light suffix stripper: 'cancelling', 'cancellation' and 'canceled' all become 'cancel'."""
    for suffix in SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)] + ("y" if suffix in ("ies", "ied") else "")
            break
    if len(word) > 4 and word[-1] == word[-2] and word[-1] not in "aeiousz":
        word = word[:-1]
    return word


# Spellings of one word that WORD would cut differently ("E-mail" is "email").
VARIANTS = re.compile(r"\be-mail")


def terms(text: str) -> list[str]:
    return [
        stem(w) for w in WORD.findall(VARIANTS.sub("email", text.lower())) if w not in STOPWORDS
    ]


class BM25:
    def __init__(self, documents: list[str], k1: float = 1.2, b: float = 0.75):
        self.k1, self.b = k1, b
        self.docs = [Counter(terms(doc)) for doc in documents]
        self.lengths = [sum(doc.values()) for doc in self.docs]
        self.avg_length = (sum(self.lengths) / len(self.lengths)) if self.lengths else 0.0
        df = Counter(term for doc in self.docs for term in doc)
        n = len(self.docs)
        self.idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}

    def scores(self, query: str) -> list[float]:
        wanted = set(terms(query))
        out = []
        for doc, length in zip(self.docs, self.lengths, strict=True):
            norm = self.k1 * (1 - self.b + self.b * length / (self.avg_length or 1))
            score = 0.0
            for term in wanted:
                tf = doc.get(term)
                if tf:
                    score += self.idf[term] * tf * (self.k1 + 1) / (tf + norm)
            out.append(score)
        return out
