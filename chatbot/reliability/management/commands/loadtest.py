"""`manage.py loadtest --shoppers 200 --active 32 --duration 60 [--json]`: many shoppers on the chat
through the production wiring, and what they got: messages sent, replies, lost messages, errors and
time to first token.

By default it starts uvicorn on a free loopback port and a Celery worker with the default model
(PostgreSQL and Redis come from DATABASE_URL and REDIS_URL); --server and --external-worker use
running ones instead. It talks to loopback addresses only, is bounded in shoppers and seconds, and
removes its store (and so every conversation it made) at the end.
"""

import asyncio
import ipaddress
import json
import tempfile
import urllib.parse
import uuid
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from chatbot.reliability import figures, servers, shoppers
from chatbot.stores.models import Store

MAX_SHOPPERS = 2000
MAX_DURATION = 600
MAX_GRACE = 300
PERSONA = "You are the assistant of a small rain-gear shop. Answer in one short sentence."


def _loopback(url: str) -> str:
    """The origin of `url` if it is an http(s) URL on a loopback address, else CommandError."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    try:
        local = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        local = False
    if parts.scheme not in ("http", "https") or not local:
        raise CommandError(f"--server must be http(s) on a loopback address, not {url!r}")
    return f"{parts.scheme}://{parts.netloc}"


def _bounded(name: str, value, low, high):
    if not low <= value <= high:
        raise CommandError(f"--{name} must be between {low} and {high}")
    return value


class Command(BaseCommand):
    help = "Load-test the chat: N connected shoppers, M of them chatting, for S seconds."

    def add_arguments(self, parser):
        parser.add_argument("--shoppers", type=int, default=200, help="sockets connected")
        parser.add_argument("--active", type=int, default=32, help="of them, chatting")
        parser.add_argument("--duration", type=float, default=60.0, help="seconds of chatting")
        parser.add_argument(
            "--grace", type=float, default=120.0, help="seconds to wait for replies after that"
        )
        parser.add_argument(
            "--think", type=float, default=1.0, help="mean seconds between a reply and the next"
        )
        parser.add_argument(
            "--max-tokens", type=int, default=32, help="reply length for the started worker"
        )
        parser.add_argument(
            "--concurrency", type=int, default=None, help="worker threads (default: --active)"
        )
        parser.add_argument("--server", help="use this running server (loopback http URL)")
        parser.add_argument(
            "--external-worker", action="store_true", help="use running workers, start none"
        )
        parser.add_argument("--json", action="store_true", help="print one JSON line")

    def handle(self, *args, **options):
        n = _bounded("shoppers", options["shoppers"], 1, MAX_SHOPPERS)
        active = _bounded("active", options["active"], 0, n)
        duration = _bounded("duration", options["duration"], 1, MAX_DURATION)
        grace = _bounded("grace", options["grace"], 0, MAX_GRACE)
        think = _bounded("think", options["think"], 0, 60)
        max_tokens = _bounded("max-tokens", options["max_tokens"], 1, 4096)
        concurrency = _bounded("concurrency", options["concurrency"] or max(active, 1), 1, 256)
        if not settings.REDIS_URL or settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
            raise CommandError(
                "the load test needs the production wiring: DATABASE_URL (PostgreSQL) and REDIS_URL"
            )
        origin = _loopback(options["server"]) if options["server"] else None
        say = self.stderr.write  # progress; stdout holds only the figures

        started: list[servers.Child] = []
        env = servers.child_env(max_tokens)
        if origin is None or not options["external_worker"]:
            log_dir = Path(tempfile.mkdtemp(prefix="parley-loadtest-"))
            say(f"Logs of the processes it starts: {log_dir}")
        try:
            if origin is None:
                port = servers.free_port()
                say(f"Starting uvicorn on 127.0.0.1:{port} ...")
                started.append(servers.start_server(port, env, log_dir))
                origin = f"http://127.0.0.1:{port}"
            if not options["external_worker"]:
                say(f"Starting a worker ({concurrency} threads) and loading the model ...")
                started.append(servers.start_worker(concurrency, env, log_dir))
            result = self._run(origin, n, active, duration, grace, think, say)
        finally:
            for child in reversed(started):
                child.stop()
        result = result.with_server_errors({child.name: child.errors_logged() for child in started})
        if options["json"]:
            keys = ("sent", "replies_received", "handed_over", "lost_messages", "errors")
            keys += ("ttft_p50_ms", "ttft_p95_ms", "shoppers", "active", "connected", "duration_s")
            keys += ("connect_s", "error_kinds")
            self.stdout.write(json.dumps({key: result.as_dict()[key] for key in keys}))
        else:
            for key, value in result.as_dict().items():
                self.stdout.write(f"{key:>18}: {value}")

    def _run(self, origin, n, active, duration, grace, think, say) -> figures.Figures:
        store = Store.objects.create(
            name="Load test",
            slug=f"loadtest-{uuid.uuid4().hex[:12]}",
            allowed_origins=[origin],
            system_prompt=PERSONA,
        )
        try:
            ws = origin.replace("http", "ws", 1)
            plan = shoppers.Plan(
                url=f"{ws}/ws/v1/chat/?key={store.widget_key}",
                origin=origin,
                shoppers=n,
                active=active,
                duration=duration,
                grace=grace,
                think=think,
            )
            tally = shoppers.Tally()
            say(f"Connecting {n} shoppers; {active} chat for {duration:g} s ...")
            connect_s = asyncio.run(shoppers.run(plan, tally))
            return figures.summarize(
                tally, shoppers=n, active=active, duration=duration, connect_s=connect_s
            )
        finally:
            store.delete()
