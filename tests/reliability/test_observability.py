"""Operators' probes: /metrics (the web's counters, and the engine's where this process has one)
behind a token or an allow-list, the same on a worker's own metrics server, and /healthz, which
checks the database, the broker and that a worker answers."""

import urllib.error
import urllib.request

import pytest
from django.test import Client
from processes import NO_PROXY
from tiny_models import tiny_engine

from chatbot import engine as engine_module
from chatbot.celery import app
from chatbot.observability import worker_server
from inference.sampling import SamplingParams

TOKEN = "scrape-token-for-tests"


@pytest.fixture
def token(settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_NETWORKS = []


def test_metrics_are_closed_unless_a_token_or_network_is_configured(settings):
    settings.METRICS_TOKEN, settings.METRICS_ALLOWED_NETWORKS = "", []
    assert Client().get("/metrics").status_code == 403
    assert Client(HTTP_AUTHORIZATION="Bearer ").get("/metrics").status_code == 403


def test_metrics_answer_the_token(token):
    answer = Client(HTTP_AUTHORIZATION=f"Bearer {TOKEN}").get("/metrics")
    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("text/plain; version=")
    text = answer.content.decode()
    assert "# TYPE parley_chat_connections_total counter" in text
    assert "process_cpu_seconds_total" in text or "python_gc_objects_collected_total" in text
    assert Client(HTTP_AUTHORIZATION="Bearer wrong").get("/metrics").status_code == 403


def test_metrics_answer_an_allowed_network(settings):
    settings.METRICS_TOKEN, settings.METRICS_ALLOWED_NETWORKS = "", ["10.0.0.0/8", "::1/128"]
    assert Client(REMOTE_ADDR="10.1.2.3").get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="::1").get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="203.0.113.5").get("/metrics").status_code == 403


@pytest.fixture
def loaded_engine(monkeypatch):
    """A real (tiny, random) engine as this process's loaded engine, after one request."""
    engine = tiny_engine()
    engine.autostart = True
    stream = engine.submit_tokens([5, 6, 7, 8], SamplingParams(max_tokens=5, ignore_eos=True))
    "".join(stream)
    monkeypatch.setattr(engine_module, "_engine", engine)
    yield engine
    engine.shutdown()


def value(text: str, sample: str) -> float:
    [line] = [line for line in text.splitlines() if line.startswith(sample + " ")]
    return float(line.rsplit(" ", 1)[1])


def test_the_engines_counters_are_served_where_it_is_loaded(token, loaded_engine):
    text = Client(HTTP_AUTHORIZATION=f"Bearer {TOKEN}").get("/metrics").content.decode()
    assert value(text, 'parley_engine_generation_tokens_total{model="tiny"}') == 5
    assert value(text, 'parley_engine_prompt_tokens_total{model="tiny"}') == 4
    assert value(text, 'parley_engine_requests_finished_total{model="tiny"}') == 1


def fetch(url: str, token: str | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with NO_PROXY.open(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, ""


def test_a_workers_metrics_server_serves_its_engine_behind_the_token(token, loaded_engine):
    server = worker_server.serve("127.0.0.1", 0)
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        status, text = fetch(f"{url}/metrics", TOKEN)
        assert status == 200
        assert value(text, 'parley_engine_generation_tokens_total{model="tiny"}') == 5
        assert fetch(f"{url}/metrics")[0] == 403
        assert fetch(f"{url}/metrics", "wrong")[0] == 403
        assert fetch(f"{url}/other", TOKEN)[0] == 404
    finally:
        server.shutdown()
        server.server_close()


def test_healthz_is_ok_with_a_live_worker(webhook_worker):
    answer = Client().get("/healthz")
    assert answer.status_code == 200
    assert answer.json() == {"database": "ok", "broker": "ok", "worker": "ok"}


def test_healthz_fails_without_a_worker(transactional_db, settings):
    settings.HEALTHZ_TIMEOUT_SECONDS = 0.5
    answer = Client().get("/healthz")
    assert answer.status_code == 503
    assert answer.json() == {"database": "ok", "broker": "ok", "worker": "failing"}


def test_healthz_fails_without_the_broker(transactional_db, settings, monkeypatch):
    settings.HEALTHZ_TIMEOUT_SECONDS = 0.5
    monkeypatch.setattr(app.conf, "broker_url", "redis://127.0.0.1:9/0")  # nothing listens there
    answer = Client().get("/healthz")
    assert answer.status_code == 503
    assert answer.json()["broker"] == "failing"
    assert answer.json()["database"] == "ok"
