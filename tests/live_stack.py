"""The product running for real in child processes, against the test database.

With a test Redis (REDIS_URL set): the production wiring, uvicorn serving the ASGI app plus a
`celery -A chatbot worker -Q gpu -P threads` process with the real engine on the default model.
Without: the embedded `manage.py serve` (what `make run` starts). Either way the children use
pytest-django's test database, so tests create stores with `transactional_db` (committed data).
The fixtures built on this (database_url, live_stack, live_store) are in tests/conftest.py.
"""

import os
import signal
import urllib.parse

from processes import PYTHON, Process, free_port

from chatbot.conversations.protocol import MAX_FRAME_BYTES

# Short replies keep the suite fast. A short lease and visibility timeout make the killed-worker
# test take under a minute instead of ten; the timeout still leaves a slow first reply (models
# loading on a busy CI machine) time to finish before Redis would hand its task out again.
REPLY_ENV = {
    "REPLY_MAX_TOKENS": "24",
    "REPLY_TEMPERATURE": "0",
    "REPLY_LEASE_SECONDS": "15",
    "CELERY_VISIBILITY_TIMEOUT": "40",
}
MODEL_LOAD_TIMEOUT = 600


def database_url_of(db: dict) -> str:
    """A Django database settings dict as a DATABASE_URL for child processes."""
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    user = urllib.parse.quote(db["USER"] or "")
    password = urllib.parse.quote(db["PASSWORD"] or "")
    auth = f"{user}:{password}@" if password else f"{user}@" if user else ""
    return f"postgres://{auth}{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def child_env(database_url: str, redis_url: str) -> dict:
    env = dict(os.environ, DATABASE_URL=database_url, PYTHONUNBUFFERED="1", HF_HUB_OFFLINE="1")
    # every test shopper comes from 127.0.0.1: no per-address message budget across tests
    env["CHAT_MESSAGES_PER_MINUTE_PER_ADDRESS"] = "0"
    env["CHAT_CONNECTS_PER_MINUTE_PER_ADDRESS"] = "0"
    env["CHAT_DAILY_REPLIES_PER_STORE"] = "0"
    env.update(REPLY_ENV)
    env.pop("REDIS_URL", None)
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


class Stack:
    """Where the running product answers, and its processes: a web process (uvicorn, or the
    embedded `serve` with its worker inside) and, in the production wiring, a Celery worker."""

    def __init__(self, env: dict, log_dir, embedded: bool):
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.origin = self.base_url
        self.env = env
        self.log_dir = log_dir
        self.embedded = embedded
        self.processes: list[Process] = []
        self.web: Process | None = None
        self.worker: Process | None = None

    def ws_url(self, key: str, shopper: str, conversation: int | None = None) -> str:
        url = f"ws://127.0.0.1:{self.port}/ws/v1/chat/?key={key}&shopper={shopper}"
        return url if conversation is None else f"{url}&conversation={conversation}"

    def _start(self, name: str, args: list[str]) -> Process:
        process = Process(name, args, self.env, self.log_dir)
        self.processes.append(process)
        return process

    def start_web(self) -> Process:
        if self.embedded:
            args = [PYTHON, "manage.py", "serve", "--port", str(self.port), "--concurrency", "8"]
        else:
            args = [
                PYTHON, "-m", "uvicorn", "chatbot.asgi:application", "--host", "127.0.0.1",
                "--port", str(self.port), "--lifespan", "off", "--log-level", "warning",
                "--ws-max-size", str(MAX_FRAME_BYTES),
            ]  # fmt: skip
        self.web = self._start("serve" if self.embedded else "uvicorn", args)
        self.web.wait_for_http(f"{self.base_url}/static/parley/widget.js", MODEL_LOAD_TIMEOUT)
        return self.web

    def stop_web(self) -> None:
        self.web.stop()

    def start_worker(self) -> Process:
        self.worker = self._start(
            "worker",
            [
                PYTHON, "-m", "celery", "-A", "chatbot", "worker", "-Q", "gpu", "-P", "threads",
                "--concurrency", "8", "--loglevel", "INFO",
                "--without-heartbeat", "--without-mingle", "--without-gossip",
            ],
        )  # fmt: skip
        self.worker.wait_for_log(" ready.", MODEL_LOAD_TIMEOUT)
        return self.worker

    def kill_worker(self) -> None:
        """SIGKILL: no shutdown, no acknowledgements, exactly like a crashed host."""
        self.worker.stop(signal.SIGKILL)

    def stop(self) -> None:
        for process in self.processes:
            process.send_signal()  # all at once: shutdowns overlap
        for process in self.processes:
            process.stop()


def start_stack(database_url: str, redis_url: str, log_dir) -> Stack:
    """The production wiring with a Redis URL, else the embedded server."""
    if redis_url:  # replies that in-process tests left queued are not this worker's to answer
        import redis

        redis.Redis.from_url(redis_url).delete("gpu")
    stack = Stack(child_env(database_url, redis_url), log_dir, embedded=not redis_url)
    try:
        if not stack.embedded:
            stack.start_worker()
        stack.start_web()
    except BaseException:
        stack.stop()
        raise
    return stack
