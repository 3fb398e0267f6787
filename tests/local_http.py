"""A real HTTP server on 127.0.0.1 in a thread, answering from a script and recording requests:
the receiving end of webhooks and a store's order-status endpoint in tests."""

import http.server
import json
import threading
import time
import urllib.parse
from dataclasses import dataclass, field


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: str
    at: float = field(default_factory=time.time)


class LocalServer:
    """`respond(request) -> (status, body dict|str, delay seconds)` decides each answer."""

    def __init__(self, respond):
        self.respond = respond
        self.received: list[Received] = []
        self.arrived = threading.Condition()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self._answer()

            def do_POST(self):
                self._answer()

            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                url = urllib.parse.urlsplit(self.path)
                request = Received(
                    self.command,
                    url.path,
                    dict(urllib.parse.parse_qsl(url.query)),
                    dict(self.headers.items()),
                    self.rfile.read(length).decode(),
                )
                status, body, delay = server.respond(request)
                with server.arrived:
                    server.received.append(request)
                    server.arrived.notify_all()
                if delay:
                    time.sleep(delay)
                payload = (body if isinstance(body, str) else json.dumps(body)).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (a timeout test)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()

    def wait_for(self, count: int, timeout: float) -> list[Received]:
        """Block until `count` requests have arrived; returns them."""
        with self.arrived:
            if not self.arrived.wait_for(lambda: len(self.received) >= count, timeout):
                raise TimeoutError(f"{len(self.received)} of {count} requests arrived")
            return list(self.received)
