"""Re-index an article in the background once a change to it is committed.

A deleted article needs no task: its passages and index row go with it (cascade), and the search
cache notices the changed passage set.
"""

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from .models import Article


@receiver(post_save, sender=Article, dispatch_uid="knowledge-reindex-article")
def reindex_saved_article(sender, instance: Article, raw=False, **kwargs):
    if raw:  # loaddata
        return
    from .tasks import index_article

    article_id = instance.pk
    transaction.on_commit(lambda: index_article.delay(article_id), robust=True)
