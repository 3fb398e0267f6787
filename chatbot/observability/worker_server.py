"""A worker's /metrics: a small HTTP server on a thread of the worker process (WORKER_METRICS_PORT),
serving prometheus-client's exposition behind the same access rule as the web's."""

import threading
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer

from . import access
from .metrics import REGISTRY


class _Quiet(WSGIRequestHandler):
    def log_message(self, format, *args):  # scrapes every few seconds: no access log
        pass


def serve(host: str, port: int, registry=REGISTRY) -> ThreadingWSGIServer:
    """Start serving on (host, port) in a daemon thread; returns the server (port 0: any free)."""
    exposition = make_wsgi_app(registry)

    def guarded(environ, start_response):
        if environ.get("PATH_INFO") != "/metrics":
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"Not found\n"]
        if not access.allowed(
            environ.get("REMOTE_ADDR", ""), environ.get("HTTP_AUTHORIZATION", "")
        ):
            start_response("403 Forbidden", [("Content-Type", "text/plain")])
            return [b"Forbidden\n"]
        return exposition(environ, start_response)

    server = make_server(host, port, guarded, ThreadingWSGIServer, handler_class=_Quiet)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server
