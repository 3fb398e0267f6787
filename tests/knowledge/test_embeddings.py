"""The sentence encoder's cache of recent vectors: the same vectors as encoding afresh, in the
order asked, and bounded."""

import numpy as np

from chatbot.knowledge import embeddings


def test_cached_vectors_are_those_of_a_fresh_encode(monkeypatch):
    texts = [
        "Returns are free within 30 days.",
        "We ship to Canada.",
        "Returns are free within 30 days.",
    ]
    monkeypatch.setattr(embeddings, "_cache", type(embeddings._cache)())
    first = embeddings.encode(texts)
    assert len(embeddings._cache) == 2
    again = embeddings.encode(texts[::-1])
    fresh = embeddings._get_model().encode(texts[:2]).numpy()
    assert np.allclose(first[0], first[2]) and np.allclose(again[::-1], first)
    assert np.allclose(first[:2], fresh, atol=1e-5)
    assert first.dtype == np.float32 and first.shape == (3, embeddings.DIMENSIONS)


def test_the_cache_keeps_only_the_most_recent_texts(monkeypatch):
    monkeypatch.setattr(embeddings, "_cache", type(embeddings._cache)())
    monkeypatch.setattr(embeddings, "CACHE_SIZE", 2)
    embeddings.encode(["one", "two"])
    embeddings.encode(["one", "three"])
    assert list(embeddings._cache) == ["one", "three"]
    assert embeddings.encode(["two"]).shape == (1, embeddings.DIMENSIONS)
