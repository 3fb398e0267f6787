"""Simulated shoppers: real WebSocket clients speaking the chat protocol, as the widget does.

Every shopper connects and waits; the active ones chat: send a message, wait for its ack and the
reply's `done`, think briefly, send again, until the run's time is up or the bot hands their
conversation to a person (its system note arrives; a person answers next). What they saw is tallied for
the figures (chatbot/reliability/figures.py).
"""

import asyncio
import json
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException

QUESTIONS = [
    "Do you ship to Canada?",
    "How long does delivery take?",
    "Can I return a jacket that does not fit?",
    "Is the rain jacket waterproof?",
    "Which size should I take if I am between sizes?",
    "Do you have the boots in blue?",
    "How do I wash the poncho?",
    "Is there a discount for a first order?",
]
CONNECT_AT_ONCE = 25  # handshakes in flight together
CONNECT_SECONDS = 120  # for all of them; a shopper not connected by then is counted as an error


@dataclass
class Tally:
    sent: int = 0
    replies: int = 0
    connected: int = 0
    handed_over: int = 0  # shoppers whose conversation the bot passed to a person
    errors: Counter = field(default_factory=Counter)
    # message id -> (conversation id, client_msg_id) of every acknowledged message
    acked: dict[int, tuple[int, str]] = field(default_factory=dict)
    ttfts: list[float] = field(default_factory=list)  # seconds from send to the first delta


@dataclass
class Plan:
    url: str  # ws://.../ws/v1/chat/?key=...
    origin: str
    shoppers: int
    active: int
    duration: float  # seconds of chatting
    grace: float  # seconds after that for replies still coming
    think: float  # mean pause between a reply and the next message


class Shopper:
    def __init__(self, plan: Plan, tally: Tally, index: int):
        self.plan = plan
        self.tally = tally
        self.shopper_id = f"load-{index:05d}-{uuid.uuid4().hex[:12]}"
        self.ws = None
        self.conversation = None

    async def connect(self, gate: asyncio.Semaphore, deadline: float) -> bool:
        async with gate:
            try:
                async with asyncio.timeout_at(deadline):
                    self.ws = await connect(
                        f"{self.plan.url}&shopper={self.shopper_id}",
                        origin=self.plan.origin,
                        proxy=None,
                        compression=None,
                        open_timeout=None,
                        max_queue=None,
                    )
                    hello = json.loads(await self.ws.recv())
            except (OSError, TimeoutError, WebSocketException, ValueError) as error:
                self.tally.errors[f"connect:{type(error).__name__}"] += 1
                return False
        if hello.get("type") != "hello":
            self.tally.errors["connect:no_hello"] += 1
            return False
        self.conversation = hello["conversation"]
        self.tally.connected += 1
        return True

    async def idle(self, until: float) -> None:
        """Stay connected; an idle shopper receives nothing, so any frame or close is counted."""
        try:
            frame = await asyncio.wait_for(self.ws.recv(), max(0.0, until - time.monotonic()))
            self.tally.errors[f"idle:unexpected {json.loads(frame).get('type')}"] += 1
        except TimeoutError:
            return
        except WebSocketException:
            self.tally.errors["idle:closed"] += 1

    async def chat(self, stop_sending: float, give_up: float) -> None:
        while time.monotonic() < stop_sending:
            if not await self._exchange(give_up):
                return
            await asyncio.sleep(self.plan.think * random.uniform(0.5, 1.5))

    async def _exchange(self, give_up: float) -> bool:
        """One message and its reply; False when this shopper cannot go on."""
        client_msg_id = uuid.uuid4().hex
        frame = {
            "type": "message",
            "client_msg_id": client_msg_id,
            "text": random.choice(QUESTIONS),
        }
        sent_at = time.monotonic()
        try:
            await self.ws.send(json.dumps(frame))
        except WebSocketException:
            self.tally.errors["chat:closed"] += 1
            return False
        self.tally.sent += 1
        acked = done = handed_over = False
        first_token = None
        while not (acked and done):
            try:
                raw = await asyncio.wait_for(self.ws.recv(), max(0.0, give_up - time.monotonic()))
            except TimeoutError:
                if not acked:
                    self.tally.errors["chat:no_ack"] += 1
                return False  # unanswered: the lost-message check counts it
            except WebSocketException:
                self.tally.errors["chat:closed"] += 1
                return False
            got = json.loads(raw)
            kind = got.get("type")
            if kind == "started":  # the first message created the conversation
                self.conversation = got["conversation"]
            elif kind == "ack":
                acked = True
                self.tally.acked[got["message_id"]] = (self.conversation, client_msg_id)
            elif kind == "delta" and first_token is None:
                first_token = time.monotonic() - sent_at
            elif kind == "message" and got["message"]["role"] == "system":
                handed_over = True  # the bot passed the conversation on: a person answers next
            elif kind == "done":
                done = True
                self.tally.replies += 1
                self.tally.ttfts.append(first_token or time.monotonic() - sent_at)
            elif kind == "error":  # counted; the next message's reply covers this one too
                self.tally.errors[f"frame:{got.get('code')}"] += 1
                return True
        if handed_over:
            # The bot will not answer this conversation again, so more messages would only wait
            # for staff: this shopper stops (counted) rather than be counted as losing them.
            self.tally.handed_over += 1
            return False
        return True

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()


async def run(plan: Plan, tally: Tally) -> float:
    """Connect everyone, chat for plan.duration, wait out the grace period; returns the seconds the
    connections took to open."""
    crowd = [Shopper(plan, tally, n) for n in range(plan.shoppers)]
    gate = asyncio.Semaphore(CONNECT_AT_ONCE)
    started = time.monotonic()
    deadline = asyncio.get_running_loop().time() + CONNECT_SECONDS
    ok = await asyncio.gather(*(shopper.connect(gate, deadline) for shopper in crowd))
    connect_seconds = time.monotonic() - started
    online = [shopper for shopper, up in zip(crowd, ok, strict=True) if up]
    stop_sending = time.monotonic() + plan.duration
    give_up = stop_sending + plan.grace
    try:
        await asyncio.gather(
            *(shopper.chat(stop_sending, give_up) for shopper in online[: plan.active]),
            *(shopper.idle(stop_sending) for shopper in online[plan.active :]),
        )
    finally:
        await asyncio.gather(*(shopper.close() for shopper in crowd), return_exceptions=True)
    return connect_seconds
