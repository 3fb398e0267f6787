"""all-MiniLM-L6-v2 as a small BERT encoder of our own: WordPiece through `tokenizers`, weights through
`safetensors`, six encoder layers in plain PyTorch, mean pooling over real tokens.

Why not sentence-transformers: it pulls in `transformers`, whose newer releases import the PyPI
package `kernels`, which our own top-level `kernels/` shadows; the runtime (web, worker, commands) must
not depend on that. This module reproduces sentence-transformers' pipeline for this checkpoint
(Transformer -> mean Pooling -> Normalize, 256-token truncation); tests/knowledge compares the two.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from tokenizers import Tokenizer


class MiniLM:
    """Sentence vectors from a BERT checkpoint folder laid out as sentence-transformers saves it."""

    def __init__(self, folder: Path):
        config = json.loads((folder / "config.json").read_text())
        st_config = json.loads((folder / "sentence_bert_config.json").read_text())
        self.heads = config["num_attention_heads"]
        self.layers = config["num_hidden_layers"]
        self.eps = config["layer_norm_eps"]
        self.dimensions = config["hidden_size"]
        self.max_length = min(st_config["max_seq_length"], config["max_position_embeddings"])
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(self.max_length)
        self.tokenizer.enable_padding(pad_id=config["pad_token_id"], pad_token="[PAD]")  # noqa: S106
        self.w = load_file(str(folder / "model.safetensors"))

    def _norm(self, x: torch.Tensor, name: str) -> torch.Tensor:
        return F.layer_norm(
            x, (self.dimensions,), self.w[f"{name}.weight"], self.w[f"{name}.bias"], self.eps
        )

    def _linear(self, x: torch.Tensor, name: str) -> torch.Tensor:
        return F.linear(x, self.w[f"{name}.weight"], self.w[f"{name}.bias"])

    def _layer(self, x: torch.Tensor, bias: torch.Tensor, i: int) -> torch.Tensor:
        p = f"encoder.layer.{i}"
        b, t, h = x.shape
        d = h // self.heads

        def split(name: str) -> torch.Tensor:
            y = self._linear(x, f"{p}.attention.self.{name}")
            return y.view(b, t, self.heads, d).transpose(1, 2)

        q, k, v = split("query"), split("key"), split("value")
        scores = q @ k.transpose(-1, -2) / math.sqrt(d) + bias
        context = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, t, h)
        x = self._norm(self._linear(context, f"{p}.attention.output.dense") + x,
                       f"{p}.attention.output.LayerNorm")  # fmt: skip
        inner = F.gelu(self._linear(x, f"{p}.intermediate.dense"))
        return self._norm(self._linear(inner, f"{p}.output.dense") + x, f"{p}.output.LayerNorm")

    @torch.inference_mode()
    def encode(self, texts: list[str], batch_size: int = 32) -> torch.Tensor:
        """[len(texts), dimensions] float32 unit vectors."""
        out = []
        for start in range(0, len(texts), batch_size):
            batch = self.tokenizer.encode_batch(texts[start : start + batch_size])
            ids = torch.tensor([e.ids for e in batch])
            types = torch.tensor([e.type_ids for e in batch])
            mask = torch.tensor([e.attention_mask for e in batch], dtype=torch.float32)
            positions = torch.arange(ids.shape[1])
            x = (
                self.w["embeddings.word_embeddings.weight"][ids]
                + self.w["embeddings.position_embeddings.weight"][positions]
                + self.w["embeddings.token_type_embeddings.weight"][types]
            )
            x = self._norm(x, "embeddings.LayerNorm")
            bias = (1.0 - mask)[:, None, None, :] * torch.finfo(torch.float32).min
            for i in range(self.layers):
                x = self._layer(x, bias, i)
            pooled = (x * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp(min=1e-9)
            out.append(F.normalize(pooled, dim=-1))
        if not out:
            return torch.zeros((0, self.dimensions))
        return torch.cat(out)
