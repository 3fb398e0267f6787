"""Fixing shoppers' typos before a message is embedded: "do you shpi to Philadelphia?", "restoring
my rpofile key". MiniLM splits an unknown word into meaningless pieces, so one typo can hide what a
short message is about, and the bot would hand over a question its articles answer.

A word is left alone when it is known: a whole word of the embedding model's vocabulary (about
20,000 English words) or a word of the store's articles or the intent examples. An unknown word
becomes the nearest word of the store's articles or the intent examples within one edit (two for
long words); with no such word it stays as written (names, places, order numbers).
"""

import functools
import re
import unicodedata

from chatbot.knowledge import embeddings
from chatbot.knowledge.keywords import stem

WORD = re.compile(r"[A-Za-z]+")
MIN_LENGTH = 4  # shorter words are left alone; candidates may be one letter shorter
# Chat spellings that are not typos.
INFORMAL = frozenset(
    "dont cant wont didnt doesnt isnt arent wasnt havent hasnt couldnt wouldnt shouldnt "
    "youre theyre thats whats wheres hows ive youve wanna gonna gotta lemme pls plz thx".split()
)

# Chat shorthand, written out: too short to correct as typos, and MiniLM reads "wen is ur live
# chat open" as something else than "when is your live chat open".
SHORTHAND = {
    "u": "you", "ur": "your", "wen": "when", "wat": "what", "wut": "what", "hw": "how",
    "abt": "about", "b4": "before", "bc": "because", "cuz": "because", "coz": "because",
    "pls": "please", "plz": "please", "thx": "thanks", "ty": "thanks", "tmrw": "tomorrow",
    "2day": "today", "2moro": "tomorrow", "msg": "message", "cud": "could", "wud": "would",
    "shud": "should", "dunno": "don't know", "idk": "I don't know", "rn": "right now",
    "asap": "as soon as possible", "addy": "address", "acct": "account", "pwd": "password",
    "qty": "quantity", "ppl": "people", "wk": "week", "wks": "weeks", "hrs": "hours",
    "mins": "minutes", "yr": "year", "yrs": "years", "whats": "what is", "hows": "how is",
    "wheres": "where is", "whens": "when is", "amex": "American Express", "sub": "subscription",
    "subs": "subscriptions", "r": "are", "n": "and", "wats": "what is", "til": "until",
    "xmas": "Christmas", "bday": "birthday",
}  # fmt: skip
# A shorthand word on its own, not part of an e-mail address, link or code ("u.s.", "pwd-2").
SHORT_WORD = re.compile(rf"(?<![\w@./-])(?:{'|'.join(SHORTHAND)})(?![\w@./'-])", re.IGNORECASE)


def distance(a: str, b: str, limit: int) -> int:
    """Edit distance where swapping two neighbours counts as one edit; limit + 1 when over."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            current[j] = min(
                previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] != b[j - 1])
            )
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[-1]


def allowed_edits(word: str) -> int:
    return 1 if len(word) < 7 else 2


@functools.cache
def vocabulary() -> frozenset[str]:
    """Whole words of the embedding model's vocabulary."""
    path = embeddings.model_dir() / "vocab.txt"
    words = path.read_text(encoding="utf-8").split()
    return frozenset(w for w in words if w.isalpha() and w.islower())


def words_of(texts) -> frozenset[str]:
    return frozenset(w.lower() for text in texts for w in WORD.findall(text))


def _nearest(word: str, domain: frozenset[str]) -> str | None:
    """The store's (or the intents') word nearest to `word`, if one is close enough. Only those
    words are targets: correcting towards any dictionary word turns a valid word the model's
    vocabulary lacks ("rebate") into a different one ("relate")."""
    limit = allowed_edits(word)
    best, best_key = None, (limit + 1, 0)
    for candidate in sorted(domain):
        if len(candidate) >= MIN_LENGTH - 1:
            # Of equally near words, one of the same length: "lnog" is "long" swapped, not "log".
            key = (distance(word, candidate, limit), abs(len(candidate) - len(word)))
            if key < best_key:
                best, best_key = candidate, key
    return best if best_key[0] <= limit else None


