"""Turning articles into indexed passages. Re-indexing replaces an article's passages in one
transaction, so a search sees either the old passages or the new ones."""

from django.db import transaction
from django.db.models import F, Q

from . import embeddings
from .models import Article, ArticleIndex, Passage
from .passages import split_article
from .retrieval import Entry


def index_article(article_id: int, attempts: int = 3) -> int:
    """(Re)index one article; returns its passage count (0 if it no longer exists)."""
    for _ in range(attempts):
        article = Article.objects.filter(pk=article_id).first()
        if article is None:
            return 0
        pieces = split_article(article.title, article.body)
        entries = [Entry(None, article.pk, article.title, p.heading, p.text) for p in pieces]
        full = embeddings.encode([e.embedding_text() for e in entries])
        heads = embeddings.encode([e.label for e in entries])
        with transaction.atomic():
            # Lock the article row so two indexers of one article take turns.
            current = Article.objects.select_for_update().filter(pk=article_id).first()
            if current is None:
                return 0
            if current.updated != article.updated:
                continue  # edited while we embedded: embed the new text
            Passage.objects.filter(article_id=article_id).delete()
            Passage.objects.bulk_create(
                Passage(
                    store_id=article.store_id,
                    article_id=article.pk,
                    position=i,
                    heading=piece.heading[:300],
                    text=piece.text,
                    embedding=embeddings.to_bytes(full[i]),
                    heading_embedding=embeddings.to_bytes(heads[i]),
                )
                for i, piece in enumerate(pieces)
            )
            ArticleIndex.objects.update_or_create(
                article_id=article_id, defaults={"source_updated": article.updated}
            )
            return len(pieces)
    raise RuntimeError(f"article {article_id} kept changing while it was indexed")


def stale_articles(store_id: int):
    """Articles never indexed, or changed since they were."""
    return Article.objects.filter(store_id=store_id).filter(
        Q(index__isnull=True) | ~Q(index__source_updated=F("updated"))
    )


def index_stale_articles(store_id: int) -> int:
    """Index what is missing or out of date; returns how many articles were indexed."""
    ids = list(stale_articles(store_id).values_list("pk", flat=True))
    for article_id in ids:
        index_article(article_id)
    return len(ids)
