"""Bulk import of knowledge-base articles from Markdown, CSV or JSON; articles are matched by title,
so importing the same document again updates instead of duplicating."""

import csv
import io
import json
import re

from django.db import transaction
from rest_framework.exceptions import ValidationError

from chatbot.knowledge.models import Article

MAX_BYTES = 2 * 1024 * 1024
MAX_ARTICLES = 1000
MAX_TITLE_CHARS = Article._meta.get_field("title").max_length
HEADING = re.compile(r"^#{1,2}\s+(.+?)\s*#*\s*$")
EXTENSIONS = {".md": "markdown", ".markdown": "markdown", ".csv": "csv", ".json": "json"}


def read(data: dict) -> list[tuple[str, str]]:
    """(title, body) pairs from the validated import request, or a ValidationError naming the
    field (and row) at fault."""
    upload = data.get("file")
    fmt = data.get("format")
    if upload is not None:
        if upload.size > MAX_BYTES:
            raise ValidationError({"file": [f"Files are limited to {MAX_BYTES // 1024} KiB."]})
        if fmt is None:
            name = upload.name.lower()
            fmt = next((f for ext, f in EXTENSIONS.items() if name.endswith(ext)), None)
        try:
            text = upload.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ValidationError({"file": ["The file is not UTF-8 text."]}) from None
        if "\x00" in text:
            raise ValidationError({"file": ["The file contains NUL characters."]})
    elif "content" in data:
        text = data["content"]
        if len(text.encode()) > MAX_BYTES:
            raise ValidationError({"content": [f"Limited to {MAX_BYTES // 1024} KiB."]})
    else:
        raise ValidationError({"content": ["Send `content` or upload a `file`."]})
    if fmt is None:
        raise ValidationError({"format": ["Name the format: markdown, csv or json."]})
    articles = {"markdown": _markdown, "csv": _csv, "json": _json}[fmt](text)
    if not articles:
        raise ValidationError({"content": ["No articles found."]})
    if len(articles) > MAX_ARTICLES:
        raise ValidationError({"content": [f"At most {MAX_ARTICLES} articles per import."]})
    return _checked(articles)


def _markdown(text: str) -> list[tuple[str, str]]:
    """Each `# Title` (or `## Title`) starts an article; its body runs to the next one."""
    articles: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        heading = HEADING.match(line)
        if heading:
            articles.append((heading[1], []))
        elif articles:
            articles[-1][1].append(line)
        elif line.strip():
            raise ValidationError({"content": ["Markdown must start with a '# Title' line."]})
    return [(title, "\n".join(lines).strip()) for title, lines in articles]


def _csv(text: str) -> list[tuple[str, str]]:
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or not {"title", "body"} <= set(reader.fieldnames):
        raise ValidationError({"content": ["CSV needs a header row with columns title and body."]})
    try:
        return [(row["title"] or "", row["body"] or "") for row in reader]
    except csv.Error as error:
        raise ValidationError({"content": [f"Unreadable CSV: {error}."]}) from None


def _json(text: str) -> list[tuple[str, str]]:
    try:
        data = json.loads(text)
    except ValueError:
        raise ValidationError({"content": ["The JSON is not valid."]}) from None
    if isinstance(data, dict):
        data = data.get("articles")
    if not isinstance(data, list):
        raise ValidationError({"content": ['Expected [{"title", "body"}, ...].']})
    items = []
    for index, item in enumerate(data):
        if not isinstance(item, dict) or not all(
            isinstance(item.get(key), str) for key in ("title", "body")
        ):
            raise ValidationError(
                {f"articles[{index}]": ["Each article needs string title and body."]}
            )
        items.append((item["title"], item["body"]))
    return items


def _checked(articles: list[tuple[str, str]]) -> list[tuple[str, str]]:
    errors = {}
    cleaned = {}
    for index, (title, body) in enumerate(articles):
        title, body = title.strip(), body.strip()
        if not title:
            errors[f"articles[{index}].title"] = ["This field may not be blank."]
        elif len(title) > MAX_TITLE_CHARS:
            errors[f"articles[{index}].title"] = [f"At most {MAX_TITLE_CHARS} characters."]
        if not body:
            errors[f"articles[{index}].body"] = ["This field may not be blank."]
        cleaned[title] = body  # a title given twice: the last one wins
    if errors:
        raise ValidationError(errors)
    return list(cleaned.items())


def save(store, articles: list[tuple[str, str]]) -> tuple[int, int, list[Article]]:
    """Create or update by title in one transaction: (created, updated, the articles)."""
    created = updated = 0
    saved = []
    with transaction.atomic():
        existing = {a.title: a for a in Article.objects.filter(store=store).select_for_update()}
        for title, body in articles:
            article = existing.get(title)
            if article is None:
                article = Article.objects.create(store=store, title=title, body=body)
                created += 1
            elif article.body != body:
                article.body = body
                article.save(update_fields=["body", "updated"])
                updated += 1
            saved.append(article)
    return created, updated, saved
