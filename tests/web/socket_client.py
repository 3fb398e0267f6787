"""A WebSocket client speaking the chat protocol through the whole ASGI stack, in-process."""

import json
import uuid

from channels.testing import WebsocketCommunicator

from chatbot.asgi import application

ORIGIN = "https://shop.example"


def shopper_id() -> str:
    return uuid.uuid4().hex


class Client:
    """A WebSocket client speaking the chat protocol through the whole ASGI stack."""

    def __init__(self, key, shopper=None, origin=ORIGIN, conversation=None, address=None):
        self.shopper = shopper or shopper_id()
        query = f"key={key}&shopper={self.shopper}"
        if conversation is not None:
            query += f"&conversation={conversation}"
        headers = [(b"origin", origin.encode())] if origin is not None else []
        self.ws = WebsocketCommunicator(application, f"/ws/v1/chat/?{query}", headers=headers)
        if address is not None:  # the peer a server would see (the app reads it once connected)
            self.ws.scope["client"] = [address, 50000]
        self.hello = None
        self.conversation = None  # from hello, or the `started` frame of the first message

    async def connect(self) -> bool:
        connected, _ = await self.ws.connect(timeout=5)
        if connected:
            self.hello = await self.receive()
            self.conversation = self.hello["conversation"]
        else:
            await self.ws.disconnect()  # end the refused consumer instead of leaving it running
        return connected

    async def send(self, frame) -> None:
        await self.ws.send_to(text_data=frame if isinstance(frame, str) else json.dumps(frame))

    async def receive(self, timeout=5) -> dict:
        frame = json.loads(await self.ws.receive_from(timeout=timeout))
        if frame.get("type") == "started":
            self.conversation = frame["conversation"]
        return frame

    async def say(self, text, client_msg_id=None) -> dict:
        """Send a shopper message and return the answer to it (its ack, or an error), past the
        `started` frame of a first message."""
        await self.send(
            {"type": "message", "client_msg_id": client_msg_id or uuid.uuid4().hex, "text": text}
        )
        answer = await self.receive()
        return await self.receive() if answer["type"] == "started" else answer

    async def close(self) -> None:
        await self.ws.disconnect()
