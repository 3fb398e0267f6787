"""The staff socket, /ws/v1/staff/: the live inbox of the user's stores, and the live transcript of
one conversation they are looking at.

Server → staff frames: {"type": "hello", "stores": [ids]}; {"type": "conversation", "conversation":
<inbox summary>} whenever a conversation of their stores changes; and, for the conversation being
watched, {"type": "chat", "conversation": id, "frame": <the shopper's frame>} (typing, delta, done,
message, staff_joined, stopped, ended). Staff → server: {"type": "watch", "conversation": id}.
The session cookie authenticates; the Origin must be one of ALLOWED_HOSTS (no cross-site sockets).
"""

import json

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from . import access
from .live import store_group


@database_sync_to_async
def _store_ids(user) -> list[int]:
    return access.store_ids_for(user)


@database_sync_to_async
def _may_watch(user, conversation_id: int) -> bool:
    return access.conversations_for(user).filter(pk=conversation_id).exists()


class StaffConsumer(AsyncWebsocketConsumer):
    groups_joined: list[str]
    watching: int | None = None

    async def connect(self):
        self.groups_joined = []
        user = self.scope.get("user")
        store_ids = await _store_ids(user) if user is not None else []
        if not store_ids:
            await self.close()  # not logged in, or works for no store: handshake refused
            return
        for store_id in store_ids:
            await self._join(store_group(store_id))
        await self.accept()
        await self._send({"type": "hello", "stores": store_ids})

    async def disconnect(self, code):
        for group in self.groups_joined:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        try:
            frame = json.loads(text_data or "")
        except ValueError:
            return
        if not isinstance(frame, dict) or frame.get("type") != "watch":
            return
        conversation_id = frame.get("conversation")
        if isinstance(conversation_id, bool) or not isinstance(conversation_id, int):
            return
        if not await _may_watch(self.scope["user"], conversation_id):
            await self._send({"type": "error", "code": "not_found"})
            return
        if self.watching is not None:
            group = f"conversation.{self.watching}"
            await self.channel_layer.group_discard(group, self.channel_name)
            self.groups_joined.remove(group)
        self.watching = conversation_id
        await self._join(f"conversation.{conversation_id}")
        await self._send({"type": "watching", "conversation": conversation_id})

    async def chat_frame(self, event):
        frame = event["frame"]
        if frame.get("type") == "conversation":  # from a store group
            await self._send(frame)
        elif self.watching is not None:  # from the watched conversation's group
            await self._send({"type": "chat", "conversation": self.watching, "frame": frame})

    async def _join(self, group: str):
        await self.channel_layer.group_add(group, self.channel_name)
        self.groups_joined.append(group)

    async def _send(self, frame: dict):
        await self.send(text_data=json.dumps(frame))
