"""`manage.py serve`: the whole product in one process (what `make run` starts).

uvicorn serves the ASGI app (pages, admin, widget, WebSocket) while a Celery worker thread runs the
reply tasks against the engine loaded in this process. Without REDIS_URL the broker and the channel
layer are in-process, so nothing else needs to run.
"""

import asyncio

import uvicorn
from django.conf import settings
from django.core.management.base import BaseCommand

from chatbot.conversations import protocol, publish
from chatbot.embedded.worker import EmbeddedWorker
from chatbot.engine import get_engine
from chatbot.shop import demo


class Command(BaseCommand):
    help = "Serve the site and run the reply worker in this one process."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--concurrency", type=int, default=16, help="worker threads")

    def handle(self, *args, host, port, concurrency, **options):
        self.stdout.write(f"Loading {settings.ENGINE_MODEL} ...")
        engine = get_engine()
        self.stdout.write(f"Model {engine.model_name} ready (context {engine.max_context} tokens).")
        worker = EmbeddedWorker(concurrency)
        worker.start()
        config = uvicorn.Config(
            "chatbot.asgi:application",
            host=host,
            port=port,
            lifespan="off",
            log_level="warning",
            ws_max_size=protocol.MAX_FRAME_BYTES,
        )
        server = uvicorn.Server(config)
        try:
            asyncio.run(self._serve(server, f"http://{host}:{port}"))
        finally:
            worker.stop()

    async def _serve(self, server: uvicorn.Server, url: str):
        # Worker threads publish through this loop, where the in-process channel layer lives.
        publish.bind_loop(asyncio.get_running_loop())
        serving = asyncio.create_task(server.serve())
        while not server.started and not serving.done():
            await asyncio.sleep(0.05)
        if server.started:
            self._banner(url)
        await serving

    def _banner(self, url: str):
        login = demo.login_file()
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS(f"Parley is running: open {url}/"))
        self.stdout.write(f"  Staff admin: {url}/admin/")
        if login.exists():
            self.stdout.write(f"  Staff login: {login.read_text().strip()}")
        self.stdout.write("  Stop with Ctrl-C.")
        self.stdout.flush()
