"""/api/v1/: the REST API, its OpenAPI schema and its docs (Swagger UI and Redoc, served from the
installed static files: no CDN)."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter()
router.register("conversations", views.ConversationViewSet, basename="conversation")
router.register("transcripts", views.TranscriptViewSet, basename="transcript")
router.register("articles", views.ArticleViewSet, basename="article")
router.register("metrics", views.MetricsViewSet, basename="metrics")
router.register("webhooks", views.WebhookViewSet, basename="webhook")

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("", include(router.urls)),
]
