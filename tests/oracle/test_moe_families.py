"""Every MoE family against ``transformers``: a tiny random checkpoint is made with the reference
implementation, saved with ``save_pretrained``, loaded by our engine in float32, and compared on the
logits of a prompt and on 32 greedy tokens decoded through the paged KV cache."""

import re

import pytest
import torch
from hf_checkpoints import FAMILIES, make_checkpoint
from tiny_models import PROMPT, load_ours, our_greedy

import inference
from inference.formats.hf import load_hf
from inference.int4 import Int4Weight
from inference.layers.moe import SparseMoE
from inference.q8 import Q8Weight


@torch.inference_mode()
def reference_greedy(model, prompt: list[int], steps: int) -> tuple[torch.Tensor, list[int]]:
    ids = list(prompt)
    logits = model(torch.tensor([ids])).logits[0]
    ids.append(int(logits[-1].argmax()))
    while len(ids) < len(prompt) + steps:
        ids.append(int(model(torch.tensor([ids])).logits[0, -1].argmax()))
    return logits, ids[len(prompt) :]


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_family_matches_transformers(family, tmp_path):
    reference = make_checkpoint(family, tmp_path)
    ours = load_ours(tmp_path, quantize=None)
    our_logits, our_tokens = our_greedy(ours, PROMPT, 32)
    ref_logits, ref_tokens = reference_greedy(reference, PROMPT, 32)
    torch.testing.assert_close(our_logits, ref_logits, atol=1e-4, rtol=1e-4)
    assert our_tokens == ref_tokens
    assert len(set(ref_tokens)) > 1  # the comparison is not between two constant streams


def test_moe_layers_and_dense_layers_are_where_the_checkpoint_puts_them(tmp_path):
    make_checkpoint("deepseek_v3", tmp_path)
    model = load_ours(tmp_path, quantize=None)
    assert [isinstance(layer.mlp, SparseMoE) for layer in model.layers] == [False, True]
    moe = model.layers[1].mlp
    assert len(moe.experts) == 8 and moe.shared is not None and moe.router.bias is not None


def copy_into_reference(reference, weights: dict):
    """Our loaded weights (dequantized) into the reference model, whose experts are fused 3-D tensors."""
    tensors = reference.state_dict(keep_vars=True)
    with torch.no_grad():
        for name, w in weights.items():
            w = w.dequantize() if isinstance(w, Int4Weight | Q8Weight) else w
            m = re.fullmatch(r"(.*\.experts)\.(\d+)\.(gate|up|down)_proj\.weight", name)
            if m is None:
                tensors[name].copy_(w)
                continue
            experts, e, proj = reference.get_submodule(m.group(1)), int(m.group(2)), m.group(3)
            rows = w.shape[0]
            if proj == "down":
                experts.down_proj[e].copy_(w)
            else:
                experts.gate_up_proj[e, : rows if proj == "gate" else 2 * rows][-rows:].copy_(w)


@pytest.mark.parametrize("family", ["mixtral", "qwen3_moe", "deepseek_v3"])
def test_int4_load_equals_transformers_on_the_dequantized_weights(family, tmp_path):
    """Default on-load quantization (int4 experts and projections, int8 embeddings and head) changes
    the model only by what the dequantized weights say."""
    reference = make_checkpoint(family, tmp_path)
    _, weights, _ = load_hf(tmp_path)
    assert isinstance(weights["model.layers.1.mlp.experts.3.up_proj.weight"], Int4Weight)
    assert weights["model.layers.1.mlp.gate.weight"].dtype == torch.float32  # routers stay float
    copy_into_reference(reference, weights)
    ours = load_ours(tmp_path)
    our_logits, our_tokens = our_greedy(ours, PROMPT, 32)
    ref_logits, ref_tokens = reference_greedy(reference, PROMPT, 32)
    torch.testing.assert_close(our_logits, ref_logits, atol=1e-4, rtol=1e-4)
    assert our_tokens == ref_tokens
    assert ours.weight_nbytes() < load_ours(tmp_path, quantize=None).weight_nbytes() / 3


def test_engine_serves_moe_requests_batched(tmp_path):
    """``inference.load`` on a MoE directory (default int4): two requests decoded in the same steps,
    their tokens routed together, each getting what it gets alone."""
    make_checkpoint("mixtral", tmp_path)
    engine = inference.load(str(tmp_path), autostart=False, kv_cache_bytes=1 << 20)
    prompts = [PROMPT, [9, 8, 7, 6, 5]]
    params = inference.SamplingParams(max_tokens=16, ignore_eos=True)
    streams = [engine.submit_tokens(p, params) for p in prompts]
    while engine.step():
        pass
    alone = load_ours(tmp_path, exact=False)  # as inference.load builds it
    for prompt, stream in zip(prompts, streams, strict=True):
        text = "".join(stream)
        assert stream.usage.completion_tokens == 16
        assert text == engine.tokenizer.decode(our_greedy(alone, prompt, 16)[1])
