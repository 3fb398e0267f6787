"""HMAC-SHA256 signatures: webhook deliveries Parley sends, and shopper ids a store's back end signs.

A webhook signature covers `<id>.<timestamp>.<body>`, so a receiver that checks it and the age of
the timestamp rejects both forged and replayed deliveries.
"""

import hashlib
import hmac
import time

ID_HEADER = "Parley-Webhook-Id"
TIMESTAMP_HEADER = "Parley-Webhook-Timestamp"
SIGNATURE_HEADER = "Parley-Webhook-Signature"


def hmac_hex(secret: str, message: str) -> str:
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def webhook_signature(secret: str, delivery_id: str, timestamp: int, body: str) -> str:
    """The value of the signature header: `v1=<hex>` (versioned so the scheme can change)."""
    return "v1=" + hmac_hex(secret, f"{delivery_id}.{timestamp}.{body}")


def webhook_headers(secret: str, delivery_id: str, timestamp: int, body: str) -> dict[str, str]:
    return {
        ID_HEADER: delivery_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: webhook_signature(secret, delivery_id, timestamp, body),
    }


def verify_webhook(
    secret: str, headers, body: str, now: float, tolerance: int = 300
) -> tuple[bool, str]:
    """What a receiver does (also used by our tests): (ok, reason). Constant-time comparison."""
    delivery_id = headers.get(ID_HEADER, "")
    raw_timestamp = headers.get(TIMESTAMP_HEADER, "")
    signature = headers.get(SIGNATURE_HEADER, "")
    if not (delivery_id and raw_timestamp.isdigit() and signature):
        return False, "missing headers"
    timestamp = int(raw_timestamp)
    if abs(now - timestamp) > tolerance:
        return False, "timestamp too old"
    expected = webhook_signature(secret, delivery_id, timestamp, body)
    if not hmac.compare_digest(expected, signature):
        return False, "bad signature"
    return True, "ok"


def shopper_signature(secret: str, customer_id: str, timestamp: int | None = None) -> str:
    """What the store's back end computes for a signed-in customer: `t=<unix time>,v1=<hex
    HMAC-SHA256 of "<t>.<customer id>">`, dated now unless `timestamp` is given."""
    signed_at = int(time.time()) if timestamp is None else timestamp
    return f"t={signed_at},v1={hmac_hex(secret, f'{signed_at}.{customer_id}')}"
