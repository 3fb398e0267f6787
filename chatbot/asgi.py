"""ASGI entry point (uvicorn chatbot.asgi:application): HTTP pages and the chat WebSocket."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatbot.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from chatbot.conversations.routing import websocket_urlpatterns  # noqa: E402
from chatbot.dashboard.routing import websocket_urlpatterns as staff_sockets  # noqa: E402

application = ProtocolTypeRouter(
    {
        # Static files (the widget script too) are served by WhiteNoise's middleware, so one
        # process is a whole install.
        "http": django_asgi_app,
        "websocket": URLRouter(websocket_urlpatterns + staff_sockets),
    }
)
