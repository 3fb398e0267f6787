"""Rate limits per API key (the key's own rate, else API_RATE_LIMIT), counted in the default cache
(Redis when REDIS_URL is set, so every web process shares the count). Over the limit: 429 with
Retry-After."""

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from .models import ApiKey


class ApiKeyRateThrottle(SimpleRateThrottle):
    scope = "api_key"

    def get_rate(self):
        return settings.API_RATE_LIMIT

    def allow_request(self, request, view):
        if isinstance(request.auth, ApiKey):
            self.rate = request.auth.rate_limit or settings.API_RATE_LIMIT
            self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request, view):
        if not isinstance(request.auth, ApiKey):
            return None
        return f"throttle_api_key_{request.auth.key_id}"
