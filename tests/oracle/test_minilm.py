"""Our MiniLM encoder (chatbot/knowledge/minilm.py, what the product embeds with) against
sentence-transformers on the same checkpoint: same vectors for messy real messages, long ones
truncated alike, padding within a batch changing nothing."""

import numpy as np
import pytest
from sentence_transformers import SentenceTransformer

from chatbot.knowledge import embeddings

TEXTS = [
    "Do you ship to Canada, and how much does express shipping cost?",
    "wher is my ordr #10452",
    "¿Puedo devolver un artículo sin recibo?",
    "hi",
    "my boots fell apart after 3 weeks, this is ridiculous " * 40,  # past 256 tokens
    "",
]


@pytest.fixture(scope="module")
def reference():
    return SentenceTransformer(str(embeddings.model_dir()), device="cpu")


def test_vectors_match_sentence_transformers(reference):
    ours = embeddings.encode(TEXTS)
    theirs = reference.encode(TEXTS, normalize_embeddings=True, convert_to_numpy=True)
    assert ours.shape == theirs.shape == (len(TEXTS), embeddings.DIMENSIONS)
    np.testing.assert_allclose(ours, theirs, atol=2e-6)


def test_a_text_alone_and_in_a_padded_batch_gets_the_same_vector():
    alone = embeddings.encode([TEXTS[1]])[0]
    batched = embeddings.encode(TEXTS)[1]
    np.testing.assert_allclose(alone, batched, atol=1e-6)
    assert abs(float(np.linalg.norm(alone)) - 1.0) < 1e-5
