"""Shopper identity verification: the store's back end vouches for a signed-in customer.

Either it signs the customer id with a timestamp (`customer_signature` = `t=<unix seconds>,v1=<hex
HMAC-SHA256 of "<t>.<customer id>" with the store's identity secret>`) or it issues an HS256 JWT
whose `sub` is the customer id and which carries `exp`. Neither is good for longer than
IDENTITY_MAX_AGE_SECONDS: a signature older than that, or a token whose lifetime (`exp` minus `iat`,
or minus now) exceeds it, is refused, so a leaked one expires. With IDENTITY_TOKEN_AUDIENCE set, a
token must also name it in `aud`. A conversation only gets a `verified_identity` through one of
these, and only a verified identity ever sees order data.

Rotating the identity secret: Admin -> Store integrations -> "Rotate the identity secret" shows the
new secret once; give it to the back end at once. Signatures and tokens made with the old secret
stop verifying immediately, so a page rendered before the switch fails its next (re)connect and
the shopper reloads it; nothing signed with the old secret outlives IDENTITY_MAX_AGE_SECONDS.
"""

import hmac
import re
import time
from dataclasses import dataclass

import jwt
from django.conf import settings

from chatbot.stores.models import Store

from .models import StoreIntegration
from .signing import shopper_signature

CUSTOMER_ID = re.compile(r"^[\w.@+-]{1,254}$")
SIGNATURE = re.compile(r"^t=(\d{1,12}),v1=([0-9a-fA-F]{64})$")
MAX_TOKEN_CHARS = 4096
CLOCK_SKEW_SECONDS = 300  # the back end's clock may run this far ahead of ours


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
    _check_signature(integration.identity_secret, customer_id, signature)
    return Verification(customer_id)


def verify_params(store: Store, params: dict[str, str]) -> Verification:
    """`verify` with what the widget sends: customer_id, customer_signature, identity_token."""
    return verify(
        store,
        params.get("customer_id", ""),
        params.get("customer_signature", ""),
        params.get("identity_token", ""),
    )


def _check_signature(secret: str, customer_id: str, signature: str) -> None:
    parts = SIGNATURE.match(signature)
    if parts is None:
        raise IdentityError("The customer signature must be 't=<unix time>,v1=<hex HMAC>'.")
    signed_at = int(parts[1])
    expected = shopper_signature(secret, customer_id, signed_at)
    if not hmac.compare_digest(expected, f"t={signed_at},v1={parts[2].lower()}"):
        raise IdentityError("The customer signature is invalid.")
    age = time.time() - signed_at
    if age > settings.IDENTITY_MAX_AGE_SECONDS:
        raise IdentityError("The customer signature has expired.")
    if age < -CLOCK_SKEW_SECONDS:
        raise IdentityError("The customer signature is dated in the future.")


def _from_token(secret: str, token: str) -> str:
    if len(token) > MAX_TOKEN_CHARS:
        raise IdentityError("The identity token is too long.")
    audience = settings.IDENTITY_TOKEN_AUDIENCE or None
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            audience=audience,
            options={"require": ["sub", "exp", *(["aud"] if audience else [])]},
        )
    except jwt.ExpiredSignatureError:
        raise IdentityError("The identity token has expired.") from None
    except jwt.InvalidAudienceError:
        raise IdentityError("The identity token is for another audience.") from None
    except jwt.PyJWTError:
        raise IdentityError("The identity token is invalid.") from None
    now = time.time()
    lifetime = claims["exp"] - min(claims.get("iat", now), now)  # PyJWT checked both are numbers
    if lifetime > settings.IDENTITY_MAX_AGE_SECONDS + CLOCK_SKEW_SECONDS:
        raise IdentityError("The identity token lives longer than this store accepts.")
    subject = str(claims["sub"])
    if not CUSTOMER_ID.match(subject):
        raise IdentityError("The identity token's subject is not a valid customer id.")
    return subject
