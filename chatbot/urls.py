"""Top-level URLs: the demo shop at /, the admin, and the probes (/metrics, /healthz)."""

from django.contrib import admin
from django.urls import include, path

from chatbot.observability import views as observability

urlpatterns = [
    path("metrics", observability.metrics, name="metrics"),
    path("healthz", observability.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("dashboard/", include("chatbot.dashboard.urls")),
    path("api/v1/", include("chatbot.api.urls")),
    path("v1/", include("chatbot.api.openai_urls")),
    path("", include("chatbot.shop.urls")),
]
