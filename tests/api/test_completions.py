"""The OpenAI-compatible endpoint's gatekeeping: its own key scope, OpenAI-shaped errors, request
validation and rate limits. (Answers from the real worker: tests/e2e/test_openai_compat.py.)"""

import pytest
from api_clients import key_client
from django.test import Client

from chatbot.api.completions import CompletionRequest
from chatbot.api.models import ApiKey
from inference.sampling import SamplingParams

COMPLETIONS = "/v1/chat/completions"
HELLO = {"model": "smollm2-135m-instruct", "messages": [{"role": "user", "content": "Hi"}]}


@pytest.fixture
def completer(store):
    return key_client(store, "completions")


def post(client, body):
    return client.post(COMPLETIONS, body, content_type="application/json")


def openai_error(answer, status: int) -> dict:
    assert answer.status_code == status, answer.content
    error = answer.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    return error


def test_it_needs_a_key_with_the_completions_scope(api, completer):
    assert openai_error(post(Client(), HELLO), 401)["type"] == "authentication_error"
    bad = Client(HTTP_AUTHORIZATION="Bearer sk_nope")
    assert openai_error(post(bad, HELLO), 401)["type"] == "authentication_error"
    assert openai_error(post(api, HELLO), 403)["type"] == "permission_error"  # a REST key
    ApiKey.objects.get(pk=completer.api_key.pk).revoke()
    assert openai_error(post(completer, HELLO), 401)["message"] == "Invalid or revoked API key."


@pytest.mark.parametrize(
    "change, param",
    [
        ({"n": 2}, "n"),
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "tool", "content": "x"}]}, "messages[0].role"),
        ({"messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
        ({"temperature": 3}, "temperature"),
        ({"max_tokens": 100000}, "max_tokens"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"model": None}, "model"),
    ],
)
def test_invalid_requests_name_the_parameter(completer, change, param):
    error = openai_error(post(completer, {**HELLO, **change}), 400)
    assert error["type"] == "invalid_request_error" and error["param"] == param


def test_a_body_that_is_not_json(completer):
    answer = completer.post(COMPLETIONS, "{not json", content_type="application/json")
    assert openai_error(answer, 400)["message"] == "The body is not valid JSON."


def test_rate_limit(store):
    limited = key_client(store, "completions", rate_limit="2/min")
    for _ in range(2):
        assert post(limited, {**HELLO, "n": 2}).status_code == 400  # counted, never queued
    answer = post(limited, HELLO)
    assert openai_error(answer, 429)["type"] == "rate_limit_exceeded"
    assert int(answer["Retry-After"]) > 0


def test_models_lists_the_served_model(completer, settings):
    data = completer.get("/v1/models").json()
    assert [m["id"] for m in data["data"]] == [settings.ENGINE_MODEL]
    assert completer.get(COMPLETIONS).status_code == 405


@pytest.mark.parametrize(
    "change, param, code",
    [
        ({"logprobs": True}, "logprobs", "unsupported_parameter"),
        ({"top_logprobs": 3}, "top_logprobs", "unsupported_parameter"),
        (
            {"tools": [{"type": "function", "function": {"name": "f"}}]},
            "tools",
            "unsupported_parameter",
        ),
        ({"response_format": {"type": "json_object"}}, "response_format", "unsupported_parameter"),
        ({"presence_penalty": 0.5}, "presence_penalty", "unsupported_parameter"),
        ({"logit_bias": {"50256": -100}}, "logit_bias", "unsupported_parameter"),
        ({"temprature": 0.2}, "temprature", None),  # a misspelt parameter is not ignored either
    ],
)
def test_unsupported_and_unknown_parameters_are_refused(completer, change, param, code):
    error = openai_error(post(completer, {**HELLO, **change}), 400)
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", param, code)
    assert param in error["message"]


def test_parameters_at_their_neutral_values_pass(completer):
    """What clients send by default asks for nothing this server lacks: such a request gets as far
    as the ordinary validation (here refusing the temperature)."""
    neutral = {"logprobs": False, "tools": [], "response_format": {"type": "text"}, "user": "u-1"}
    error = openai_error(post(completer, {**HELLO, **neutral, "temperature": 3}), 400)
    assert error["param"] == "temperature"


@pytest.mark.parametrize("temperature", [0.7, 2.0])
def test_top_p_zero_is_greedy(temperature):
    """OpenAI accepts top_p=0: a nucleus holding only the most likely token. It must not widen to
    top_p=1 (sampling from everything), the opposite of what the client asked."""
    request = CompletionRequest(data={**HELLO, "top_p": 0, "temperature": temperature})
    assert request.is_valid(), request.errors
    assert SamplingParams(**request.sampling()).greedy
    nucleus = CompletionRequest(data={**HELLO, "top_p": 0.3, "temperature": temperature})
    assert nucleus.is_valid()
    assert SamplingParams(**nucleus.sampling()).top_p == 0.3
