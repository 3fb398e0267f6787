"""Looking up an order on the store's order-status endpoint, for a verified customer only.

The endpoint is called as `GET <url>?order=<number>&customer=<verified customer id>` with the
store's configured auth, and must answer 200 with JSON
`{"order", "customer_id", "status", "carrier", "tracking_number", "expected_delivery"}`
(404 when there is no such order). The answer's `customer_id` must be the verified customer's: an
order of anyone else is refused even if the endpoint returns it.
"""

import base64
import json
import re
import urllib.parse
from dataclasses import dataclass
from enum import StrEnum

from . import http
from .models import StoreIntegration

ORDER_NUMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
FIELD_CHARS = 120
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class OrderStatus:
    order: str
    status: str
    carrier: str
    tracking_number: str
    expected_delivery: str


class Failure(StrEnum):
    UNVERIFIED = "unverified"  # the shopper's identity is not verified
    NOT_CONFIGURED = "not_configured"  # the store has no order-status endpoint
    NOT_FOUND = "not_found"
    NOT_YOURS = "not_yours"  # the order belongs to another customer
    ERROR = "error"  # unreachable (timeouts included), an HTTP error, or an unreadable answer


@dataclass(frozen=True)
class LookupFailure:
    reason: Failure
    order: str


def lookup(
    integration: StoreIntegration | None, customer_id: str, order: str
) -> OrderStatus | LookupFailure:
    """The order's status for `customer_id`, or why there is none to show them."""
    if not customer_id:
        return LookupFailure(Failure.UNVERIFIED, order)
    if integration is None or not integration.order_status_url:
        return LookupFailure(Failure.NOT_CONFIGURED, order)
    if not ORDER_NUMBER.match(order):
        return LookupFailure(Failure.NOT_FOUND, order)
    url = _with_query(integration.order_status_url, {"order": order, "customer": customer_id})
    headers = {"Accept": "application/json", **auth_headers(integration)}
    try:
        answer = http.send("GET", url, headers, integration.order_timeout_seconds)
    except http.RequestFailed:
        return LookupFailure(Failure.ERROR, order)
    if answer.status == 404:
        return LookupFailure(Failure.NOT_FOUND, order)
    if answer.status != 200:
        return LookupFailure(Failure.ERROR, order)
    try:
        data = json.loads(answer.body)
    except ValueError:
        return LookupFailure(Failure.ERROR, order)
    if not isinstance(data, dict) or not data.get("status"):
        return LookupFailure(Failure.ERROR, order)
    if str(data.get("customer_id", "")) != customer_id:
        return LookupFailure(Failure.NOT_YOURS, order)
    return OrderStatus(
        order=_clean(data.get("order")) or order,
        status=_clean(data.get("status")),
        carrier=_clean(data.get("carrier")),
        tracking_number=_clean(data.get("tracking_number")),
        expected_delivery=_clean(data.get("expected_delivery")),
    )


def auth_headers(integration: StoreIntegration) -> dict[str, str]:
    secret = integration.order_auth_secret
    match integration.order_auth:
        case StoreIntegration.OrderAuth.BEARER:
            return {"Authorization": f"Bearer {secret}"}
        case StoreIntegration.OrderAuth.BASIC:
            pair = f"{integration.order_auth_username}:{secret}".encode()
            return {"Authorization": "Basic " + base64.b64encode(pair).decode()}
        case StoreIntegration.OrderAuth.HEADER:
            return {integration.order_auth_header or "X-Api-Key": secret}
    return {}


def _with_query(url: str, params: dict[str, str]) -> str:
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qsl(parts.query) + list(params.items())
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


def _clean(value) -> str:
    """A field of the store's answer as short plain text (it ends up in a chat message)."""
    if value is None or isinstance(value, dict | list):
        return ""
    return CONTROL.sub(" ", str(value)).strip()[:FIELD_CHARS]
