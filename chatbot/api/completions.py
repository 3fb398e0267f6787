"""An OpenAI-compatible `/v1/chat/completions` (and `/v1/models`) on the store's own workers, so
existing OpenAI clients can use them: `OpenAI(base_url="https://parley.example.com/v1",
api_key="sk_...")` with a key that has the `completions` scope.

The view is async: it joins the request's channel-layer group, queues `tasks.complete` on `gpu`,
and relays what the worker publishes, either as one JSON answer or as OpenAI's server-sent chunks.
"""

import asyncio
import json
import time
import uuid
from types import SimpleNamespace

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.cache import cache
from django.http import JsonResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST
from rest_framework import exceptions, serializers

from . import errors, tasks
from .authentication import key_for, presented_key
from .models import ApiKey
from .throttling import ApiKeyRateThrottle

FINISH = {"stop": "stop", "length": "length", "abort": "stop"}
MAX_MESSAGES = 200
MAX_STOPS = 4

# OpenAI parameters this server does not implement, with the values that ask for nothing (clients
# often send defaults). Any other value is refused: ignoring it would answer a different question.
UNSUPPORTED = {
    "audio": (None,),
    "frequency_penalty": (None, 0),
    "function_call": (None, "none"),
    "functions": (None, []),
    "logit_bias": (None, {}),
    "logprobs": (None, False),
    "metadata": (None, {}),
    "modalities": (None, ["text"]),
    "parallel_tool_calls": (None, True, False),
    "prediction": (None,),
    "presence_penalty": (None, 0),
    "reasoning_effort": (None,),
    "response_format": (None, {"type": "text"}),
    "service_tier": (None, "auto", "default"),
    "store": (None, False),
    "tool_choice": (None, "none"),
    "tools": (None, []),
    "top_logprobs": (None, 0),
    "web_search_options": (None,),
}
IGNORED = {"user"}  # an end-user id for the provider's abuse monitoring


class ContentPart(serializers.Serializer):
    type = serializers.ChoiceField(choices=["text"])
    text = serializers.CharField(allow_blank=True, trim_whitespace=False)


class Content(serializers.Field):
    """A message's content: a string, or a list of text parts (joined)."""

    def to_internal_value(self, data):
        if isinstance(data, str):
            return data
        if isinstance(data, list):
            parts = ContentPart(data=data, many=True)
            parts.is_valid(raise_exception=True)
            return "".join(part["text"] for part in parts.validated_data)
        raise serializers.ValidationError("Must be a string or a list of text parts.")


class ChatMessage(serializers.Serializer):
    role = serializers.ChoiceField(choices=["system", "developer", "user", "assistant"])
    content = Content()


class StopField(serializers.Field):
    def to_internal_value(self, data):
        stops = [data] if isinstance(data, str) else data
        if (
            not isinstance(stops, list)
            or len(stops) > MAX_STOPS
            or not all(isinstance(s, str) and s for s in stops)
        ):
            raise serializers.ValidationError(f"Up to {MAX_STOPS} non-empty strings.")
        return stops


