"""Shopper identity verification: the store's back end vouches for a signed-in customer.

Either it signs the customer id (`customer_signature` = hex HMAC-SHA256 of the id with the store's
identity secret) or it issues an HS256 JWT whose `sub` is the customer id and which carries `exp`.
A conversation only gets a `verified_identity` through one of these, and only a verified identity
ever sees order data.
"""

import hmac
import re
from dataclasses import dataclass

import jwt

from chatbot.stores.models import Store

from .models import StoreIntegration
from .signing import shopper_signature

CUSTOMER_ID = re.compile(r"^[\w.@+-]{1,254}$")
MAX_TOKEN_CHARS = 4096


class IdentityError(ValueError):
    """The identity offered is invalid (the message names the reason, never the secret)."""


@dataclass(frozen=True)
class Verification:
    customer_id: str  # "" when the shopper is anonymous


ANONYMOUS = Verification("")


def integration_for(store: Store) -> StoreIntegration | None:
    return StoreIntegration.objects.filter(store=store).first()


def verify(
    store: Store, customer_id: str = "", signature: str = "", token: str = ""
) -> Verification:
    """The verified customer, ANONYMOUS if nothing was offered, or IdentityError.

    Offering an identity that does not check out is an error, not a silent downgrade to anonymous.
    When the store requires verification, offering nothing is an error too.
    """
    integration = integration_for(store)
    if not (customer_id or signature or token):
        if integration is not None and integration.verification_required:
            raise IdentityError("This store requires a verified shopper identity.")
        return ANONYMOUS
    if integration is None:
        raise IdentityError("Identity verification is not set up for this store.")
    if token:
        verified = _from_token(integration.identity_secret, token)
        if customer_id and customer_id != verified:
            raise IdentityError("customer_id does not match the identity token.")
        return Verification(verified)
    if not CUSTOMER_ID.match(customer_id):
        raise IdentityError("customer_id must be 1-254 letters, digits or . _ @ + -.")
    expected = shopper_signature(integration.identity_secret, customer_id)
    if not signature or not hmac.compare_digest(expected, signature.lower()):
        raise IdentityError("The customer signature is invalid.")
    return Verification(customer_id)


def verify_params(store: Store, params: dict[str, str]) -> Verification:
    """`verify` with what the widget sends: customer_id, customer_signature, identity_token."""
    return verify(
        store,
        params.get("customer_id", ""),
        params.get("customer_signature", ""),
        params.get("identity_token", ""),
    )


def _from_token(secret: str, token: str) -> str:
    if len(token) > MAX_TOKEN_CHARS:
        raise IdentityError("The identity token is too long.")
    try:
        claims = jwt.decode(
            token, secret, algorithms=["HS256"], options={"require": ["sub", "exp"]}
        )
    except jwt.ExpiredSignatureError:
        raise IdentityError("The identity token has expired.") from None
    except jwt.PyJWTError:
        raise IdentityError("The identity token is invalid.") from None
    subject = str(claims["sub"])
    if not CUSTOMER_ID.match(subject):
        raise IdentityError("The identity token's subject is not a valid customer id.")
    return subject
