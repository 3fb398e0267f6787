"""Prometheus metrics with prometheus-client: the web's chat counters, and the engine's gauges and
counters in whichever process holds the engine (a worker, or the embedded `serve`). REGISTRY is
prometheus-client's default one (process and Python metrics too) with the engine's added."""

from prometheus_client import REGISTRY, Counter, Gauge
from prometheus_client.parser import text_string_to_metric_families

from chatbot import engine

CHAT_CONNECTIONS = Counter(
    "parley_chat_connections", "Chat socket handshakes, by outcome.", ["outcome"]
)
CHAT_SOCKETS_OPEN = Gauge("parley_chat_sockets_open", "Chat sockets open in this process.")
SHOPPER_MESSAGES = Counter("parley_shopper_messages", "Shopper messages accepted.")
REPLIES_REFUSED = Counter(
    "parley_replies_refused", "Shopper messages refused before a reply, by reason.", ["reason"]
)


class EngineCollector:
    """The engine's own exposition (`metrics_text`), read at each scrape; nothing where this
    process has no engine (a web process of the production wiring)."""

    def collect(self):
        loaded = engine.loaded_engine()
        if loaded is not None:
            yield from text_string_to_metric_families(loaded.metrics_text())


REGISTRY.register(EngineCollector())
