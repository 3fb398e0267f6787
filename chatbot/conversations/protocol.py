"""The chat WebSocket protocol, version 1: parsing and checking what a widget sends.

Client frames (JSON text):
    {"type": "message", "client_msg_id": "<1-64 chars>", "text": "<1-4000 chars>"}
    {"type": "resume", "last_message_id": <int >= 0>}
    {"type": "csat", "score": <int 1-5>}
Anything else is answered with an error frame {"type": "error", "code", "message"}.

Server frames include {"type": "hello", "conversation": <id, or null before the first message>,
...} on connect and {"type": "started", "conversation": <id>} when the first message creates the
conversation. Error codes a widget acts on: `rate_limited` and `unavailable` (send again after
`retry_after`), `budget_exhausted` (the store's replies for today are spent: do not resend).
"""

import json
import re
from dataclasses import dataclass

VERSION = 1
MAX_TEXT_CHARS = 4000
MAX_CLIENT_MSG_ID_CHARS = 64
# The largest frame read: a full message of JSON-escaped emoji fits. Also the ASGI server's
# --ws-max-size, which closes the socket (1009) on anything larger before it is even buffered.
MAX_FRAME_BYTES = 64 * 1024
MAX_MESSAGE_ID = 2**63 - 1  # a bigint primary key
# What a database text column cannot hold: NUL, and halves of a UTF-16 surrogate pair
# (JSON escapes like "\ud83d" decode to them).
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class ProtocolError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message

    def frame(self) -> dict:
        return {"type": "error", "code": self.code, "message": self.message}


@dataclass(frozen=True)
class ShopperMessage:
    client_msg_id: str
    text: str


@dataclass(frozen=True)
class Resume:
    last_message_id: int


@dataclass(frozen=True)
class Csat:
    """The shopper's rating of the chat, 1 (bad) to 5 (great)."""

    score: int


def parse(text_data: str | None, bytes_data: bytes | None) -> ShopperMessage | Resume | Csat:
    """Turn one WebSocket frame into a request, or raise ProtocolError."""
    if text_data is None:
        raise ProtocolError("binary_frame", "Frames must be JSON text.")
    if len(text_data) > MAX_FRAME_BYTES:
        raise ProtocolError("frame_too_large", f"Frames are limited to {MAX_FRAME_BYTES} bytes.")
    try:
        frame = json.loads(text_data)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser goes
        raise ProtocolError("malformed_json", "The frame is not valid JSON.") from None
    if not isinstance(frame, dict):
        raise ProtocolError("bad_frame", "A frame must be a JSON object.")
    kind = frame.get("type")
    if kind == "message":
        return _message(frame)
    if kind == "resume":
        last = frame.get("last_message_id")
        if isinstance(last, bool) or not isinstance(last, int) or not 0 <= last <= MAX_MESSAGE_ID:
            raise ProtocolError("bad_resume", "last_message_id must be a non-negative integer.")
        return Resume(last)
    if kind == "csat":
        score = frame.get("score")
        if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
            raise ProtocolError("bad_score", "score must be an integer from 1 to 5.")
        return Csat(score)
    raise ProtocolError("unknown_type", "Unknown frame type.")


def _message(frame: dict) -> ShopperMessage:
    client_msg_id = frame.get("client_msg_id")
    if (
        not isinstance(client_msg_id, str)
        or not client_msg_id.strip()
        or len(client_msg_id) > MAX_CLIENT_MSG_ID_CHARS
        or UNSTORABLE.search(client_msg_id)
    ):
        raise ProtocolError(
            "bad_client_msg_id", f"client_msg_id must be 1-{MAX_CLIENT_MSG_ID_CHARS} characters."
        )
    text = frame.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ProtocolError("empty_text", "The message is empty.")
    if len(text) > MAX_TEXT_CHARS:
        raise ProtocolError(
            "text_too_long", f"Messages are limited to {MAX_TEXT_CHARS} characters."
        )
    if UNSTORABLE.search(text):
        raise ProtocolError("bad_text", "The message holds characters that cannot be stored.")
    return ShopperMessage(client_msg_id, text.strip())
