"""API key format and checking, apart from the model so the rules read in one place.

A key is `sk_<key id>_<secret>`: the 12-character key id is public (shown in lists, used to find
the row), the 43-character secret is 256 random bits. Only SHA-256 of the whole key is stored: a
database leak gives no usable key, and since the secret is random a fast hash is enough.
"""

import hashlib
import hmac
import re
import secrets
import string

PREFIX = "sk_"
KEY_ID_ALPHABET = string.ascii_lowercase + string.digits
KEY_ID_LENGTH = 12
KEY = re.compile(rf"^{PREFIX}([a-z0-9]{{{KEY_ID_LENGTH}}})_([A-Za-z0-9_-]{{43}})$")


def new_key() -> tuple[str, str]:
    """(key id, full key). The full key is shown once and never stored."""
    key_id = "".join(secrets.choice(KEY_ID_ALPHABET) for _ in range(KEY_ID_LENGTH))
    return key_id, f"{PREFIX}{key_id}_{secrets.token_urlsafe(32)}"


def digest(full_key: str) -> str:
    return hashlib.sha256(full_key.encode()).hexdigest()


def key_id_of(full_key: str) -> str | None:
    """The key id of a well-formed key, else None (nothing malformed reaches the database)."""
    match = KEY.match(full_key)
    return match[1] if match else None


def matches(full_key: str, stored_digest: str) -> bool:
    return hmac.compare_digest(digest(full_key), stored_digest)
