"""GGUF checkpoints -> (ModelConfig, weights under Hugging Face names, Tokenizer).

Weights stay in their compact form: 4-bit block types become ``Int4Weight`` (losslessly, through
``inference.formats.gguf_quants``), Q8_0 matrices stay ``Q8Weight``, everything else is
dequantized to float32. llama.cpp stores the q/k projections of the ``llama`` architecture with
rows permuted for its interleaved rotary embedding; they are put back in Hugging Face order here,
so one model implementation serves both formats.

To add an architecture: a ``CONFIG_READERS`` entry (metadata -> ModelConfig) and, for new tensor
kinds, ``TENSOR_NAMES`` entries (GGUF suffix -> HF suffix).
"""

from __future__ import annotations

import numpy as np
import torch
from gguf import GGUFReader
from gguf.constants import GGMLQuantizationType as QT
from tqdm import tqdm

from inference.config import ModelConfig
from inference.formats import gguf_quants
from inference.int4 import Int4Weight
from inference.q8 import Q8Weight
from inference.tokenizer import Tokenizer

TENSOR_NAMES = {
    "attn_norm.weight": "input_layernorm.weight",
    "ffn_norm.weight": "post_attention_layernorm.weight",
    "attn_q.weight": "self_attn.q_proj.weight",
    "attn_k.weight": "self_attn.k_proj.weight",
    "attn_v.weight": "self_attn.v_proj.weight",
    "attn_q.bias": "self_attn.q_proj.bias",
    "attn_k.bias": "self_attn.k_proj.bias",
    "attn_v.bias": "self_attn.v_proj.bias",
    "attn_output.weight": "self_attn.o_proj.weight",
    "ffn_gate.weight": "mlp.gate_proj.weight",
    "ffn_up.weight": "mlp.up_proj.weight",
    "ffn_down.weight": "mlp.down_proj.weight",
}
GLOBAL_NAMES = {
    "token_embd.weight": "model.embed_tokens.weight",
    "output_norm.weight": "model.norm.weight",
    "output.weight": "lm_head.weight",
    "rope_freqs.weight": "rope_freqs",
}
# Architectures whose q/k rows llama.cpp permuted at conversion.
PERMUTED_QK = {"llama"}


def hf_name(gguf_name: str) -> str | None:
    if gguf_name in GLOBAL_NAMES:
        return GLOBAL_NAMES[gguf_name]
    if gguf_name.startswith("blk."):
        _, layer, suffix = gguf_name.split(".", 2)
        if suffix in TENSOR_NAMES:
            return f"model.layers.{layer}.{TENSOR_NAMES[suffix]}"
    return None


def read_metadata(reader: GGUFReader) -> dict:
    return {k: f.contents() for k, f in reader.fields.items() if not k.startswith("GGUF.")}


def _dense_config(meta: dict, arch: str) -> ModelConfig:
    def get(key, default=None):
        return meta.get(f"{arch}.{key}", default)

    hidden, heads = get("embedding_length"), get("attention.head_count")
    scaling = None
    if get("rope.scaling.type") in ("linear", "yarn"):
        scaling = {"rope_type": get("rope.scaling.type"), "factor": get("rope.scaling.factor")}
    return ModelConfig(
        architecture=arch,
        vocab_size=get("vocab_size") or len(meta["tokenizer.ggml.tokens"]),
        hidden_size=hidden,
        intermediate_size=get("feed_forward_length"),
        num_layers=get("block_count"),
        num_heads=heads,
        num_kv_heads=get("attention.head_count_kv", heads),
        head_dim=get("attention.key_length", hidden // heads),
        rms_norm_eps=get("attention.layer_norm_rms_epsilon", 1e-5),
        rope_theta=get("rope.freq_base", 10000.0),
        rope_scaling=scaling,
        max_position_embeddings=get("context_length", 4096),
        attention_bias=arch == "qwen2",
        name=meta.get("general.name", ""),
    )


CONFIG_READERS = {"llama": _dense_config, "qwen2": _dense_config}


def _unpermute_rows(w, n_head: int):
    """Inverse of llama.cpp's q/k permutation: rows (head, pair, half) -> (head, half, pair)."""
    rows = w.shape[0]
    order = torch.arange(rows).reshape(n_head, rows // n_head // 2, 2).transpose(1, 2).reshape(-1)
    if isinstance(w, Int4Weight):
        return Int4Weight(w.qweight[order], w.scales[order], w.mins[order], w.group_size)
    if isinstance(w, Q8Weight):
        return Q8Weight(w.qweight[order], w.scales[order])
    return w[order].contiguous()


def convert_tensor(data: np.ndarray, qtype: QT, shape: tuple[int, ...]):
    """One GGUF tensor -> Int4Weight | Q8Weight | float32 tensor of HF shape (out, in), or a list of
    those for a quantized 3-D expert stack."""
    qtype = QT(qtype)
    if qtype in gguf_quants.INT4_CONVERTIBLE and len(shape) == 2:
        return gguf_quants.to_int4(data, qtype)
    if qtype == QT.Q8_0 and len(shape) == 2:
        return Q8Weight.from_gguf_blocks(gguf_quants.row_bytes(data))
    if len(shape) == 3 and (qtype in gguf_quants.INT4_CONVERTIBLE or qtype == QT.Q8_0):
        # a stack of experts (GGUF shape (in, out, experts)): one compact weight per expert
        return [convert_tensor(data[e], qtype, shape[:2]) for e in range(shape[2])]
    return gguf_quants.dequantize(data, qtype).reshape(tuple(reversed(shape))).clone()


def load_gguf_tokenizer(path: str) -> Tokenizer:
    return Tokenizer.from_gguf_metadata(read_metadata(GGUFReader(path)))


def load_gguf(path: str) -> tuple[ModelConfig, dict, Tokenizer]:
    reader = GGUFReader(path)
    meta = read_metadata(reader)
    arch = meta["general.architecture"]
    if arch not in CONFIG_READERS:
        raise NotImplementedError(f"GGUF architecture {arch!r} is not supported")
    config = CONFIG_READERS[arch](meta, arch)
    tokenizer = Tokenizer.from_gguf_metadata(meta)
    config.eos_token_ids = list(tokenizer.eos_token_ids)
    config.bos_token_id = tokenizer.bos_token_id
    weights: dict = {}
    for t in tqdm(reader.tensors, desc="loading weights", unit="tensor", disable=None, leave=False):
        name = hf_name(t.name)
        if name is None:
            raise NotImplementedError(f"unknown GGUF tensor {t.name!r} for architecture {arch!r}")
        w = convert_tensor(t.data, t.tensor_type, tuple(int(n) for n in t.shape))
        if arch in PERMUTED_QK and name.endswith(("q_proj.weight", "q_proj.bias")):
            w = _unpermute_rows(w, config.num_heads)
        elif arch in PERMUTED_QK and name.endswith(("k_proj.weight", "k_proj.bias")):
            w = _unpermute_rows(w, config.num_kv_heads)
        weights[name] = w
    config.tie_word_embeddings = "lm_head.weight" not in weights
    return config, weights, tokenizer
