"""Order-status lookups against a real local order service: what a verified shopper gets, what
nobody else gets, and polite answers (never an invented status) when the service fails."""

import base64
import uuid

import pytest
from local_http import LocalServer

from chatbot.conversations.models import Conversation, Message
from chatbot.integrations import order_replies, orders
from chatbot.integrations.models import StoreIntegration

ORDERS = {
    "1001": {
        "order": "1001",
        "customer_id": "cust-42",
        "status": "shipped",
        "carrier": "UPS",
        "tracking_number": "1Z999AA10123456784",
        "expected_delivery": "2025-03-14",
    },
    "2002": {"order": "2002", "customer_id": "cust-99", "status": "processing"},
}


def order_service(request):
    if request.path == "/slow":
        return 200, ORDERS["1001"], 2
    if request.path == "/broken":
        return 500, {"error": "database down"}, 0
    if request.path == "/garbage":
        return 200, "<html>not json</html>", 0
    found = ORDERS.get(request.query.get("order"))
    return (200, found, 0) if found else (404, {"error": "no such order"}, 0)


@pytest.fixture
def service():
    with LocalServer(order_service) as server:
        yield server


@pytest.fixture
def configured(integration, service):
    integration.order_status_url = service.url + "/orders?shop=main"
    integration.order_auth = StoreIntegration.OrderAuth.BEARER
    integration.order_auth_secret = "order-token-123"
    integration.order_timeout_seconds = 0.5
    integration.save()
    return integration


def test_a_verified_customer_gets_their_order(configured, service):
    result = orders.lookup(configured, "cust-42", "1001")
    assert result == orders.OrderStatus(
        order="1001",
        status="shipped",
        carrier="UPS",
        tracking_number="1Z999AA10123456784",
        expected_delivery="2025-03-14",
    )
    [request] = service.received
    assert request.query == {"shop": "main", "order": "1001", "customer": "cust-42"}
    assert request.headers["Authorization"] == "Bearer order-token-123"


def test_another_customers_order_is_refused(configured):
    assert orders.lookup(configured, "cust-42", "2002") == orders.LookupFailure(
        orders.Failure.NOT_YOURS, "2002"
    )


def test_an_unverified_shopper_never_reaches_the_order_service(configured, service):
    result = orders.lookup(configured, "", "1001")
    assert result.reason == orders.Failure.UNVERIFIED
    assert service.received == []


@pytest.mark.parametrize(
    "path, reason",
    [
        ("/orders", orders.Failure.NOT_FOUND),  # order 9999 does not exist
        ("/broken", orders.Failure.ERROR),
        ("/garbage", orders.Failure.ERROR),
        ("/slow", orders.Failure.TIMEOUT),
    ],
)
def test_failures_are_typed(configured, service, path, reason):
    configured.order_status_url = service.url + path
    assert orders.lookup(configured, "cust-42", "9999").reason == reason


def test_an_unreachable_service_is_an_error(configured):
    configured.order_status_url = "http://127.0.0.1:9/orders"
    assert orders.lookup(configured, "cust-42", "1001").reason == orders.Failure.ERROR


def test_basic_and_header_auth(configured, service):
    configured.order_auth = StoreIntegration.OrderAuth.BASIC
    configured.order_auth_username = "parley"
    orders.lookup(configured, "cust-42", "1001")
    expected = base64.b64encode(b"parley:order-token-123").decode()
    assert service.received[-1].headers["Authorization"] == f"Basic {expected}"
    configured.order_auth = StoreIntegration.OrderAuth.HEADER
    configured.order_auth_header = "X-Shop-Key"
    orders.lookup(configured, "cust-42", "1001")
    assert service.received[-1].headers["X-Shop-Key"] == "order-token-123"
    assert "Authorization" not in service.received[-1].headers


@pytest.mark.parametrize(
    "text, asked, number",
    [
        ("Where is my order 1001?", True, "1001"),
        ("Has order #A-77 shipped yet?", True, "A-77"),
        ("my order number is 55123, when will it arrive", True, "55123"),
        ("Where is my package?", True, ""),
        ("Can I order the red boots in size 42?", False, ""),
        ("Do you ship to Canada?", False, ""),
    ],
)
def test_order_questions_are_recognised(text, asked, number):
    assert order_replies.order_question(text) == (asked, number)


def reply(store, verified: str, *texts: str) -> str | None:
    conversation = Conversation.objects.create(
        store=store, shopper_id=uuid.uuid4().hex, verified_identity=verified
    )
    pending = [
        Message.objects.create(conversation=conversation, role="shopper", text=text)
        for text in texts
    ]
    stream = order_replies.reply_stream(conversation, pending, "r1")
    if stream is None:
        return None
    assert stream.usage.as_dict()["model"] == order_replies.MODEL
    return "".join(stream)


def test_the_bot_answers_a_verified_shopper_from_the_order_service(store, configured):
    text = reply(store, "cust-42", "Hi", "Where is my order 1001?")
    assert text == (
        "Your order 1001 is shipped. It is with UPS, tracking number 1Z999AA10123456784. "
        "Expected delivery: 2025-03-14."
    )


def test_the_bot_never_shows_order_data_to_the_wrong_or_an_unverified_shopper(store, configured):
    someone_elses = reply(store, "cust-42", "Where is my order 2002?")
    assert "processing" not in someone_elses and "couldn't find order 2002" in someone_elses
    anonymous = reply(store, "", "Where is my order 1001?")
    assert "signed-in" in anonymous and "shipped" not in anonymous and "UPS" not in anonymous


def test_failures_get_a_polite_answer_and_the_offer_of_a_person(store, configured, service):
    configured.order_status_url = service.url + "/slow"
    configured.save()
    text = reply(store, "cust-42", "Where is my order 1001?")
    assert "can't reach our order system" in text and order_replies.PERSON in text
    assert "shipped" not in text


def test_the_order_number_can_come_after_the_bot_asks_for_it(store, configured):
    conversation = Conversation.objects.create(
        store=store, shopper_id=uuid.uuid4().hex, verified_identity="cust-42"
    )
    question = Message.objects.create(
        conversation=conversation, role="shopper", text="Where is my package?"
    )
    asked = "".join(order_replies.reply_stream(conversation, [question], "r1"))
    assert asked == order_replies.ASK_NUMBER
    Message.objects.create(
        conversation=conversation, role="bot", text=asked, model=order_replies.MODEL
    )
    number = Message.objects.create(conversation=conversation, role="shopper", text="#1001")
    assert "is shipped" in "".join(order_replies.reply_stream(conversation, [number], "r2"))


def test_other_messages_are_left_to_the_model(store, configured):
    assert reply(store, "cust-42", "Do you sell umbrellas?") is None
