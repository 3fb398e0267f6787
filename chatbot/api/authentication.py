"""API key authentication: `Authorization: Bearer sk_...` (or `X-Api-Key: sk_...`)."""

from django.utils import timezone
from rest_framework import authentication, exceptions

from . import keys
from .models import ApiKey


class KeyHolder:
    """`request.user` for a key: the store's integration, never a staff user."""

    is_authenticated = True
    is_active = True
    is_staff = False
    is_superuser = False

    def __init__(self, api_key: ApiKey):
        self.api_key = api_key
        self.pk = None

    def __str__(self):
        return f"API key {self.api_key.prefix}"


def key_for(full_key: str) -> ApiKey:
    """The live key `full_key` is, with its use recorded; AuthenticationFailed otherwise."""
    key_id = keys.key_id_of(full_key)
    api_key = (
        ApiKey.objects.select_related("store").filter(key_id=key_id).first() if key_id else None
    )
    # One message for unknown, wrong and revoked keys: a caller learns nothing from it.
    if api_key is None or not keys.matches(full_key, api_key.key_digest) or api_key.revoked:
        raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
    now = timezone.now()
    ApiKey.objects.filter(pk=api_key.pk).update(last_used=now)
    api_key.last_used = now
    return api_key


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        full_key = presented_key(request)
        if full_key is None:
            return None  # unauthenticated: the permission check answers 401
        api_key = key_for(full_key)
        return KeyHolder(api_key), api_key

    def authenticate_header(self, request):
        return 'Bearer realm="parley"'


def presented_key(request) -> str | None:
    """The key in `Authorization: Bearer` or `X-Api-Key`, None if neither is sent."""
    header = authentication.get_authorization_header(request).decode("latin-1").strip()
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise exceptions.AuthenticationFailed("Use 'Authorization: Bearer <API key>'.")
        return value.strip()
    value = request.headers.get("X-Api-Key", "").strip()
    return value or None
