from pathlib import Path

import pytest
from test_shopper_messages_browser import ask

from chatbot.knowledge.indexing import index_stale_articles
from chatbot.knowledge.models import Article

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DEMO = [
    "do u sell giftcards??",
    "Can I pay in instalments?",
    "how much is shipping and can you gift wrap it?",
    "what size boots should i get",
    "is there a showroom i can visit in boston",
]
FERN = [
    "how much does shiping to germany cost and how long",
    "Can I lease a bike? whats the minimum price",
    "do you do student discount",
    "Kann ich mein altes Fahrrad in Zahlung geben?",
    "How much is a full service?",
]


def test_read(browser, live_stack, live_demo_store):
    for text in DEMO:
        ask(browser, live_stack, live_demo_store, text)
    Article.objects.filter(store=live_demo_store).delete()
    kb = Path("chatbot/assistant/eval_scenarios/fernhill/kb")
    for path in sorted(kb.glob("*.md")):
        body = path.read_text()
        Article.objects.create(store=live_demo_store, title=body.splitlines()[0][2:], body=body)
    index_stale_articles(live_demo_store.pk)
    for text in FERN:
        ask(browser, live_stack, live_demo_store, text)
