"""/v1/: the OpenAI-compatible endpoints (see completions.py)."""

from django.urls import path

from . import completions

urlpatterns = [
    path("chat/completions", completions.chat_completions, name="openai-chat-completions"),
    path("models", completions.models, name="openai-models"),
]
