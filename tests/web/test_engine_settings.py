"""The worker's engine is built from the settings (the real default model, loaded here)."""

import pytest

import inference
from chatbot.engine import engine_options


@pytest.mark.slow
def test_worker_engine_options_come_from_the_settings(settings):
    settings.ENGINE_KV_CACHE_MB = 24
    settings.ENGINE_MAX_NUM_SEQS = 5
    engine = inference.load(settings.ENGINE_MODEL, autostart=False, **engine_options())
    assert engine.config.max_num_seqs == 5 and engine.config.device == "cpu"
    assert 23 * 2**20 < engine.runner.kv_cache_bytes <= 24 * 2**20
    assert not engine.model.backend.triton
