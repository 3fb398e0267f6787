from django.apps import AppConfig


class EmbeddedConfig(AppConfig):
    name = "chatbot.embedded"
    verbose_name = "Embedded server"
