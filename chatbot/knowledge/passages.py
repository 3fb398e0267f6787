"""Splitting a Markdown article into passages: one per section (heading), long sections cut at
paragraph or sentence boundaries, so each passage is a self-contained answer a reply can quote."""

import re
from dataclasses import dataclass

MAX_PASSAGE_CHARS = 900
HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
# A full stop after these ends no sentence ("Oranmore, Co. Galway", "Mr. Jones", "e.g. a card").
ABBREVIATIONS = ("Co", "St", "Mr", "Mrs", "Ms", "Dr", "Ltd", "Inc", "Jr", "Sr", "vs", "e.g", "i.e")
NOT_AFTER_ABBREVIATION = "".join(rf"(?<!\b{re.escape(a)}\.)" for a in ABBREVIATIONS)
# The lead-in a list item is said with ("You can: "), and what joined it to the next item.
LEAD_IN = re.compile(r"^[^:]{3,}?:\s")
ITEM_JOINER = re.compile(r"(?:[,;]|,? (?:or|and))\.?$")
YES_OR_NO = re.compile(r"(?:yes|no)[.!]", re.IGNORECASE)
# A sentence may open with a figure or a price ("$150 to $499.99: ...").
SENTENCE_END = re.compile(rf"(?<=[.!?]){NOT_AFTER_ABBREVIATION}\s+(?=[A-Z0-9$€£\"“(])")


@dataclass(frozen=True)
class Section:
    heading: str
    text: str


def sections(title: str, body: str) -> list[Section]:
    """Sections of the article in order. A leading H1 repeats the title and is dropped; text before
    the first heading is filed under the article title."""
    found: list[Section] = []
    heading = title.strip()
    lines: list[str] = []
    seen_heading = False

    def flush():
        text = "\n".join(lines).strip()
        if text:
            found.append(Section(heading, text))
        lines.clear()

    for line in body.splitlines():
        match = HEADING.match(line.strip())
        if match is None:
            lines.append(line.rstrip())
            continue
        level, text = len(match.group(1)), match.group(2).strip()
        if level == 1 and not seen_heading and not "\n".join(lines).strip():
            seen_heading = True
            continue  # the article's own title
        flush()
        seen_heading = True
        heading = text
    flush()
    return found


def split_text(text: str, limit: int = MAX_PASSAGE_CHARS) -> list[str]:
    """Cut `text` into chunks of at most `limit` characters, preferring paragraph, then sentence
    boundaries; a single overlong sentence is cut at a space."""
    if len(text) <= limit:
        return [text]
    pieces: list[str] = []
    for paragraph in re.split(r"\n\s*\n", text):
        paragraph = paragraph.strip()
        if not paragraph:
            continue
        if len(paragraph) <= limit:
            pieces.append(paragraph)
            continue
        for sentence in SENTENCE_END.split(paragraph):
            while len(sentence) > limit:
                cut = sentence.rfind(" ", 0, limit)
                cut = cut if cut > 0 else limit
                pieces.append(sentence[:cut].strip())
                sentence = sentence[cut:].strip()
            if sentence:
                pieces.append(sentence)
    chunks: list[str] = []
    for piece in pieces:
        if chunks and len(chunks[-1]) + 1 + len(piece) <= limit:
            joiner = "\n\n" if "\n" in piece or piece[:1] in "-*" else " "
            chunks[-1] = chunks[-1] + joiner + piece
        else:
            chunks.append(piece)
    return chunks


@dataclass(frozen=True)
class PassageText:
    heading: str
    text: str


def split_article(title: str, body: str, limit: int = MAX_PASSAGE_CHARS) -> list[PassageText]:
    """The passages to index for an article, in reading order."""
    return [
        PassageText(section.heading, chunk)
        for section in sections(title, body)
        for chunk in split_text(section.text, limit)
    ]


LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
EMPHASIS = re.compile(r"(\*\*|__|`)(.+?)\1")
TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$")
# Column names that keep their capital inside a row's sentence ("Phone: Saturday 10:00 – 16:00").
PROPER = re.compile(
    r"(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day|January|February|March|April|May|June|July"
    r"|August|September|October|November|December"
)
TABLE_RULE = re.compile(r"^\s*\|?\s*:?-+:?\s*(?:\|\s*:?-+:?\s*)*\|?\s*$")


def _cells(line: str) -> list[str]:
    return [EMPHASIS.sub(r"\2", c).strip() for c in line.strip().strip("|").split("|")]


def _row_sentence(header: list[str], cells: list[str]) -> str:
    """A table row as a sentence a shopper can read alone: its first cell, then each other cell
    after its column's name ("Germany: carrier DHL, price €8.95, delivery time 2-4 working days.";
    a name of three words or more takes a colon: "what we do: adjust gears")."""

    def said(column: str, cell: str) -> str:
        if column[1:2].islower() and not PROPER.match(column):
            column = column[:1].lower() + column[1:]
        return f"{column}: {cell}" if len(column.split()) > 2 else f"{column} {cell}".strip()

    cells = [_cell_clause(c) for c in cells]
    rest = [said(h, c) for h, c in zip(header[1:], cells[1:], strict=False) if c]
    sentence = f"{cells[0]}: {', '.join(rest)}" if rest else cells[0]
    return sentence if sentence[-1:] in ".!?" else f"{sentence}."