class CompletionRequest(serializers.Serializer):
    model = serializers.CharField(max_length=200)
    messages = ChatMessage(many=True, allow_empty=False, max_length=MAX_MESSAGES)
    stream = serializers.BooleanField(default=False)
    temperature = serializers.FloatField(min_value=0, max_value=2, default=1.0)
    top_p = serializers.FloatField(min_value=0, max_value=1, default=1.0)
    max_tokens = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    max_completion_tokens = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    stop = StopField(required=False, allow_null=True)
    seed = serializers.IntegerField(required=False, allow_null=True)
    n = serializers.IntegerField(min_value=1, max_value=1, default=1)
    stream_options = serializers.DictField(required=False, allow_null=True)

    def validate(self, attrs):
        wanted = attrs.get("max_completion_tokens") or attrs.get("max_tokens")
        limit = settings.COMPLETIONS_MAX_TOKENS
        if wanted is not None and wanted > limit:
            raise serializers.ValidationError({"max_tokens": f"At most {limit}."})
        attrs["max_tokens"] = wanted or limit
        return attrs

    def sampling(self) -> dict:
        """The engine's sampling settings. OpenAI accepts ``top_p=0``: a nucleus of no probability
        mass keeps only the most likely token, which is greedy decoding whatever the temperature."""
        data = self.validated_data
        params = {
            "temperature": data["temperature"],
            "max_tokens": data["max_tokens"],
            "stop": data.get("stop") or [],
            "seed": data.get("seed"),
        }
        if data["top_p"] == 0:
            params["temperature"] = 0.0
        else:
            params["top_p"] = data["top_p"]
        return params

    def chat(self) -> list[dict]:
        """Messages as the engine takes them (OpenAI's `developer` role is a system prompt)."""
        roles = {"developer": "system"}
        return [
            {"role": roles.get(m["role"], m["role"]), "content": m["content"]}
            for m in self.validated_data["messages"]
        ]


def _error(status: int, message: str, kind: str, param: str | None = None, code=None, **headers):
    """OpenAI's error shape, which its clients turn into typed exceptions."""
    body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    response = JsonResponse(body, status=status)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def _refused_parameter(body: dict):
    """OpenAI's 400 for a parameter it does not know, or one this server cannot honour; None if
    every parameter is served."""
    known = CompletionRequest().fields.keys() | IGNORED
    for name, value in body.items():
        if name in UNSUPPORTED and value not in UNSUPPORTED[name]:
            message = f"Unsupported parameter: '{name}' is not supported by this server."
            return _error(400, message, "invalid_request_error", name, "unsupported_parameter")
        if name not in UNSUPPORTED and name not in known:
            message = f"Unrecognized request argument supplied: {name}"
            return _error(400, message, "invalid_request_error", name)
    return None


def _authorize(request) -> ApiKey:
    """The request's key if it may complete now; raises the matching DRF exception otherwise."""
    full_key = presented_key(request)
    if full_key is None:
        raise exceptions.NotAuthenticated("Send your API key: 'Authorization: Bearer sk_...'.")
    api_key = key_for(full_key)
    if ApiKey.Scope.COMPLETIONS not in api_key.scopes:
        raise exceptions.PermissionDenied("This API key lacks the completions scope.")
    throttle = ApiKeyRateThrottle()
    if not throttle.allow_request(SimpleNamespace(auth=api_key), None):
        raise exceptions.Throttled(throttle.wait())
    return api_key


async def _authorized(request):
    """(api key, None) or (None, the error response)."""
    try:
        return await sync_to_async(_authorize)(request), None
    except exceptions.Throttled as error:
        retry = str(int(error.wait or 1))
        return None, _error(429, str(error.detail), "rate_limit_exceeded", Retry_After=retry)
    except exceptions.APIException as error:
        unknown = isinstance(error, exceptions.NotAuthenticated | exceptions.AuthenticationFailed)
        status = 401 if unknown else 403
        kind = "authentication_error" if status == 401 else "permission_error"
        return None, _error(status, str(error.detail), kind)


@csrf_exempt
@require_POST
async def chat_completions(request):
    api_key, refused = await _authorized(request)
    if refused is not None:
        return refused
    try:
        body = json.loads(request.body)
    except ValueError:
        return _error(400, "The body is not valid JSON.", "invalid_request_error")
    body = body if isinstance(body, dict) else {}
    refused = _refused_parameter(body)
    if refused is not None:
        return refused
    completion = CompletionRequest(data=body)
    if not completion.is_valid():
        [first, *_] = errors.field_errors(completion.errors)
        return _error(400, first["reason"], "invalid_request_error", param=first["field"])
    request_id = f"chatcmpl-{uuid.uuid4().hex}"
    events = _relay(request_id, completion.chat(), completion.sampling(), api_key.pk)
    if completion.validated_data["stream"]:
        options = completion.validated_data.get("stream_options") or {}
        response = StreamingHttpResponse(
            _chunks(request_id, events, bool(options.get("include_usage"))),
            content_type="text/event-stream",
        )
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"
        return response
    return await _whole(request_id, events)


