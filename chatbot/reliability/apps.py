from django.apps import AppConfig


class ReliabilityConfig(AppConfig):
    name = "chatbot.reliability"
    verbose_name = "Reliability"
