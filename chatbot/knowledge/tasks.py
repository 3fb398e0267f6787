"""Background re-indexing. These tasks run on Celery's default queue, not `gpu`: embedding a few
articles is CPU work that must not hold an inference worker. (Replies also index a stale article
themselves before searching, so a lagging queue never hides an article.)"""

from celery import shared_task

from . import indexing


@shared_task(ignore_result=True)
def index_article(article_id: int) -> int:
    return indexing.index_article(article_id)


@shared_task(ignore_result=True)
def index_store(store_id: int) -> int:
    return indexing.index_stale_articles(store_id)
