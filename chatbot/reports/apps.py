from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "chatbot.reports"
    verbose_name = "Reports"
