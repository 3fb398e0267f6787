"""A real local HTTP order-status service for the evaluation: it answers the order-status contract
of chatbot.integrations.orders from orders set per scenario, behind a bearer token, on loopback."""

import json
import secrets
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class OrderEndpoint:
    """`GET /orders?order=<number>&customer=<id>` with `Authorization: Bearer <token>`."""

    def __init__(self):
        self.token = secrets.token_urlsafe(16)
        self._orders: dict[str, dict] = {}
        self._customer = ""
        self._lock = threading.Lock()
        self.requests = 0
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                endpoint._answer(self)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/orders"

    def start(self) -> "OrderEndpoint":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def serve(self, customer: str, orders: dict[str, dict]) -> None:
        """From now on, `customer` owns exactly `orders` (number -> status fields)."""
        with self._lock:
            self._customer, self._orders = customer, dict(orders)

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        with self._lock:
            self.requests += 1
            customer, orders = self._customer, self._orders
        if handler.headers.get("Authorization") != f"Bearer {self.token}":
            return self._send(handler, 401, {"error": "unauthorized"})
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(handler.path).query)
        number = (query.get("order") or [""])[0]
        asker = (query.get("customer") or [""])[0]
        found = orders.get(number)
        if found is None:
            return self._send(handler, 404, {"error": "not found"})
        owner = customer if asker == customer else customer + "-other"
        self._send(handler, 200, {"order": number, "customer_id": owner, **found})

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)
