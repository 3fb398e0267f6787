from django.apps import AppConfig


class StoresConfig(AppConfig):
    name = "chatbot.stores"
    verbose_name = "Stores"
