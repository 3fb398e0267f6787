"""A store's systems hang (real local HTTP servers that sleep): the chat goes on. A hanging order
service costs only its own answer its timeout; a hanging webhook receiver costs the chat nothing."""

import threading
import time
import urllib.parse

import pytest
from live_chat import LiveChat
from local_http import LocalServer

from chatbot.conversations.models import Message
from chatbot.integrations.models import StoreIntegration, WebhookSubscription
from chatbot.integrations.signing import shopper_signature

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

HANG_SECONDS = 60


class SignedIn:
    """The live stack's socket URLs with a signed-in customer's identity, as the widget sends it."""

    def __init__(self, stack, identity: dict[str, str]):
        self.stack = stack
        self.origin = stack.origin
        self.identity = urllib.parse.urlencode(identity)

    def ws_url(self, *args) -> str:
        return f"{self.stack.ws_url(*args)}&{self.identity}"


@pytest.fixture
def production(live_stack):
    if live_stack.embedded:
        pytest.skip("needs the production wiring (REDIS_URL)")
    return live_stack


def timed_reply(chat: LiveChat, text: str, results: dict) -> None:
    """Say `text`; record (seconds to the ack, seconds to the reply's done, the done frame)."""
    started = time.monotonic()
    chat.say(text)
    acked = done = None
    while done is None:
        frame = chat.receive(timeout=HANG_SECONDS)
        if frame["type"] == "ack":
            acked = time.monotonic() - started
        elif frame["type"] == "done":
            done = frame
    results[text] = (acked, time.monotonic() - started, done)


def test_a_hanging_order_service_delays_only_its_own_answer(production, live_store):
    release = threading.Event()
    with LocalServer(lambda request: (200, {}, 0 if release.is_set() else HANG_SECONDS)) as orders:
        integration = StoreIntegration.objects.create(
            store=live_store, order_status_url=f"{orders.url}/orders", order_timeout_seconds=1.0
        )
        signature = shopper_signature(integration.identity_secret, "cust-7")
        customer = LiveChat(
            SignedIn(production, {"customer_id": "cust-7", "customer_signature": signature}),
            live_store,
        )
        bystander = LiveChat(production, live_store)
        results = {}
        asking = threading.Thread(
            target=timed_reply, args=(customer, "Where is my order #1001?", results)
        )
        asking.start()
        orders.wait_for(1, timeout=30)  # the lookup is hanging now
        timed_reply(bystander, "Do you sell umbrellas?", results)
        asking.join(HANG_SECONDS)
        release.set()
    _, order_seconds, order_done = results["Where is my order #1001?"]
    _, chat_seconds, chat_done = results["Do you sell umbrellas?"]
    assert order_seconds < 20, "the order answer waited for the service, not its timeout"
    assert chat_seconds < 30
    assert order_done["text"] and chat_done["text"]
    assert Message.objects.filter(role="bot").count() == 2
    customer.close()
    bystander.close()


def test_a_hanging_webhook_receiver_does_not_slow_the_chat(
    production, live_store, webhook_worker, settings
):
    settings.WEBHOOK_TIMEOUT_SECONDS = 2.0
    settings.WEBHOOK_MAX_ATTEMPTS = 1
    with LocalServer(lambda request: (200, {}, HANG_SECONDS)) as receiver:
        WebhookSubscription.objects.create(
            store=live_store, url=f"{receiver.url}/hook", events=["message.created"]
        )
        chat = LiveChat(production, live_store)
        results = {}
        timed_reply(chat, "Is the poncho waterproof?", results)
        receiver.wait_for(1, timeout=30)  # deliveries went out, and hang
    ack_seconds, seconds, done = results["Is the poncho waterproof?"]
    assert ack_seconds < 3 and seconds < 30
    assert Message.objects.get(role="bot").text == done["text"]
    chat.close()
