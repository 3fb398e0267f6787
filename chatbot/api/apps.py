from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "chatbot.api"
    verbose_name = "Integration API"

    def ready(self):
        from . import schema  # noqa: F401  (registers the API key scheme with the schema)
