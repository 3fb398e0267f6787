"""The product's processes never import `transformers` (nor sentence-transformers, which imports it):
recent transformers import the PyPI package ``kernels``, which our top-level ``kernels/`` shadows in
any process started from the checkout, and the web process, the worker and the management commands
all are. This fails if an import of either comes back anywhere on those paths."""

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

PROBE = """
import json, os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatbot.settings")
import django
django.setup()
from django.core.management import get_commands, load_command_class
import chatbot.asgi, chatbot.urls, chatbot.engine
from chatbot.celery import app
from chatbot.knowledge import embeddings
from chatbot.assistant import pipeline
import inference, inference.cli, inference.bench
vector = embeddings.encode(["Do you ship to Canada?"])[0]
for name, where in get_commands().items():
    if where.startswith("chatbot"):
        load_command_class(where, name)
import kernels
print(json.dumps({
    "loaded": sorted(m for m in sys.modules if m.split(".")[0] in ("transformers", "sentence_transformers")),
    "kernels": kernels.__file__,
    "norm": float((vector ** 2).sum()),
}))
"""


def test_web_worker_and_commands_import_no_transformers():
    env = {**os.environ, "PARLEY_DEV": "1"}
    done = subprocess.run(  # noqa: S603 - the running interpreter on a fixed probe
        [sys.executable, "-c", PROBE],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["loaded"] == []
    # From the checkout, `kernels` is ours (the GPU path's Triton kernels), whatever else is installed.
    assert Path(seen["kernels"]).resolve().parent == REPO / "kernels"
    assert abs(seen["norm"] - 1.0) < 1e-4
