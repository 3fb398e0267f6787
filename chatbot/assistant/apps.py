from django.apps import AppConfig


class AssistantConfig(AppConfig):
    name = "chatbot.assistant"
    verbose_name = "Assistant"
