from channels.auth import AuthMiddlewareStack
from channels.security.websocket import AllowedHostsOriginValidator
from django.urls import path

from .consumers import StaffConsumer

websocket_urlpatterns = [
    path(
        "ws/v1/staff/",
        AllowedHostsOriginValidator(AuthMiddlewareStack(StaffConsumer.as_asgi())),
    )
]
