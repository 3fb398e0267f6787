"""Test clients that authenticate with a fresh API key of a store."""

from django.test import Client

from chatbot.api.models import ApiKey


def key_client(store, *scopes, **fields) -> Client:
    api_key, full_key = ApiKey.issue(store, "test", list(scopes), **fields)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {full_key}")
    client.api_key, client.full_key = api_key, full_key
    return client