def correct(text: str, domain: frozenset[str]) -> str:
    """`text` with unknown words replaced by their nearest known word (see module doc)."""
    known = vocabulary()

    def fix(match: re.Match) -> str:
        word = match.group(0)
        lower = word.lower()
        if len(lower) < MIN_LENGTH or lower in known or lower in domain or lower in INFORMAL:
            return word
        return _nearest(lower, domain) or word

    return WORD.sub(fix, written_out(text))


MONTHS = (
    "January February March April May June July August September October November December".split()
)
# A month cut short beside a day ("dec 10", "3rd Jan"): articles write dates in full ("until January
# 15"), and MiniLM reads "dec" as nothing of the kind.
_SHORT_MONTH = r"(jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec)"
_DAY = r"\d{1,2}(?:st|nd|rd|th)?"
SHORT_DATE = re.compile(
    rf"\b{_SHORT_MONTH}\.?(?=\s+{_DAY}\b)"  # "dec 10"
    rf"|(?<=\d\s){_SHORT_MONTH}\b|(?<=\d[snrt][tdh]\s){_SHORT_MONTH}\b",  # "10 dec", "3rd Jan"
    re.IGNORECASE,
)


def _month(match: re.Match) -> str:
    short = match.group(0)[:3].lower()
    return next(m for m in MONTHS if m.lower().startswith(short))


def written_out(text: str) -> str:
    """`text` with its chat shorthand written out ("wen is ur" -> "when is your", "dec 10" ->
    "December 10")."""
    return SHORT_DATE.sub(_month, SHORT_WORD.sub(lambda m: SHORTHAND[m.group(0).lower()], text))


# A message is in another language when most of its words are neither English words nor the
# store's, as written and still after typo correction (which turns "pagare" into a store word as
# readily as "retrun" into "return"). Over the 5,182 bitext requests and the English turns of every
# evaluation store, no message reaches both shares ("i exoect a damn restitution of 299 dollars":
# 0.50 and 0.50; "how lnog do i hav to retrun a jaket": 0.60 and 0); of the 29 non-English turns
# there, 19 do and 2 are in another script; the other 8 are short or share many words with English.
OTHER_LANGUAGE_WRITTEN, OTHER_LANGUAGE_CORRECTED = 0.55, 0.50
OTHER_LANGUAGE_MIN_WORDS = 4  # "Livrez-vous au Canada ?" is too short to tell from a typo
LETTERS = re.compile(r"[^\W\d_]+")


@functools.cache
def _known_stems() -> frozenset[str]:
    return frozenset(stem(w) for w in vocabulary())


def _unknown_share(text: str, domain: frozenset[str]) -> float | None:
    words = [w.lower() for w in LETTERS.findall(text) if len(w) >= 3]
    if len(words) < OTHER_LANGUAGE_MIN_WORDS:
        return None
    known, stems = vocabulary(), _known_stems()
    unknown = [
        w
        for w in words
        if w not in known and w not in domain and w not in INFORMAL and stem(w) not in stems
    ]
    return len(unknown) / len(words)


def other_language(text: str, corrected: str, domain: frozenset[str]) -> bool:
    """Whether `text` (`corrected`: the same after `correct` with `domain`) is written in a
    language other than English (the bot answers only in English, from English articles): mostly
    letters of another script ("笔记本电脑拆封后还能退货吗？"), or mostly unknown words (see
    OTHER_LANGUAGE_WRITTEN)."""
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return False
    if sum("LATIN" in unicodedata.name(ch, "") for ch in letters) < len(letters) / 2:
        return True
    written = _unknown_share(written_out(text), domain)
    fixed = _unknown_share(corrected, domain)
    return (
        written is not None
        and fixed is not None
        and written >= OTHER_LANGUAGE_WRITTEN
        and fixed >= OTHER_LANGUAGE_CORRECTED
    )
