"""Knowledge-base articles through the API: CRUD, and bulk import from Markdown, CSV and JSON that
updates by title; a real worker then indexes the imported articles in the background."""

import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from thread_worker import default_queue_worker

from chatbot.knowledge import indexing
from chatbot.knowledge.models import Article

ARTICLES = "/api/v1/articles/"
IMPORT = ARTICLES + "import/"


def post(client, path, body):
    return client.post(path, body, content_type="application/json")


def errors(answer) -> dict[str, str]:
    assert answer.status_code == 400, answer.content
    return {e["field"]: e["reason"] for e in answer.json()["errors"]}


def test_create_read_update_delete(api, store):
    created = post(api, ARTICLES, {"title": "Returns", "body": "30 days, free."})
    assert created.status_code == 201
    article_id = created.json()["id"]
    assert api.get(f"{ARTICLES}{article_id}/").json()["body"] == "30 days, free."
    patched = api.patch(f"{ARTICLES}{article_id}/", {"body": "60 days."}, "application/json")
    assert patched.status_code == 200
    assert Article.objects.get(pk=article_id).body == "60 days."
    assert [a["title"] for a in api.get(ARTICLES).json()["results"]] == ["Returns"]
    assert api.delete(f"{ARTICLES}{article_id}/").status_code == 204
    assert not Article.objects.filter(pk=article_id).exists()


def test_article_validation(api, store):
    post(api, ARTICLES, {"title": "Returns", "body": "30 days."})
    assert errors(post(api, ARTICLES, {"title": "Returns", "body": "again"})) == {
        "title": "An article with this title already exists."
    }
    assert set(errors(post(api, ARTICLES, {}))) == {"title", "body"}
    assert "title" in errors(post(api, ARTICLES, {"title": "x" * 201, "body": "b"}))
    assert Article.objects.filter(store=store).count() == 1


MARKDOWN = """# Shipping
We ship worldwide within 3 days.

## Returns
Return anything within 30 days.
"""


def titles_and_bodies(store):
    return dict(Article.objects.filter(store=store).values_list("title", "body"))


def test_import_markdown_then_again_updates_by_title(api, store):
    answer = post(api, IMPORT, {"format": "markdown", "content": MARKDOWN})
    assert answer.status_code == 200, answer.content
    assert (answer.json()["created"], answer.json()["updated"]) == (2, 0)
    assert titles_and_bodies(store) == {
        "Shipping": "We ship worldwide within 3 days.",
        "Returns": "Return anything within 30 days.",
    }
    again = post(api, IMPORT, {"format": "markdown", "content": MARKDOWN.replace("30", "60")})
    assert (again.json()["created"], again.json()["updated"]) == (0, 1)
    assert titles_and_bodies(store)["Returns"] == "Return anything within 60 days."


def test_import_csv_and_json_files(api, store):
    csv_file = SimpleUploadedFile(
        "faq.csv", b'title,body\nSizes,"EU 36-48, ""true"" to size"\nGift cards,Never expire\n'
    )
    answer = api.post(IMPORT, {"file": csv_file})
    assert answer.status_code == 200, answer.content
    json_file = SimpleUploadedFile(
        "more.json", b'{"articles": [{"title": "Warranty", "body": "Two years."}]}'
    )
    assert api.post(IMPORT, {"file": json_file}).json()["created"] == 1
    assert titles_and_bodies(store) == {
        "Sizes": 'EU 36-48, "true" to size',
        "Gift cards": "Never expire",
        "Warranty": "Two years.",
    }


@pytest.mark.parametrize(
    "body, field",
    [
        ({"format": "json", "content": "[{"}, "content"),
        ({"format": "json", "content": '[{"title": "A", "body": 3}]'}, "articles[0]"),
        ({"format": "json", "content": '[{"title": " ", "body": "x"}]'}, "articles[0].title"),
        ({"format": "csv", "content": "name,text\nA,B\n"}, "content"),
        ({"format": "markdown", "content": "no heading first\n# A\nB"}, "content"),
        ({"format": "yaml", "content": "a: b"}, "format"),
        ({"content": "# A\nB"}, "format"),
        ({"format": "json"}, "content"),
    ],
)
def test_import_validation_names_the_field_and_imports_nothing(api, store, body, field):
    assert field in errors(post(api, IMPORT, body))
    assert not Article.objects.filter(store=store).exists()


def test_an_uploaded_file_that_is_not_text_is_refused(api, store):
    upload = SimpleUploadedFile("faq.md", b"\xff\xfe\x00binary")
    assert "file" in errors(api.post(IMPORT, {"file": upload}))


@pytest.fixture
def knowledge_worker(transactional_db):
    """A real worker on the default queue, where the knowledge domain's indexing tasks run."""
    with default_queue_worker(concurrency=1):
        yield


@pytest.mark.slow
def test_imported_articles_are_indexed_in_the_background(api, store, knowledge_worker):
    answer = post(api, IMPORT, {"format": "markdown", "content": MARKDOWN})
    assert answer.status_code == 200
    deadline = time.monotonic() + 120
    while indexing.stale_articles(store.pk).exists():
        assert time.monotonic() < deadline, "the imported articles were not indexed"
        time.sleep(0.2)
    assert Article.objects.filter(store=store).count() == 2