def _cell_clause(cell: str) -> str:
    """A cell as one clause of its row's sentence: its own sentences joined by semicolons, without
    a closing full stop ("Use Edit order for the first 2 hours; After that, contact us"), so the
    row stays one sentence and no sentence of it is read without the row it belongs to."""
    said = [re.sub(r"(?<!\.\.)\.$", "", part.strip()) for part in SENTENCE_END.split(cell)]
    return "; ".join(part for part in said if part)


def sentences(text: str, end: re.Pattern = SENTENCE_END) -> list[str]:
    """Sentences and list items of a passage, for quoting the part that answers a question;
    ``end`` is where a line splits into sentences. A list item keeps the sentence that leads into
    its list ("The warranty does not cover: machines used in a café."): quoted alone it would say
    the opposite. Markdown emphasis is dropped: a shopper reads plain text."""
    return [sentence for block in blocks(text, end) for sentence in block]


def joined_leads(said: list[str]) -> list[str]:
    """Neighbouring items of one list, each said with its lead-in (`blocks`), as one sentence:
    "You can: pause it. You can: skip it." reads "You can: pause it; skip it."."""
    out: list[str] = []
    for sentence in said:
        if out and continues_list(out[-1], sentence):
            item = sentence[LEAD_IN.match(sentence).end() :]
            out[-1] = f"{ITEM_JOINER.sub('', out[-1].rstrip('.'))}; {item}"
        else:
            out.append(sentence)
    return out


def list_items(sentence: str) -> list[str]:
    """The items of a list said once with its lead-in (`joined_leads`: "You can: skip it; pause
    it."), each with the lead-in ("You can: skip it.", "You can: pause it."); none for any other
    sentence."""
    lead = LEAD_IN.match(sentence)
    if lead is None or "; " not in sentence[lead.end() :]:
        return []
    said = sentence[lead.end() :].rstrip(".").split("; ")
    return [f"{lead.group(0)}{item}." for item in said]


def continues_list(before: str, sentence: str) -> bool:
    """Whether `sentence` is the next item of the list `before` is an item of (both said with one
    lead-in, `blocks`)."""
    lead = LEAD_IN.match(sentence)
    return lead is not None and before.startswith(lead.group(0))


def _joined_short(parts) -> list[str]:
    """A bare "Yes." or "No." stays with the sentence after it: quoted alone, it answers whatever
    the shopper asked. So does a question the article asks ("Ordered as a guest? Enter your order
    number at fernhillcycles.nl/status."): alone it answers nothing, and what follows it is its
    answer."""
    out: list[str] = []
    carry = ""
    for part in parts:
        part = f"{carry} {part}".strip()
        carry = part if YES_OR_NO.fullmatch(part) or part.endswith("?") else ""
        if not carry:
            out.append(part)
    return [*out, carry] if carry else out


def blocks(text: str, end: re.Pattern = SENTENCE_END) -> list[list[str]]:
    """The sentences of `sentences`, grouped: the items of a list with no lead-in sentence and the
    rows of a Markdown table (rates or options under a heading) form one block, quoted together or
    not at all (one row of a rates list answers "what are my options?" with a single option); any
    other sentence is a block of its own. A table row reads as a sentence (`_row_sentence`); its
    header and rule lines are not shown."""
    out: list[list[str]] = []
    lead, led = "", False  # the sentence before a list, and whether an item has said it
    in_table = False  # the previous line was an item of a list without a lead-in
    header: list[str] | None = None  # the header of the Markdown table being read
    for raw in text.splitlines():
        if TABLE_ROW.match(raw) or (header is not None and TABLE_RULE.match(raw)):
            if header is None:
                header = _cells(raw)
                if lead and not led:
                    out.append([lead])
                lead, led, in_table = "", False, False
            elif not TABLE_RULE.match(raw):
                row = _row_sentence(header, _cells(raw))
                if in_table:
                    out[-1].append(row)
                else:
                    out.append([row])
                in_table = True
            continue
        header = None
        item = bool(LIST_ITEM.match(raw))
        line = EMPHASIS.sub(r"\2", LIST_ITEM.sub("", raw)).strip()
        if not line:
            continue
        parts = _joined_short(part.strip() for part in end.split(line) if part.strip())
        if item and lead:
            parts[0] = f"{lead} {parts[0]}"
            if len(parts) == 1:
                parts[0] = ITEM_JOINER.sub(".", parts[0])
            led = True
        elif item:
            if in_table:
                out[-1].extend(parts)
            else:
                out.append(parts)
            in_table = True
            continue
        elif not item:
            if lead and not led:
                out.append([lead])  # no list followed it
            lead, led = (parts[-1], False) if parts[-1].endswith(":") else ("", False)
            if lead:
                parts = parts[:-1]  # said with each item of its list
        in_table = False
        out.extend([part] for part in parts)
    if lead and not led:
        out.append([lead])
    return out
