"""Real WebSockets through the whole ASGI app: a shopper's widget and a staff dashboard."""

import asyncio
import json
import uuid

from channels.testing import WebsocketCommunicator
from django.conf import settings

from chatbot.asgi import application

SHOP_ORIGIN = "https://shop.example"
STAFF_ORIGIN = "http://127.0.0.1"


class Socket:
    def __init__(self, path: str, headers: list[tuple[bytes, bytes]]):
        self.ws = WebsocketCommunicator(application, path, headers=headers)
        self.first = None

    async def connect(self) -> bool:
        connected, _ = await self.ws.connect(timeout=5)
        if connected:
            self.first = await self.receive()
        else:
            # End the refused consumer: left running, its channel-layer receive could hold up the
            # event loop's teardown (seen as a hang after test_tenant_isolation's refused sockets).
            await self.ws.disconnect()
        return connected

    async def send(self, frame: dict) -> None:
        await self.ws.send_to(text_data=json.dumps(frame))

    async def receive(self, timeout: float = 5) -> dict:
        frame = json.loads(await self.ws.receive_from(timeout=timeout))
        if frame.get("type") == "started":  # a widget's first message created its conversation
            self.first["conversation"] = frame["conversation"]
        return frame

    async def until(self, stop, timeout: float = 10) -> list[dict]:
        """Frames up to and including the first for which stop(frame) is true."""
        frames = []
        async with asyncio.timeout(timeout):
            while True:
                frames.append(await self.receive(timeout))
                if stop(frames[-1]):
                    return frames

    async def silent_for(self, seconds: float) -> bool:
        return await self.ws.receive_nothing(timeout=seconds)

    async def close(self) -> None:
        await self.ws.disconnect()


def widget(store, shopper: str | None = None, origin: str = SHOP_ORIGIN) -> Socket:
    shopper = shopper or uuid.uuid4().hex
    path = f"/ws/v1/chat/?key={store.widget_key}&shopper={shopper}"
    return Socket(path, [(b"origin", origin.encode())])


def staff(client, origin: str = STAFF_ORIGIN) -> Socket:
    """The dashboard's socket for the user logged in on Django test `client`."""
    cookie = client.cookies.get(settings.SESSION_COOKIE_NAME)
    headers = [(b"origin", origin.encode())]
    if cookie is not None:
        headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie.value}".encode()))
    return Socket("/ws/v1/staff/", headers)


def say(text: str) -> dict:
    return {"type": "message", "client_msg_id": uuid.uuid4().hex, "text": text}
