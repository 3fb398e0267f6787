"""Order-status lookups against a real local order service: what a verified shopper gets, what
nobody else gets, and polite answers (never an invented status) when the service fails."""

import base64

import pytest
from local_http import LocalServer

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
        ("/slow", orders.Failure.ERROR),
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


def test_wording_of_a_found_order():
    status = orders.OrderStatus("1001", "shipped", "UPS", "1Z999AA10123456784", "2025-03-14")
    assert order_replies.wording(status) == (
        "Your order 1001 is shipped. It is with UPS, tracking number 1Z999AA10123456784. "
        "Expected delivery: 2025-03-14."
    )
    assert order_replies.wording(orders.OrderStatus("7", "processing", "", "", "")) == (
        "Your order 7 is processing."
    )


def test_the_bot_never_words_someone_elses_order(configured):
    someone_elses = order_replies.wording(orders.lookup(configured, "cust-42", "2002"))
    missing = order_replies.wording(orders.lookup(configured, "cust-42", "9999"))
    assert someone_elses.replace("2002", "9999") == missing  # existence is not revealed
    assert "processing" not in someone_elses and order_replies.PERSON in someone_elses
    anonymous = order_replies.wording(orders.lookup(configured, "", "1001"))
    assert "signed-in" in anonymous and "shipped" not in anonymous


@pytest.mark.parametrize("path", ["/slow", "/broken", "/garbage"])
def test_failures_get_a_polite_answer_and_the_offer_of_a_person(configured, service, path):
    configured.order_status_url = service.url + path
    text = order_replies.wording(orders.lookup(configured, "cust-42", "1001"))
    assert "can't reach our order system" in text and order_replies.PERSON in text
    assert "shipped" not in text and "database" not in text
