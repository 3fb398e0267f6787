from django.apps import AppConfig


class ShopConfig(AppConfig):
    name = "chatbot.shop"
    verbose_name = "Demo shop"
