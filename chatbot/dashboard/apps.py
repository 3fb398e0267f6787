from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "chatbot.dashboard"
    verbose_name = "Staff dashboard"

    def ready(self):
        from . import live

        live.connect_signals()
