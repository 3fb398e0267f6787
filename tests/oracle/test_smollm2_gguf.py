"""The real default model (SmolLM2-135M-Instruct Q4_1 GGUF) against ``transformers`` loading the
same file: greedy continuation, logits, tokenizer, chat template; and the engine's prefix cache
across the turns of a real conversation."""

import functools
import os

import pytest
import torch
from tiny_models import SMOLLM2_GGUF

import inference
from inference.context import ForwardContext
from inference.engine.sequence import Sequence
from inference.sampling import SamplingParams

pytestmark = pytest.mark.slow

CHAT = [
    {"role": "system", "content": "You are a helpful shop assistant."},
    {"role": "user", "content": "What is the capital of France? Answer in one sentence."},
]


@pytest.fixture(scope="module")
def engine():
    engine = inference.load("smollm2-135m-instruct", autostart=False)
    yield engine
    engine.shutdown()


@pytest.fixture(scope="module")
def exact_engine():
    """Quantized weights against float32 activations: within float32 rounding of transformers."""
    return inference.load(
        "smollm2-135m-instruct", autostart=False, exact=True, kv_cache_bytes=2**26
    )


@pytest.fixture(scope="module")
def hf():
    os.environ["HF_HUB_OFFLINE"] = "1"
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
    from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint

    folder, name = os.path.split(SMOLLM2_GGUF)
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(folder, gguf_file=name))
    model.load_state_dict(
        load_gguf_checkpoint(SMOLLM2_GGUF, return_tensors=True, model_to_load=model)["tensors"],
        strict=False,
    )
    return model.eval(), tokenizer


def _run(engine, prompt_ids, params):
    stream = engine.submit_tokens(prompt_ids, params)
    while engine.step():
        pass
    text = "".join(stream)
    return text, stream


def test_resident_weights_stay_under_120_mb(engine):
    assert engine.model.weight_nbytes() < 120e6


@functools.cache
def _oracle_greedy(model, ids: tuple[int, ...], n: int) -> list[int]:
    """Greedy decoding through the model's full forward pass, one token at a time. (Its
    ``generate`` is no oracle here: with end-of-sequence disabled it picked other tokens than its
    own forward pass ranks first.)"""
    seq = list(ids)
    with torch.no_grad():
        for _ in range(n):
            seq.append(int(model(torch.tensor([seq])).logits[0, -1].argmax()))
    return seq[len(ids) :]


PROMPTS = [
    "What is the capital of France? Answer in one sentence.",
    "Give me three tips for returning a pair of shoes.",
    "Explain what a refund is to a child.",
]


@pytest.mark.parametrize("exact", [False, True])
@pytest.mark.parametrize("prompt", PROMPTS)
def test_greedy_continuation_matches_transformers(engine, exact_engine, hf, exact, prompt):
    model, tokenizer = hf
    messages = [CHAT[0], {"role": "user", "content": prompt}]
    ours = exact_engine if exact else engine
    ids = ours.tokenizer.encode_chat(messages)
    assert ids == tokenizer.apply_chat_template(messages, add_generation_prompt=True)["input_ids"]
    _, stream = _run(ours, ids, SamplingParams(max_tokens=32, ignore_eos=True))
    assert stream.token_ids == _oracle_greedy(model, tuple(ids), 32)


