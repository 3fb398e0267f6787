from django.apps import AppConfig


class KnowledgeConfig(AppConfig):
    name = "chatbot.knowledge"
    verbose_name = "Knowledge base"

    def ready(self):
        from . import signals  # noqa: F401
