"""Top-level URLs: the demo shop at / and the admin."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("dashboard/", include("chatbot.dashboard.urls")),
    path("api/v1/", include("chatbot.api.urls")),
    path("v1/", include("chatbot.api.openai_urls")),
    path("", include("chatbot.shop.urls")),
]
