"""Writing a conversation directly, as the socket would have stored it."""

from chatbot.conversations.models import Conversation, Message


def shopper_says(conversation: Conversation, text: str) -> Message:
    return Message.objects.create(conversation=conversation, role=Message.Role.SHOPPER, text=text)
