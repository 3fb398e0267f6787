from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "chatbot.integrations"
    verbose_name = "Integrations"

    def ready(self):
        from . import signals  # noqa: F401  (connects the webhook event receivers)
