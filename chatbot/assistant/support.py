"""Is a sentence supported by the sources a reply stands on?

The sources of a reply are the retrieved passages, the order record it looked up, and the store's
own settings (its name). They are cut into units: each sentence, and each pair of neighbouring
sentences of one passage (an answer often joins two; not when either is negated, so a negation
cannot be borrowed from the neighbour). A sentence is **supported** when all of this
holds for one unit:

1. every number, link (http…, www…, a bare domain name) and e-mail address in the sentence occurs verbatim in the
   sources, and so does every quoted label ("Start a return");
2. at least `MIN_COVERAGE` of the sentence's content words (lower-cased, light-stemmed, without
   function words) occur in that unit, and the sentence has at least one content word ("Yes." is
   a claim no passage words; only a fixed phrase may be that short);
3. the sentence's MiniLM embedding is at least `MIN_SIMILARITY` (cosine) from the unit's;
4. the sentence is negated ("not", "no", "never", "n't", ...) exactly when the unit is.

Items of one list said together with their lead-in ("You can: skip it; pause it.") are supported
when each item, said with the lead-in, is: a reply may quote the items without the sentences
between them.

Anything else (the question's own words, the model's memory, the instructions) supports nothing.
A sentence that is one of the product's fixed phrases (`phrases.kind_of`) needs no source.
"""

import re
from dataclasses import dataclass, field

import numpy as np

from chatbot.knowledge import embeddings
from chatbot.knowledge.keywords import terms
from chatbot.knowledge.passages import blocks as passage_blocks
from chatbot.knowledge.passages import joined_leads, list_items

# Chosen on sentences written against the development store's articles (tests/assistant/
# test_support.py has them): copies and close paraphrases of a passage sentence cover 0.8-1.0 of
# their content words and sit at 0.7-1.0 cosine ("We ship to Canada." 0.73, "Express shipping costs
# $14.95." 0.85); the small model's asides ("I'm sorry for your loss ...") cover under 0.4, and a
# looser paraphrase ("You can return items within 30 days." 0.62) is dropped, the passage's own
# sentence being shown instead.
MIN_COVERAGE = 0.8
MIN_SIMILARITY = 0.7

LINK = re.compile(
    r"\bhttps?://[^\s<>\"”)]+|\bwww\.[^\s<>\"”)]+"
    r"|\b(?<!@)(?:[A-Za-z0-9-]+\.)+(?:com|net|org|info|biz|shop|store|io|co|us|uk|ca|de|fr|eu)\b",
    re.IGNORECASE,
)
EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
NUMBER = re.compile(r"\d+(?:[.,:]\d+)*")
QUOTED = re.compile(r"[\"“]([^\"”]{2,60})[\"”]")
# A negation the embedding and the content words cannot see ("We do not accept cryptocurrency").
NEGATION = re.compile(r"\b(?:not|no|never|none|nor|cannot|without)\b|n't\b", re.IGNORECASE)


def _plain(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("–", "-").replace("—", "-").lower())


def numbers(text: str) -> set[str]:
    return {n.rstrip(".,:").replace(",", "") for n in NUMBER.findall(text)}


def tokens(sentence: str) -> set[str]:
    """What must occur verbatim in the sources: links, e-mail addresses, quoted labels."""
    found = {m.group(0).rstrip(".,;:!?").lower() for m in LINK.finditer(sentence)}
    found |= {m.group(0).lower() for m in EMAIL.finditer(sentence)}
    return found | {_plain(q) for q in QUOTED.findall(sentence)}


def _numbers_of(sentence: str) -> set[str]:
    return numbers(EMAIL.sub(" ", LINK.sub(" ", sentence)))


@dataclass(frozen=True)
class Verdict:
    supported: bool
    coverage: float = 0.0
    similarity: float = 0.0
    missing: tuple[str, ...] = ()  # tokens the sources lack
    unit: str = ""


@dataclass
class Sources:
    """The texts one reply may state facts from."""

    texts: list[str]
    units: list[str] = field(init=False)
    groups: list[list[str]] = field(init=False)
    _plain: str = field(init=False)
    _vectors: np.ndarray | None = field(init=False, default=None)

    def __post_init__(self):
        units: list[str] = []
        self.groups = []
        for text in self.texts:
            blocks = passage_blocks(text)
            # Lists with no lead-in and tables: quoted whole, so read whole (`evaluation.judge`).
            self.groups.extend(b for b in blocks if len(b) > 1)
            own = [sentence for block in blocks for sentence in block]
            units.extend(own)
            # A list's items quoted together, said once with their lead-in (`joined_leads`).
            units.extend(j for j in joined_leads(own) if j not in own)
            units.extend(
                f"{a} {b}"
                for a, b in zip(own, own[1:], strict=False)
                if not NEGATION.search(a) and not NEGATION.search(b)
            )
        self.units = units
        self._terms = [set(terms(u)) for u in units]
        self._negated = np.array([bool(NEGATION.search(u)) for u in units])
        self._plain = _plain("\n".join(self.texts))
        self._numbers = _numbers_of("\n".join(self.texts))

    def vectors(self) -> np.ndarray:
        if self._vectors is None:
            self._vectors = embeddings.encode(self.units)
        return self._vectors

    def check(self, sentence: str, vector: np.ndarray | None = None) -> Verdict:
        """Whether the sources support `sentence` (the definition is in the module doc)."""
        verdict = self._check(sentence, vector)
        items = list_items(sentence)
        if not verdict.supported and items and all(self._check(i).supported for i in items):
            return Verdict(True, verdict.coverage, verdict.similarity, (), " ".join(items))
        return verdict

    def _check(self, sentence: str, vector: np.ndarray | None = None) -> Verdict:
        missing = tuple(
            sorted(
                [t for t in tokens(sentence) if t not in self._plain]
                + [n for n in _numbers_of(sentence) if n not in self._numbers]
            )
        )
        own = set(terms(sentence))
        if missing or not own or not self.units:
            return Verdict(False, missing=missing)
        coverage = np.array([len(own & u) / len(own) for u in self._terms])
        negated = bool(NEGATION.search(sentence))
        candidates = np.flatnonzero((coverage >= MIN_COVERAGE) & (self._negated == negated))
        if not len(candidates):
            return Verdict(False, float(coverage.max()))
        if vector is None:
            vector = embeddings.encode([sentence])[0]
        sims = self.vectors()[candidates] @ vector
        best = int(np.argmax(sims))
        unit = int(candidates[best])
        similarity = float(sims[best])
        return Verdict(
            similarity >= MIN_SIMILARITY, float(coverage[unit]), similarity, (), self.units[unit]
        )

    def supported(self, sentence: str) -> bool:
        return self.check(sentence).supported
