"""What on-load int4 quantization costs: the same model with float32 and with int4 weights, scored on
one text by perplexity, top-1 agreement of next-token predictions, and mean KL divergence.

The float reference is a Hugging Face checkpoint loaded with ``quantize=None``, or a GGUF file
dequantized to float32 (for a GGUF already stored in 4 bits that reference is itself on a 4-bit grid:
group 32 then re-finds the stored blocks almost exactly, so only other group sizes say much).

    python -m inference.formats.quant_quality --model smollm2-135m-instruct --group-size 128
"""

from __future__ import annotations

import argparse
import json
import math

import torch

from inference.config import EngineConfig
from inference.context import ForwardContext
from inference.engine.model_runner import ModelRunner
from inference.formats.hf import QuantizingConverter, load_hf
from inference.gguf_loader import load_gguf
from inference.int4 import Int4Weight
from inference.loader import build_model, resolve
from inference.models.moe import as_float

SAMPLE_TEXT = (
    "Thank you for contacting our store. Your order of two ceramic mugs and a linen tablecloth was "
    "shipped on Monday and should arrive within three to five business days. If anything is damaged "
    "in transit, reply to this message with a photo and we will send a replacement at no cost. You "
    "can return unused items within thirty days for a full refund; the return label is included in "
    "the parcel. Our support team is available from nine in the morning to six in the evening, "
    "Monday to Saturday. Many customers ask whether the mugs are dishwasher safe: they are, although "
    "hand washing keeps the glaze bright for longer. The tablecloth should be washed at forty degrees "
    "and ironed while slightly damp. We also offer gift wrapping for a small fee, and orders above "
    "fifty euros ship for free within the country. Thank you for shopping with us, and have a lovely day."
)


def prefill_logits(model, ids: list[int], block_size: int = 16) -> torch.Tensor:
    """Logits [len(ids), vocab] of one teacher-forced forward pass over ``ids`` (one sequence)."""
    mc = model.config
    blocks = len(ids) // block_size + 1
    per_block = 2 * len(model.attention_layers()) * block_size * mc.num_kv_heads * mc.head_dim * 4
    runner = ModelRunner(
        model, EngineConfig(block_size=block_size, kv_cache_bytes=per_block * max(blocks, 2))
    )
    pos = torch.arange(len(ids))
    ctx = ForwardContext(
        positions=pos,
        slot_mapping=pos.clone(),
        block_tables=torch.arange(runner.num_blocks, dtype=torch.int32).unsqueeze(0),
        token_seq=torch.zeros(len(ids), dtype=torch.int32),
        token_ctx=(pos + 1).to(torch.int32),
        logits_indices=pos.clone(),
    )
    with torch.inference_mode():
        return model(torch.tensor(ids, dtype=torch.int64), ctx)


def compare_logits(ref: torch.Tensor, test: torch.Tensor, ids: list[int]) -> dict:
    """Scores of next-token predictions at every position but the last."""
    targets = torch.tensor(ids[1:])
    ref_logp, test_logp = ref[:-1].log_softmax(-1), test[:-1].log_softmax(-1)
    rows = torch.arange(len(targets))
    nll_ref = -ref_logp[rows, targets].mean().item()
    nll_test = -test_logp[rows, targets].mean().item()
    kl = (ref_logp.exp() * (ref_logp - test_logp)).sum(-1).mean().item()
    return {
        "tokens": len(targets),
        "ppl_float": math.exp(nll_ref),
        "ppl_int4": math.exp(nll_test),
        "ppl_ratio": math.exp(nll_test - nll_ref),
        "top1_agreement": (ref[:-1].argmax(-1) == test[:-1].argmax(-1)).float().mean().item(),
        "mean_kl": kl,
    }


def measure(
    model: str,
    group_size: int = 32,
    text: str = SAMPLE_TEXT,
    max_tokens: int = 512,
    exact: bool = False,
) -> dict:
    """Float32 vs int4 (``group_size``) versions of one checkpoint (a name or a path) on ``text``.
    The int4 model runs as the engine serves it (int8 activations) unless ``exact``."""
    path = resolve(model)
    config, weights, tokenizer = (
        load_gguf(path) if path.endswith(".gguf") else load_hf(path, quantize=None)
    )
    float_weights = {name: as_float(w) for name, w in weights.items()}
    ids = tokenizer.encode(text)[:max_tokens]
    convert = QuantizingConverter("int4", group_size)
    int4_weights = {name: convert(name, w) for name, w in float_weights.items()}
    groups: dict[int, int] = {}
    for w in int4_weights.values():
        if isinstance(w, Int4Weight):
            groups[w.group_size] = groups.get(w.group_size, 0) + w.shape[0] * w.shape[1]
    positions = len(ids) + 1
    ref = prefill_logits(build_model(config, float_weights, positions), ids)
    test = prefill_logits(build_model(config, int4_weights, positions, exact=exact), ids)
    # a layer whose input width the group size does not divide falls back to groups of 32
    share = {str(g): n / sum(groups.values()) for g, n in sorted(groups.items())}
    return {
        "model": model,
        "group_size": group_size,
        "exact": exact,
        "int4_share_by_group": share,
        **compare_logits(ref, test, ids),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--group-size", type=int, default=32)
    parser.add_argument("--text-file")
    parser.add_argument(
        "--exact", action="store_true", help="float32 activations for the int4 model"
    )
    args = parser.parse_args(argv)
    text = open(args.text_file, encoding="utf-8").read() if args.text_file else SAMPLE_TEXT
    print(json.dumps(measure(args.model, args.group_size, text, exact=args.exact)))


if __name__ == "__main__":
    main()
