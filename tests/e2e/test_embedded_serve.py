"""`manage.py serve`, what `make run` starts: one process serving shop, widget, admin and replies."""

import pytest
from django.core.management import call_command
from live_chat import LiveChat
from processes import http_get

from chatbot.conversations.models import Message
from chatbot.shop import demo
from chatbot.stores.models import Store

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_serve_runs_the_whole_product_in_one_process(embedded_server):
    call_command("seed_demo")
    store = Store.objects.get(slug=demo.SLUG)
    store.allowed_origins.append(embedded_server.origin)
    store.save()
    base = embedded_server.base_url
    assert f"Parley is running: open {base}/" in embedded_server.web.output()

    status, html = http_get(f"{base}/")
    assert status == 200
    assert f'data-key="{store.widget_key}"' in html and "/static/parley/widget.js" in html
    status, script = http_get(f"{base}/static/parley/widget.js")
    assert status == 200 and "attachShadow" in script
    assert http_get(f"{base}/admin/login/")[0] == 200

    chat = LiveChat(embedded_server, store)
    chat.say("Hi, how long does shipping take?")
    done = chat.until_done()[-1]
    assert done["text"].strip()
    assert Message.objects.get(conversation_id=chat.conversation, role="bot").text == done["text"]
    chat.close()
