"""The shopper's WebSocket: /ws/v1/chat/?key=<widget key>&shopper=<id>[&conversation=<id>].

Connecting resumes the shopper's conversation if they have one; otherwise the conversation is
created by their first message (a `started` frame names it), so sockets alone create nothing.
Connects are rate-limited per address, and messages past the store's daily reply budget are
refused with a `budget_exhausted` error (chatbot/reliability/limits.py)."""

import json
import logging
import math
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.db import DatabaseError
from kombu.exceptions import OperationalError as BrokerError

from chatbot.integrations import identity
from chatbot.observability.metrics import (
    CHAT_CONNECTIONS,
    CHAT_SOCKETS_OPEN,
    REPLIES_REFUSED,
    SHOPPER_MESSAGES,
)
from chatbot.reliability.limits import (
    FrameBudget,
    connect_wait,
    message_wait,
    reply_budget_spent,
)

from . import outcomes, protocol, services
from .models import Conversation

log = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 2.0


def _query(scope) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(scope["query_string"].decode("latin-1")).items()}


def _origin(scope) -> str:
    for name, value in scope["headers"]:
        if name == b"origin":
            return value.decode("latin-1")
    return ""


@database_sync_to_async
def _open(key: str, origin: str, shopper: str, conversation: int | None, query: dict):
    """(store, verified customer id, the shopper's conversation or None), or None: refused."""
    store = services.store_for_widget(key, origin)
    if store is None:
        return None
    try:
        verified = identity.verify_params(store, query)
    except identity.IdentityError:
        return None  # a forged identity, or none where the store requires one: refused
    found = services.find_conversation(store, shopper, conversation, verified.customer_id)
    if found is not None:
        # A queued reply can be lost with a Redis that restarted empty: a reconnect queues it again.
        services.request_reply(found.pk)
    return store, verified.customer_id, found


@database_sync_to_async
def _start(store, shopper: str, customer_id: str, request: protocol.ShopperMessage):
    """The conversation and its first message together: a refused message creates neither."""
    return services.start_conversation(
        store, shopper, customer_id, request.client_msg_id, request.text
    )


@database_sync_to_async
def _after_start(conversation, message, created: bool, request: protocol.ShopperMessage):
    if created:
        services.after_shopper_message(conversation, request.text)
    services.request_reply(conversation.pk)


@database_sync_to_async
def _bot_answers(conversation) -> bool:
    """Whether a shopper message now asks the model for a reply: in a new conversation, or one no
    person has taken (a finished one reopens for the bot)."""
    if conversation is None:
        return True
    conversation.refresh_from_db(fields=["state"])
    return conversation.state not in (Conversation.State.HUMAN, Conversation.State.ESCALATED)


@database_sync_to_async
def _hello(conversation) -> dict:
    if conversation is None:
        return {
            "type": "hello",
            "protocol": protocol.VERSION,
            "conversation": None,
            "state": None,
            "last_message_id": 0,
            "replying": False,
        }
    conversation.refresh_from_db()
    last = conversation.messages.order_by("-pk").values_list("pk", flat=True).first()
    return {
        "type": "hello",
        "protocol": protocol.VERSION,
        "conversation": conversation.pk,
        "state": conversation.state,
        "last_message_id": last or 0,
        "replying": services.leases.seconds_left(conversation.pk) is not None,
    }


@database_sync_to_async
def _receive(conversation, request: protocol.ShopperMessage):
    message, created = services.receive_shopper_message(
        conversation, request.client_msg_id, request.text
    )
    # Queue before acking: a crash in between leaves an unacked message the widget resends.
    services.request_reply(conversation.pk)
    return message, created


@database_sync_to_async
def _rate(conversation, score: int) -> bool:
    return outcomes.record_csat(conversation.pk, score)


@database_sync_to_async
def _missed(conversation, last_message_id: int) -> list[dict]:
    return [m.as_frame() for m in services.messages_after(conversation, last_message_id)]


