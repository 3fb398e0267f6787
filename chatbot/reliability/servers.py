"""The production processes a load test runs against: uvicorn serving the ASGI app and a Celery
worker with the engine, each in its own process group on loopback, logged to a file, always stopped."""

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from django.conf import settings

from chatbot.conversations.protocol import MAX_FRAME_BYTES

_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))
ERROR_RECORD = re.compile(r"^(ERROR|CRITICAL):|: (ERROR|CRITICAL)/")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Child:
    """One child process; its output goes to `log_dir/<name>.log`."""

    def __init__(self, name: str, args: list[str], env: dict, log_dir: Path):
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "wb")  # closed in stop()
        self.proc = subprocess.Popen(  # noqa: S603 (our own interpreter and modules)
            args,
            cwd=settings.BASE_DIR,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]

    def errors_logged(self) -> int:
        """Records logged at ERROR or worse (uvicorn's `ERROR:`, Celery's `ERROR/`)."""
        lines = self.log_path.read_text(errors="replace").splitlines()
        return sum(1 for line in lines if ERROR_RECORD.search(line))

    def wait_until(self, ready, what: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited before {what}:\n{self.tail()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name}: no {what} after {timeout:g} s:\n{self.tail()}")
            time.sleep(0.2)

    def stop(self, timeout: float = 20) -> None:
        """SIGTERM the process group, SIGKILL whatever is left after `timeout`."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self._log.close()


def child_env(reply_max_tokens: int) -> dict:
    env = dict(os.environ, PYTHONUNBUFFERED="1", HF_HUB_OFFLINE="1")
    env["REPLY_MAX_TOKENS"] = str(reply_max_tokens)
    env["CHAT_MESSAGES_PER_MINUTE_PER_ADDRESS"] = "0"  # all its shoppers share 127.0.0.1
    env["CHAT_CONNECTS_PER_MINUTE_PER_ADDRESS"] = "0"
    env["CHAT_DAILY_REPLIES_PER_STORE"] = "0"
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    return env


def start_server(port: int, env: dict, log_dir: Path) -> Child:
    server = Child(
        "uvicorn",
        [
            sys.executable, "-m", "uvicorn", "chatbot.asgi:application",
            "--host", "127.0.0.1", "--port", str(port), "--lifespan", "off",
            "--log-level", "warning", "--ws-max-size", str(MAX_FRAME_BYTES),
        ],
        env,
        log_dir,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/static/parley/widget.js"
    server.wait_until(lambda: _answers(url), f"HTTP on port {port}", 120)
    return server


def start_worker(concurrency: int, env: dict, log_dir: Path) -> Child:
    worker = Child(
        "worker",
        [
            sys.executable, "-m", "celery", "-A", "chatbot", "worker", "-Q", "gpu",
            "-P", "threads", "--concurrency", str(concurrency), "--loglevel", "INFO",
            "--without-heartbeat", "--without-mingle", "--without-gossip",
        ],
        env,
        log_dir,
    )  # fmt: skip
    worker.wait_until(lambda: " ready." in worker.tail(), "worker ready (model loaded)", 600)
    return worker


def _answers(url: str) -> bool:
    try:
        with _NO_PROXY.open(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False
