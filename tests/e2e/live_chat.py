"""A real WebSocket client (the `websockets` library) for the running product."""

import contextlib
import json
import time
import uuid

from websockets.sync.client import connect


class LiveChat:
    def __init__(self, stack, store, shopper: str | None = None, conversation: int | None = None):
        self.shopper = shopper or uuid.uuid4().hex
        self._exit = contextlib.ExitStack()
        self.ws = self._exit.enter_context(
            connect(
                stack.ws_url(store.widget_key, self.shopper, conversation),
                origin=stack.origin,
                proxy=None,
                max_queue=None,
                open_timeout=20,
            )
        )
        self.hello = self.receive()
        assert self.hello["type"] == "hello"
        self.conversation = self.hello["conversation"]

    def send(self, frame: dict) -> None:
        self.ws.send(json.dumps(frame))

    def say(self, text: str, client_msg_id: str | None = None) -> str:
        client_msg_id = client_msg_id or uuid.uuid4().hex
        self.send({"type": "message", "client_msg_id": client_msg_id, "text": text})
        return client_msg_id

    def receive(self, timeout: float = 30) -> dict:
        frame = json.loads(self.ws.recv(timeout=timeout))
        if frame.get("type") == "started":  # the first message created the conversation
            self.conversation = frame["conversation"]
        return frame

    def until(self, stop, timeout: float = 120) -> list[dict]:
        """Frames received up to and including the first one for which stop(frame) is true."""
        deadline = time.monotonic() + timeout
        frames = []
        while True:
            frame = self.receive(timeout=max(0.1, deadline - time.monotonic()))
            frames.append(frame)
            if stop(frame):
                return frames

    def until_done(self, timeout: float = 120) -> list[dict]:
        return self.until(lambda f: f["type"] == "done", timeout)

    def close(self) -> None:
        self._exit.close()
