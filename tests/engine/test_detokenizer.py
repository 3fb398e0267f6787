"""Streaming text: deltas never split a UTF-8 character, and stop strings never leak, even in part."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tiny_models import SMOLLM2_GGUF, byte_tokenizer

from inference.detokenizer import IncrementalDetokenizer
from inference.gguf_loader import load_gguf_tokenizer


@pytest.fixture(scope="module")
def smollm_tokenizer():
    return load_gguf_tokenizer(SMOLLM2_GGUF)


def _stream(tokenizer, ids, stop=()):
    detok = IncrementalDetokenizer(tokenizer, stop)
    deltas = [detok.add(i) for i in ids]
    deltas.append(detok.flush())
    return [d for d in deltas if d], detok


MULTIBYTE = "Prix: 12€ — café crème, 東京タワー, emoji 🧑‍🍳👍🏽 ok"


def test_real_vocabulary_streams_whole_characters(smollm_tokenizer):
    ids = smollm_tokenizer.encode(MULTIBYTE)
    deltas, _ = _stream(smollm_tokenizer, ids)
    assert "".join(deltas) == MULTIBYTE
    assert all("\ufffd" not in d for d in deltas)
    assert len(deltas) > 10  # streamed, not released at the end


@settings(max_examples=200, deadline=None)
@given(text=st.text(min_size=1, max_size=40))
def test_one_token_per_byte_never_splits_a_character(text):
    tok = byte_tokenizer()
    ids = list(text.encode("utf-8"))  # the byte tokenizer's ids are the bytes
    deltas, _ = _stream(tok, ids)
    assert "".join(deltas) == text
    assert all(
        d.encode("utf-8").decode("utf-8") == d and "\ufffd" not in d
        for d in deltas
        if "\ufffd" not in text
    )


@settings(max_examples=200, deadline=None)
@given(
    before=st.text(alphabet="abc é", max_size=12),
    stop=st.text(alphabet="abc é", min_size=1, max_size=4),
    after=st.text(alphabet="abc é", max_size=12),
)
def test_stop_string_cuts_the_text_and_never_leaks(before, stop, after):
    tok = byte_tokenizer()
    text = before + stop + after
    deltas, detok = _stream(tok, list(text.encode("utf-8")), stop=[stop])
    out = "".join(deltas)
    assert detok.stopped
    assert out == text[: text.index(stop)]
    assert stop not in out


def test_text_held_back_for_a_possible_stop_is_released_when_it_is_not_one(smollm_tokenizer):
    ids = smollm_tokenizer.encode("The end is near. The endgame")
    deltas, detok = _stream(smollm_tokenizer, ids, stop=["The end."])
    assert "".join(deltas) == "The end is near. The endgame"
    assert not detok.stopped
