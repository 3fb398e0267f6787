"""Shopper identity: HMAC-signed customer ids and HS256 JWTs, checked against the store's secret."""

import time

import jwt
import pytest

from chatbot.integrations import identity
from chatbot.integrations.signing import shopper_signature


def test_a_signed_customer_id_is_verified(store, integration):
    signature = shopper_signature(integration.identity_secret, "cust-42")
    assert identity.verify(store, "cust-42", signature) == identity.Verification("cust-42")
    dated, mac = signature.split("v1=")
    assert identity.verify(store, "cust-42", f"{dated}v1={mac.upper()}").customer_id == "cust-42"


@pytest.mark.parametrize(
    "customer_id, signature_of",
    [
        ("cust-42", "cust-43"),  # signed for someone else
        ("cust-42", None),  # no signature at all
    ],
)
def test_a_wrong_or_missing_signature_is_refused(store, integration, customer_id, signature_of):
    signature = shopper_signature(integration.identity_secret, signature_of) if signature_of else ""
    with pytest.raises(identity.IdentityError) as error:
        identity.verify(store, customer_id, signature)
    assert integration.identity_secret not in str(error.value)


def test_a_signature_made_with_another_secret_is_refused(store, integration):
    with pytest.raises(identity.IdentityError):
        identity.verify(store, "cust-42", shopper_signature("not-the-secret", "cust-42"))


def test_a_jwt_is_verified_and_its_subject_is_the_customer(store, integration):
    token = jwt.encode(
        {"sub": "cust-7", "exp": int(time.time()) + 60}, integration.identity_secret, "HS256"
    )
    assert identity.verify(store, token=token).customer_id == "cust-7"
    assert identity.verify(store, customer_id="cust-7", token=token).customer_id == "cust-7"
    with pytest.raises(identity.IdentityError, match="does not match"):
        identity.verify(store, customer_id="cust-8", token=token)


@pytest.mark.parametrize(
    "claims, key, algorithm, reason",
    [
        ({"sub": "c1", "exp": 1}, None, "HS256", "expired"),
        ({"sub": "c1"}, None, "HS256", "invalid"),  # exp is required
        (
            {"sub": "c1", "exp": 4102444800},
            "another-secret-of-enough-length-xx",
            "HS256",
            "invalid",
        ),
        ({"sub": "c1", "exp": 4102444800}, None, "HS512", "invalid"),  # only HS256 is accepted
    ],
)
@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_bad_tokens_are_refused(store, integration, claims, key, algorithm, reason):
    token = jwt.encode(claims, key or integration.identity_secret, algorithm)
    with pytest.raises(identity.IdentityError, match=reason):
        identity.verify(store, token=token)


def test_an_unsigned_token_is_refused(store, integration):
    token = jwt.encode({"sub": "c1", "exp": 4102444800}, None, "none")
    with pytest.raises(identity.IdentityError):
        identity.verify(store, token=token)


def test_anonymous_is_allowed_unless_the_store_requires_verification(store, integration):
    assert identity.verify(store) == identity.ANONYMOUS
    integration.verification_required = True
    integration.save()
    with pytest.raises(identity.IdentityError, match="requires"):
        identity.verify(store)


def test_an_identity_without_integration_settings_is_refused(store):
    assert identity.verify(store) == identity.ANONYMOUS
    with pytest.raises(identity.IdentityError, match="not set up"):
        identity.verify(store, "cust-1", "00" * 32)
