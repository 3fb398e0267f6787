"""GET /metrics (scrapers: see access.py) and GET /healthz (load balancers, orchestrators)."""

from django.http import HttpResponse, HttpResponseForbidden, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from . import access, health
from .metrics import REGISTRY


@require_GET
@never_cache
def metrics(request):
    if not access.allowed(
        request.META.get("REMOTE_ADDR", ""), request.headers.get("Authorization", "")
    ):
        return HttpResponseForbidden("Forbidden\n", content_type="text/plain")
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)


@require_GET
@never_cache
def healthz(request):
    outcomes = health.report()
    healthy = all(outcome == "ok" for outcome in outcomes.values())
    return JsonResponse(outcomes, status=200 if healthy else 503)
