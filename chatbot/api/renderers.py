"""A transcript as plain text (`?format=txt`), for pasting into a ticket or an e-mail."""

import json

from rest_framework.renderers import BaseRenderer

ROLE_NAMES = {"shopper": "Shopper", "bot": "Assistant", "staff": "Staff", "system": "System"}


class TranscriptTextRenderer(BaseRenderer):
    media_type = "text/plain"
    format = "txt"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if not isinstance(data, dict) or "messages" not in data:
            return json.dumps(data)  # an error answer
        conversation = data["conversation"]
        lines = [
            f"Conversation {conversation['id']} ({conversation['state']}), "
            f"shopper {conversation['shopper_id']}, started {conversation['created']}",
            "",
        ]
        for message in data["messages"]:
            name = ROLE_NAMES.get(message["role"], message["role"])
            lines.append(f"[{message['created']}] {name}: {message['text']}")
        return "\n".join(lines) + "\n"
