"""Scopes: reading needs `read`, anything that changes data needs `write`."""

from rest_framework import permissions

from .models import ApiKey


class HasScope(permissions.BasePermission):
    """A view may name `required_scope`; otherwise safe methods need read and others write."""

    message = "This API key lacks the scope this request needs."

    def has_permission(self, request, view):
        api_key = request.auth
        if not isinstance(api_key, ApiKey):
            return False
        scope = getattr(view, "required_scope", None) or (
            ApiKey.Scope.READ if request.method in permissions.SAFE_METHODS else ApiKey.Scope.WRITE
        )
        return scope in api_key.scopes
