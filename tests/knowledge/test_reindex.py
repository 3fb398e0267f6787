"""The index follows the articles: a save re-indexes in the background once committed, a delete
drops the passages, and a reply never searches a stale index even if the task has not run."""

import pytest

from chatbot.celery import app
from chatbot.knowledge import retrieval
from chatbot.knowledge.models import Article, ArticleIndex, Passage


@pytest.fixture
def eager_tasks():
    """Run tasks where they are sent, as a worker would, so the on-commit trigger is observable."""
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def test_saving_an_article_indexes_it_after_commit(bike_shop, eager_tasks):
    article = Article.objects.create(
        store=bike_shop, title="Rentals", body="## Renting\nRent an e-bike for $35 a day."
    )
    passages = Passage.objects.filter(article=article)
    assert [p.heading for p in passages] == ["Renting"]
    assert ArticleIndex.objects.get(article=article).source_updated == article.updated

    article.body = "## Renting\nRent an e-bike for $40 a day.\n\n## Deposit\nA $200 deposit."
    article.save()
    assert [p.text for p in Passage.objects.filter(article=article)] == [
        "Rent an e-bike for $40 a day.",
        "A $200 deposit.",
    ]
    hit = retrieval.store_index(bike_shop.pk).search("how much is the rental deposit?", k=1)[0]
    assert hit.entry.text == "A $200 deposit."


def test_deleting_an_article_removes_its_passages_from_search(bike_shop, eager_tasks):
    retrieval.store_index(bike_shop.pk)
    Article.objects.get(store=bike_shop, title="Gift cards").delete()
    assert not Passage.objects.filter(heading__contains="gift card").exists()
    titles = {e.article_title for e in retrieval.store_index(bike_shop.pk).entries}
    assert "Gift cards" not in titles and "Returns" in titles


def test_search_indexes_a_stale_article_itself_when_no_worker_ran_the_task(bike_shop):
    # No eager tasks and no worker: the on-commit task is only queued.
    index = retrieval.store_index(bike_shop.pk)
    assert {e.article_title for e in index.entries} == {
        "Returns", "Shipping", "Warranty", "Gift cards", "Bike fitting",
    }  # fmt: skip
    article = Article.objects.get(store=bike_shop, title="Bike fitting")
    article.body = "## Booking a fitting\nFittings now take 90 minutes and cost $95."
    article.save()
    hit = retrieval.store_index(bike_shop.pk).search("how long is a bike fitting?", k=1)[0]
    assert "90 minutes" in hit.entry.text


def test_stores_never_see_each_others_passages(bike_shop):
    from chatbot.stores.models import Store

    other = Store.objects.create(name="Other", slug="other")
    Article.objects.create(store=other, title="Secret", body="## Hidden\nOnly for the other store.")
    index = retrieval.store_index(bike_shop.pk)
    assert "Secret" not in {e.article_title for e in index.entries}
    assert retrieval.store_index(other.pk).entries[0].article_title == "Secret"
