"""A vouched-for shopper identity expires: a signed customer id carries its signing time and is
refused after IDENTITY_MAX_AGE_SECONDS; a JWT must carry `exp`, may not live longer than that,
and must name IDENTITY_TOKEN_AUDIENCE in `aud` when one is set."""

import time

import jwt
import pytest

from chatbot.integrations import identity
from chatbot.integrations.signing import hmac_hex, shopper_signature

DAY = 24 * 3600


@pytest.fixture(autouse=True)
def max_age(settings):
    settings.IDENTITY_MAX_AGE_SECONDS = DAY
    settings.IDENTITY_TOKEN_AUDIENCE = ""


def test_a_signature_is_good_until_its_maximum_age(store, integration):
    recent = shopper_signature(integration.identity_secret, "cust-1", int(time.time()) - DAY + 60)
    assert identity.verify(store, "cust-1", recent).customer_id == "cust-1"
    stale = shopper_signature(integration.identity_secret, "cust-1", int(time.time()) - DAY - 60)
    with pytest.raises(identity.IdentityError, match="expired"):
        identity.verify(store, "cust-1", stale)


def test_a_signature_dated_in_the_future_is_refused(store, integration):
    ahead = shopper_signature(integration.identity_secret, "cust-1", int(time.time()) + 3600)
    with pytest.raises(identity.IdentityError, match="future"):
        identity.verify(store, "cust-1", ahead)


def test_the_timestamp_is_signed(store, integration):
    """Moving an old signature's date forward breaks it."""
    old = int(time.time()) - 2 * DAY
    mac = shopper_signature(integration.identity_secret, "cust-1", old).split("v1=")[1]
    with pytest.raises(identity.IdentityError, match="invalid"):
        identity.verify(store, "cust-1", f"t={int(time.time())},v1={mac}")


def test_an_undated_signature_never_verifies(store, integration):
    undated = hmac_hex(integration.identity_secret, "cust-1")
    with pytest.raises(identity.IdentityError, match="t=<unix time>"):
        identity.verify(store, "cust-1", undated)


def token(secret: str, **claims) -> str:
    return jwt.encode({"sub": "cust-1", **claims}, secret, "HS256")


def test_a_token_may_not_live_longer_than_the_maximum_age(store, integration):
    now = int(time.time())
    secret = integration.identity_secret
    assert identity.verify(store, token=token(secret, exp=now + 3600)).customer_id == "cust-1"
    for claims in (
        {"exp": now + 10 * 365 * DAY},  # a token for ten years
        {"iat": now - 2 * DAY, "exp": now + 3600},  # issued long ago for three days
    ):
        with pytest.raises(identity.IdentityError, match="longer"):
            identity.verify(store, token=token(secret, **claims))
    with pytest.raises(identity.IdentityError, match="invalid"):
        identity.verify(store, token=token(secret))  # no exp at all


def test_a_configured_audience_is_required(store, integration, settings):
    settings.IDENTITY_TOKEN_AUDIENCE = "parley:rain-gear"
    exp = int(time.time()) + 3600
    secret = integration.identity_secret
    good = token(secret, exp=exp, aud="parley:rain-gear")
    assert identity.verify(store, token=good).customer_id == "cust-1"
    with pytest.raises(identity.IdentityError, match="audience"):
        identity.verify(store, token=token(secret, exp=exp, aud="another-app"))
    with pytest.raises(identity.IdentityError, match="invalid"):
        identity.verify(store, token=token(secret, exp=exp))  # no aud
