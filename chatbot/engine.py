"""The process's one engine, loaded on first use (worker start) and shared by all worker threads."""

import threading

from django.conf import settings

_lock = threading.Lock()
_engine = None


def engine_options() -> dict:
    """`inference.load` options from the settings."""
    return {
        "device": settings.ENGINE_DEVICE,
        "kv_cache_bytes": settings.ENGINE_KV_CACHE_MB * 2**20,
        "max_num_seqs": settings.ENGINE_MAX_NUM_SEQS,
    }


def cache_salt(store_id: int) -> str:
    """The engine's prefix-cache salt for a store's requests: one store's prompts never reuse
    another's cached blocks, so time to first token reveals nothing across stores."""
    return f"store-{store_id}"


def loaded_engine():
    """The engine if this process has loaded one, else None (never loads it: for metrics)."""
    return _engine


def get_engine():
    """Return the started engine for settings.ENGINE_MODEL on settings.ENGINE_DEVICE, loading it
    once per process."""
    global _engine
    with _lock:
        if _engine is None:
            import inference

            engine = inference.load(settings.ENGINE_MODEL, **engine_options())
            engine.start()
            _engine = engine
    return _engine
