"""The official `openai` Python client against the running product's /v1/chat/completions: the
store's own workers and engine answer it, whole or streamed."""

import openai
import pytest

from chatbot.api.models import ApiKey, CompletionUsage

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

MESSAGES = [
    {"role": "system", "content": "You are a helpful assistant. Answer in one sentence."},
    {"role": "user", "content": "What is the capital of France?"},
]


@pytest.fixture
def client(live_stack, live_store):
    _, key = ApiKey.issue(live_store, "openai client", ["completions"])
    return openai.OpenAI(base_url=f"{live_stack.base_url}/v1", api_key=key, max_retries=0)


def test_a_whole_completion(client):
    answer = client.chat.completions.create(
        model="smollm2-135m-instruct", messages=MESSAGES, max_tokens=16, temperature=0
    )
    [choice] = answer.choices
    assert choice.message.role == "assistant" and choice.message.content.strip()
    assert choice.finish_reason in {"stop", "length"}
    assert 0 < answer.usage.completion_tokens <= 16 and answer.usage.prompt_tokens > 10
    assert answer.usage.total_tokens == answer.usage.prompt_tokens + answer.usage.completion_tokens
    # billed like a reply: stored by the worker before the answer was sent
    used = CompletionUsage.objects.get(request_id=answer.id)
    assert used.store_id == used.api_key.store_id and used.api_key.name == "openai client"
    assert (used.prompt_tokens, used.completion_tokens) == (
        answer.usage.prompt_tokens,
        answer.usage.completion_tokens,
    )
    assert 0 < used.shared_engine_seconds <= used.engine_seconds


def test_a_streamed_completion(client):
    chunks = list(
        client.chat.completions.create(
            model="smollm2-135m-instruct",
            messages=MESSAGES,
            max_tokens=16,
            temperature=0,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert text.strip() and len(chunks) > 3
    assert finishes[-1] in {"stop", "length"} and not any(finishes[:-1])
    assert chunks[-1].usage.completion_tokens <= 16


def test_errors_are_raised_as_the_clients_typed_exceptions(client, live_stack):
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="x", messages=MESSAGES, n=2)
    stranger = openai.OpenAI(
        base_url=f"{live_stack.base_url}/v1", api_key="sk_wrong", max_retries=0
    )
    with pytest.raises(openai.AuthenticationError):
        stranger.chat.completions.create(model="x", messages=MESSAGES)
