"""The captured step: every decoder layer of a ``LlamaForCausalLM`` in one C call
(``decoder_step`` of csrc/decoder.c) instead of ~9 kernel calls per layer from Python.

It calls the same kernels in the same order, so the logits are the same bits as the per-layer
path; at batch 1 the Python, ctypes and allocations between the kernels were ~20 % of a step.
It covers what that C function knows: the native C kernels with int8 activations, plain
``DecoderLayer``s with a ``GatedMLP`` and no q/k norms, each linear a single int4, int8 or
float32 weight. Anything else (MoE families, the triton backend, ``exact`` activations, the
portable kernels, mixed-kind fused weights) keeps the per-layer path.
"""

from __future__ import annotations

import ctypes

import torch

from inference import cpu_kernels, native
from inference.context import ForwardContext
from inference.layers.attention import Attention
from inference.layers.linear import Linear
from inference.layers.mlp import GatedMLP


def _lin(linear) -> native.Lin | None:
    if type(linear) is not Linear or linear.kernel or len(linear.parts) != 1:
        return None
    part = linear.parts[0][1]
    if part.exact:
        return None
    if part.kind == "q4":
        kind = "q4h" if part.scales.dtype == torch.float16 else "q4f"
        tensors = (part.qweight, part.scales, part.mins)
    else:
        kind = part.kind
        tensors = (part.weight,) if kind == "f32" else (part.qweight, part.scales)
    ptrs = [t.data_ptr() for t in tensors] + [None] * (3 - len(tensors))
    bias = None if part.bias is None else part.bias.data_ptr()
    return native.Lin(
        native.LIN_KINDS.index(kind), part.in_features, part.out_features, *ptrs, bias
    )


def _layer(layer) -> native.Layer | None:
    from inference.models.llama import DecoderLayer

    attn, mlp = layer.attn, layer.mlp
    if (
        type(layer) is not DecoderLayer
        or type(attn) is not Attention
        or type(mlp) is not GatedMLP
        or attn.q_norm is not None
        or attn.k_cache is None
    ):
        return None
    lins = [_lin(x) for x in (attn.qkv, attn.o_proj, mlp.gate_up, mlp.down)]
    if None in lins:
        return None
    norms = (layer.input_norm, layer.post_attention_norm)
    return native.Layer(
        *lins, *(n.weight.data_ptr() for n in norms), *(n.eps for n in norms), attn.scale,
        attn.num_heads, attn.num_kv_heads, attn.head_dim, attn.v_cache.shape[1],
        attn.rotary.cos.data_ptr(), attn.rotary.sin.data_ptr(), attn.k_cache.data_ptr(),
        attn.v_cache.data_ptr(),
    )  # fmt: skip


class CapturedStep:
    """The layers' C structs, built once per KV cache (they hold its address); the model keeps
    the tensors they point to alive."""

    def __init__(self, layers: ctypes.Array):
        self.layers, self.address = layers, ctypes.addressof(layers)

    @classmethod
    def build(cls, model) -> CapturedStep | None:
        """None where the C function does not cover ``model`` (see the module docstring)."""
        if model.backend.triton or not model.layers or cpu_kernels.ops() is not native:
            return None
        layers = [_layer(layer) for layer in model.layers]
        if None in layers:
            return None
        return cls((native.Layer * len(layers))(*layers))

    def __call__(self, x: torch.Tensor, ctx: ForwardContext) -> tuple[torch.Tensor, torch.Tensor]:
        """x: the embeddings, which become the residual stream; returns (last output, residual)."""
        out = torch.empty_like(x)
        native.decoder_step(self.address, len(self.layers), x, out, ctx)
        return out, x
