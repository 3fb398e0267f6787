"""The worker side of OpenAI-compatible completions: the same `gpu` workers and engine as shopper
replies, at a lower priority so shoppers are served first.

Deltas go to the request's channel-layer group as they are produced; the web side that holds the
HTTP request listens there. A client that goes away sets an abort flag in the cache, which stops
the generation within a few tokens. What a completion used is stored (``CompletionUsage``) before
the client hears it is done, aborted ones included: it is billed like a shopper reply.
"""

from celery import shared_task
from django.core.cache import cache

from chatbot.conversations import publish
from chatbot.engine import cache_salt, get_engine

from .models import ApiKey, CompletionUsage

# Shopper replies are submitted with priority 0; other clients wait behind them.
PRIORITY = 1
ABORT_CHECK_EVERY = 8


def group_name(request_id: str) -> str:
    return f"completion.{request_id}"


def abort_key(request_id: str) -> str:
    return f"completion-abort:{request_id}"


def record_usage(request_id: str, key_id: int, usage) -> None:
    """Once per request, even if a redelivered task runs it again."""
    key = ApiKey.objects.filter(pk=key_id).only("store_id").first()
    if key is None:  # the key and its store were deleted meanwhile: nobody to bill
        return
    CompletionUsage.objects.get_or_create(
        request_id=request_id,
        defaults=dict(
            store_id=key.store_id,
            api_key=key,
            prompt_tokens=usage.prompt_tokens,
            cached_prompt_tokens=usage.cached_prompt_tokens,
            completion_tokens=usage.completion_tokens,
            engine_seconds=usage.engine_seconds,
            shared_engine_seconds=usage.shared_engine_seconds,
            finish_reason=usage.finish_reason,
        ),
    )


@shared_task(ignore_result=True)
def complete(request_id: str, messages: list[dict], params: dict, key_id: int):
    from inference import SamplingParams

    engine = get_engine()
    group = group_name(request_id)
    prompt_tokens = engine.count_tokens(messages)
    if prompt_tokens + params["max_tokens"] > engine.max_context:
        publish.send_frame(
            group,
            {
                "type": "error",
                "code": "context_length_exceeded",
                "message": f"The prompt ({prompt_tokens} tokens) and max_tokens "
                f"({params['max_tokens']}) exceed the model's context of {engine.max_context}.",
            },
        )
        return
    store_id = ApiKey.objects.filter(pk=key_id).values_list("store_id", flat=True).first()
    try:
        stream = engine.submit(
            messages,
            SamplingParams(**params),
            request_id=request_id,
            priority=PRIORITY,
            cache_salt=cache_salt(store_id),
        )
        for seq, delta in enumerate(stream):
            publish.send_frame(group, {"type": "delta", "text": delta})
            if seq % ABORT_CHECK_EVERY == 0 and cache.get(abort_key(request_id)):
                engine.abort(request_id)
    except Exception:
        publish.send_frame(
            group, {"type": "error", "code": "server_error", "message": "The model failed."}
        )
        raise
    record_usage(request_id, key_id, stream.usage)
    publish.send_frame(group, {"type": "done", "usage": stream.usage.as_dict()})
