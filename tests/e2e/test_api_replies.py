"""The integration API against the running product: a shopper message posted over HTTP is answered
by the real worker and engine, streamed as server-sent events or returned once stored; and an order
question of a verified shopper is answered from the store's (local, real) order service, while an
unverified shopper's same question gets no order data."""

import http.client
import json
import urllib.parse

import pytest
from local_http import LocalServer

from chatbot.api.models import ApiKey
from chatbot.conversations.models import Message
from chatbot.integrations.models import StoreIntegration
from chatbot.integrations.signing import shopper_signature

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


class Api:
    def __init__(self, stack, store):
        self.port = stack.port
        _, self.key = ApiKey.issue(store, "e2e", ["read", "write"])

    def request(self, method: str, path: str, body: dict, timeout: float = 180):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        headers = {"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"}
        connection.request(method, path, json.dumps(body), headers)
        return connection.getresponse()

    def json(self, method: str, path: str, body: dict) -> dict:
        answer = self.request(method, path, body)
        data = json.loads(answer.read())
        assert answer.status < 300, data
        return data

    def events(self, path: str, body: dict) -> list[tuple[str, dict]]:
        """Read server-sent events until the stream ends."""
        answer = self.request("POST", path, body)
        assert answer.status == 200 and answer.getheader("Content-Type") == "text/event-stream"
        events, event = [], None
        for raw in answer:
            line = raw.decode().rstrip("\n")
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                events.append((event, json.loads(line[6:])))
        return events


def test_a_reply_is_streamed_as_server_sent_events_and_stored(live_stack, live_store):
    api = Api(live_stack, live_store)
    conversation = api.json("POST", "/api/v1/conversations/", {"shopper_id": "api-shopper-1"})
    events = api.events(
        f"/api/v1/conversations/{conversation['id']}/messages/?stream=true",
        {"text": "Hello! Do you sell umbrellas?"},
    )
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "message" and kinds[-1] == "done", kinds
    done = events[-1][1]
    deltas = [d for k, d in events if k == "delta" and d["reply_id"] == done["reply_id"]]
    assert deltas and [d["seq"] for d in deltas] == list(range(len(deltas)))
    assert "".join(d["text"] for d in deltas) == done["text"] and done["text"].strip()
    stored = Message.objects.get(pk=done["id"])
    assert stored.role == "bot" and stored.text == done["text"]
    assert stored.conversation_id == conversation["id"] and 0 < stored.completion_tokens <= 24


def test_waiting_returns_the_stored_reply(live_stack, live_store):
    api = Api(live_stack, live_store)
    conversation = api.json("POST", "/api/v1/conversations/", {"shopper_id": "api-shopper-2"})
    answer = api.json(
        "POST",
        f"/api/v1/conversations/{conversation['id']}/messages/?wait=true&timeout=100",
        {"text": "What are your opening hours?"},
    )
    assert answer["timed_out"] is False and answer["reply"]["text"].strip()
    assert Message.objects.get(pk=answer["reply"]["id"]).text == answer["reply"]["text"]


ORDER = {
    "order": "1001",
    "customer_id": "cust-42",
    "status": "shipped",
    "carrier": "UPS",
    "tracking_number": "1Z999",
    "expected_delivery": "2025-03-14",
}


def test_the_worker_answers_order_questions_from_the_order_service(live_stack, live_store):
    def order_service(request):
        found = request.query.get("order") == "1001"
        return (200, ORDER, 0) if found else (404, {}, 0)

    api = Api(live_stack, live_store)
    with LocalServer(order_service) as service:
        integration = StoreIntegration.objects.create(
            store=live_store, order_status_url=service.url + "/orders"
        )
        signature = shopper_signature(integration.identity_secret, "cust-42")
        verified = api.json(
            "POST",
            "/api/v1/conversations/",
            {
                "shopper_id": "api-shopper-3",
                "customer_id": "cust-42",
                "customer_signature": signature,
            },
        )
        anonymous = api.json("POST", "/api/v1/conversations/", {"shopper_id": "api-shopper-4"})
        question = {"text": "Where is my order 1001?"}
        path = "/api/v1/conversations/{}/messages/?wait=true&timeout=100"
        answer = api.json("POST", path.format(verified["id"]), question)["reply"]
        refused = api.json("POST", path.format(anonymous["id"]), question)["reply"]
        assert [urllib.parse.urlencode(r.query) for r in service.received] == [
            "order=1001&customer=cust-42"
        ]
    assert answer["text"] == (
        "Your order 1001 is shipped. It is with UPS, tracking number 1Z999. "
        "Expected delivery: 2025-03-14."
    )
    assert answer["completion_tokens"] == 0  # worded from the service's answer, not generated
    assert "signed-in" in refused["text"] and "shipped" not in refused["text"]