class ChatConsumer(AsyncWebsocketConsumer):
    conversation = None
    accepted = False

    async def connect(self):
        client = self.scope.get("client") or (None,)
        if await connect_wait(client[0]):
            CHAT_CONNECTIONS.labels("rate_limited").inc()
            await self.close()
            return
        query = _query(self.scope)
        shopper = query.get("shopper", "")
        raw_conversation = query.get("conversation", "")
        # isascii: "²".isdigit() is true too; 18 digits: always inside a bigint.
        plain_number = raw_conversation.isascii() and raw_conversation.isdigit()
        conversation_id = (
            int(raw_conversation) if plain_number and len(raw_conversation) <= 18 else None
        )
        opened = None
        if services.SHOPPER_ID.match(shopper):
            opened = await _open(
                query.get("key", ""), _origin(self.scope), shopper, conversation_id, query
            )
        if opened is None:
            CHAT_CONNECTIONS.labels("refused").inc()
            await self.close()  # before accept: the handshake is refused (HTTP 403)
            return
        self.store, self.customer_id, self.conversation = opened
        self.shopper = shopper
        self.budget = FrameBudget()
        if self.conversation is not None:
            await self.channel_layer.group_add(self.conversation.group_name, self.channel_name)
        await self.accept()
        self.accepted = True
        CHAT_CONNECTIONS.labels("accepted").inc()
        CHAT_SOCKETS_OPEN.inc()
        await self._send(await _hello(self.conversation))

    async def disconnect(self, code):
        if self.conversation is not None:
            await self.channel_layer.group_discard(self.conversation.group_name, self.channel_name)
        if self.accepted:
            CHAT_SOCKETS_OPEN.dec()

    async def receive(self, text_data=None, bytes_data=None):
        wait = self.budget.take()
        if wait:
            await self._send(
                {
                    "type": "error",
                    "code": "rate_limited",
                    "message": "Too many messages at once: wait a moment, then send again.",
                    "retry_after": math.ceil(wait * 100) / 100,
                }
            )
            return
        try:
            request = protocol.parse(text_data, bytes_data)
        except protocol.ProtocolError as error:
            await self._send(error.frame())
            return
        try:
            await self._handle(request)
        except (DatabaseError, BrokerError):
            # Nothing was acknowledged, so the widget still holds the message and may resend it.
            log.exception(
                "conversation %s: a chat frame failed", getattr(self.conversation, "pk", None)
            )
            failed = {
                "type": "error",
                "code": "unavailable",
                "message": "The chat is busy: please try again in a moment.",
                "retry_after": RETRY_AFTER_SECONDS,
            }
            if isinstance(request, protocol.ShopperMessage):
                failed["message"] = "Your message could not be saved yet. It will be sent again."
                failed["client_msg_id"] = request.client_msg_id
            await self._send(failed)

    async def _handle(self, request):
        if isinstance(request, protocol.Resume):
            if self.conversation is not None:
                for message in await _missed(self.conversation, request.last_message_id):
                    await self._send({"type": "message", "message": message})
            return
        if isinstance(request, protocol.Csat):
            if self.conversation is None:
                await self._send(
                    {
                        "type": "error",
                        "code": "no_conversation",
                        "message": "There is no conversation to rate yet.",
                    }
                )
                return
            resolved = await _rate(self.conversation, request.score)
            await self._send({"type": "rated", "score": request.score, "resolved": resolved})
            return
        client = self.scope.get("client") or (None,)
        wait = await message_wait(self.store.pk, client[0])
        if wait:
            await self._send(
                {
                    "type": "error",
                    "code": "rate_limited",
                    "message": "Too many messages from here: wait a moment, then send again.",
                    "retry_after": math.ceil(wait),
                    "client_msg_id": request.client_msg_id,
                }
            )
            return
        if await _bot_answers(self.conversation) and await reply_budget_spent(self.store.pk):
            REPLIES_REFUSED.labels("budget_exhausted").inc()
            await self._send(
                {
                    "type": "error",
                    "code": "budget_exhausted",
                    "message": "This chat has answered all it can for today. Please try again "
                    "tomorrow, or contact the store another way.",
                    "client_msg_id": request.client_msg_id,
                }
            )
            return
        if self.conversation is None:
            conversation, message, created = await _start(
                self.store, self.shopper, self.customer_id, request
            )
            self.conversation = conversation
            await self.channel_layer.group_add(conversation.group_name, self.channel_name)
            await self._send({"type": "started", "conversation": conversation.pk})
            await _after_start(conversation, message, created, request)
        else:
            message, created = await _receive(self.conversation, request)
        if created:
            SHOPPER_MESSAGES.inc()
        await self._send(
            {
                "type": "ack",
                "client_msg_id": request.client_msg_id,
                "message_id": message.pk,
                "duplicate": not created,
            }
        )

    async def chat_frame(self, event):
        """A frame published to the conversation's group (typing, delta, done, error, message)."""
        await self._send(event["frame"])

    async def _send(self, frame: dict):
        await self.send(text_data=json.dumps(frame))