def _prompt_logits(engine, ids: list[int]) -> torch.Tensor:
    """Every prompt position's next-token logits, from one prefill into fresh cache blocks."""
    seq = Sequence("logits", ids, SamplingParams())
    assert engine.blocks.allocate(seq)
    n, bs = len(ids), engine.config.block_size
    ctx = ForwardContext(
        positions=torch.arange(n),
        slot_mapping=torch.tensor([seq.block_table[p // bs] * bs + p % bs for p in range(n)]),
        block_tables=torch.tensor([seq.block_table], dtype=torch.int32),
        token_seq=torch.zeros(n, dtype=torch.int32),
        token_ctx=torch.arange(1, n + 1, dtype=torch.int32),
        logits_indices=torch.arange(n),
    )
    try:
        return engine.model(torch.tensor(ids), ctx)
    finally:
        engine.blocks.release(seq)


@pytest.mark.parametrize("exact,atol", [(True, 1e-3), (False, 0.1)])
def test_prompt_logits_match_transformers(engine, exact_engine, hf, exact, atol):
    model, _ = hf
    ours = exact_engine if exact else engine
    ids = ours.tokenizer.encode_chat(CHAT) + ours.tokenizer.encode(TEXTS[0] + TEXTS[1] + TEXTS[4])
    with torch.no_grad():
        ref = model(torch.tensor([ids])).logits[0]
    logits = _prompt_logits(ours, ids)
    torch.testing.assert_close(logits, ref, rtol=0, atol=atol)
    assert torch.equal(logits.argmax(-1), ref.argmax(-1))


TEXTS = [
    "Hello world! How are you doing today?",
    "Order #12345 ships on 2024-05-17 for $1,299.99.",
    "  leading spaces,\ttabs\nand\n\nnewlines  ",
    "Ünïcödé: café, naïve, 東京, Привет, 😀👍🏽",
    "def f(x):\n    return x ** 2  # square",
    "<|im_start|>user\nhi<|im_end|>",
]


@pytest.mark.parametrize("text", TEXTS)
def test_tokenizer_matches_transformers_and_round_trips(engine, hf, text):
    _, tokenizer = hf
    ids = engine.tokenizer.encode(text)
    assert ids == tokenizer.encode(text, add_special_tokens=False)
    assert engine.tokenizer.decode(ids, skip_special_tokens=False) == text


@pytest.mark.parametrize(
    "messages",
    [
        CHAT,
        CHAT[1:],
        [
            *CHAT,
            {"role": "assistant", "content": "Paris."},
            {"role": "user", "content": "And Spain?"},
        ],
    ],
)
@pytest.mark.parametrize("add_generation_prompt", [True, False])
def test_chat_template_matches_transformers(engine, hf, messages, add_generation_prompt):
    _, tokenizer = hf
    expected = tokenizer.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=add_generation_prompt
    )
    assert engine.tokenizer.render_chat(messages, add_generation_prompt) == expected


def test_second_turn_hits_the_cache_for_the_whole_first_turn(engine):
    first = [{"role": "user", "content": "Name three colours."}]
    text, stream = _run(engine, engine.tokenizer.encode_chat(first), SamplingParams(max_tokens=200))
    assert stream.usage.finish_reason == "stop"
    second = [
        *first,
        {"role": "assistant", "content": text},
        {"role": "user", "content": "And three fruits?"},
    ]
    first_turn = len(engine.tokenizer.encode_chat(first)) + len(
        stream.token_ids
    )  # prompt, reply, <|im_end|>
    second_ids = engine.tokenizer.encode_chat(second)
    assert second_ids[:first_turn] == engine.tokenizer.encode_chat(first) + stream.token_ids
    _, again = _run(engine, second_ids, SamplingParams(max_tokens=8))
    # every full block of the first turn is reused; the reply's final token (<|im_end|>) was sampled
    # but never fed back, so the block it ends is the first one computed again
    assert again.usage.cached_prompt_tokens == (first_turn - 1) // 16 * 16
    assert again.usage.cached_prompt_tokens >= first_turn - 16


def test_stop_string_is_never_streamed(engine):
    ids = engine.tokenizer.encode_chat(CHAT[1:])
    full, _ = _run(engine, ids, SamplingParams(max_tokens=32))
    assert "Paris" in full
    text, stream = _run(engine, ids, SamplingParams(max_tokens=32, stop=["Paris"]))
    assert stream.usage.finish_reason == "stop"
    assert text == full[: full.index("Paris")]


def test_sampling_with_a_seed_is_reproducible(engine):
    ids = engine.tokenizer.encode_chat([{"role": "user", "content": "Tell me a story."}])
    params = dict(
        max_tokens=24, temperature=0.9, top_k=40, top_p=0.9, repetition_penalty=1.1, seed=7
    )
    a, _ = _run(engine, ids, SamplingParams(**params))
    b, _ = _run(engine, ids, SamplingParams(**params))
    c, _ = _run(engine, ids, SamplingParams(**{**params, "seed": 8}))
    assert a == b and a != c