@require_GET
async def models(request):
    _, refused = await _authorized(request)
    if refused is not None:
        return refused
    entry = {"id": settings.ENGINE_MODEL, "object": "model", "created": 0, "owned_by": "parley"}
    return JsonResponse({"object": "list", "data": [entry]})


async def _relay(request_id: str, messages: list[dict], params: dict, key_id: int):
    """The worker's frames for this request: deltas, then done or error (or a timeout error)."""
    layer = get_channel_layer()
    channel = await layer.new_channel()
    group = tasks.group_name(request_id)
    await layer.group_add(group, channel)
    finished = False
    try:
        await sync_to_async(tasks.complete.apply_async)(
            (request_id, messages, params, key_id), queue="gpu"
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + settings.COMPLETIONS_TIMEOUT_SECONDS
        while True:
            try:
                event = await asyncio.wait_for(
                    layer.receive(channel), max(deadline - loop.time(), 0)
                )
            except TimeoutError:
                finished = True
                yield {"type": "error", "code": "timeout", "message": "No answer in time."}
                return
            frame = event.get("frame") or {}
            finished = frame.get("type") in ("done", "error")
            yield frame
            if finished:
                return
    finally:
        await layer.group_discard(group, channel)
        if not finished:  # the client went away: stop generating for nobody
            await sync_to_async(cache.set)(tasks.abort_key(request_id), True, 600)


def _usage(usage: dict) -> dict:
    prompt, completion = usage["prompt_tokens"], usage["completion_tokens"]
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": usage["cached_prompt_tokens"]},
    }


async def _whole(request_id: str, events):
    try:
        return await _collect(request_id, events)
    finally:
        await events.aclose()


async def _collect(request_id: str, events):
    parts = []
    async for frame in events:
        if frame["type"] == "delta":
            parts.append(frame["text"])
        elif frame["type"] == "error":
            status = 400 if frame["code"] == "context_length_exceeded" else 503
            kind = "invalid_request_error" if status == 400 else "server_error"
            return _error(status, frame["message"], kind, code=frame["code"])
        elif frame["type"] == "done":
            usage = frame["usage"]
            return JsonResponse(
                {
                    "id": request_id,
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": settings.ENGINE_MODEL,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": "".join(parts)},
                            "finish_reason": FINISH.get(usage["finish_reason"], "stop"),
                            "logprobs": None,
                        }
                    ],
                    "usage": _usage(usage),
                }
            )
    return _error(503, "The worker stopped without an answer.", "server_error")


async def _chunks(request_id: str, events, include_usage: bool):
    created = int(time.time())

    def chunk(choices: list[dict], **extra) -> str:
        body = {
            "id": request_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": settings.ENGINE_MODEL,
            "choices": choices,
            **extra,
        }
        return f"data: {json.dumps(body)}\n\n"

    def choice(delta: dict, finish=None) -> list[dict]:
        return [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]

    yield chunk(choice({"role": "assistant", "content": ""}))
    async for frame in events:
        if frame["type"] == "delta":
            yield chunk(choice({"content": frame["text"]}))
        elif frame["type"] == "error":
            error = {"message": frame["message"], "type": "server_error", "code": frame["code"]}
            yield f"data: {json.dumps({'error': error})}\n\n"
            return
        elif frame["type"] == "done":
            usage = frame["usage"]
            yield chunk(choice({}, FINISH.get(usage["finish_reason"], "stop")))
            if include_usage:
                yield chunk([], usage=_usage(usage))
            yield "data: [DONE]\n\n"
            return
