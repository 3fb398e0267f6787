"""Owns the model and the KV pool; turns a scheduled batch into one forward pass."""

from __future__ import annotations

import torch

from inference import native
from inference.config import EngineConfig
from inference.context import ForwardContext
from inference.engine.sequence import Sequence


class ModelRunner:
    def __init__(self, model, config: EngineConfig):
        self.model = model
        mc = model.config
        layers = model.attention_layers()
        self.block_size = config.block_size
        per_block = 2 * len(layers) * config.block_size * mc.num_kv_heads * mc.head_dim * 4
        self.num_blocks = config.kv_cache_bytes // per_block
        if self.num_blocks < 2:
            raise ValueError(
                f"kv_cache_bytes={config.kv_cache_bytes} holds fewer than 2 blocks of {per_block} bytes"
            )
        k_shape, v_shape = native.kv_cache_shapes(
            self.num_blocks, config.block_size, mc.num_kv_heads, mc.head_dim
        )
        per_layer = self.num_blocks * config.block_size * mc.num_kv_heads * mc.head_dim
        self.kv_cache = torch.zeros(2, len(layers), per_layer)
        for i, attn in enumerate(layers):
            attn.k_cache = self.kv_cache[0, i].view(k_shape)
            attn.v_cache = self.kv_cache[1, i].view(v_shape)

    @property
    def kv_cache_bytes(self) -> int:
        return self.kv_cache.numel() * 4

    def run(self, batch: list[tuple[Sequence, int]]) -> tuple[torch.Tensor, list[Sequence]]:
        """Forward the scheduled tokens; logits for the sequences whose last token was computed."""
        ids: list[int] = []
        positions: list[int] = []
        slots: list[int] = []
        token_seq: list[int] = []
        logits_rows: list[int] = []
        sampled: list[Sequence] = []
        bs = self.block_size
        for row, (seq, n) in enumerate(batch):
            start = seq.num_computed_tokens
            ids.extend(seq.token_ids[start : start + n])
            span = range(start, start + n)
            positions.extend(span)
            table = seq.block_table
            slots.extend(table[p // bs] * bs + p % bs for p in span)
            token_seq.extend([row] * n)
            if start + n == len(seq.token_ids):
                logits_rows.append(len(ids) - 1)
                sampled.append(seq)
        width = max(len(seq.block_table) for seq, _ in batch)
        tables = torch.zeros(len(batch), width, dtype=torch.int32)
        for row, (seq, _) in enumerate(batch):
            tables[row, : len(seq.block_table)] = torch.tensor(seq.block_table, dtype=torch.int32)
        pos = torch.tensor(positions, dtype=torch.int64)
        ctx = ForwardContext(
            positions=pos,
            slot_mapping=torch.tensor(slots, dtype=torch.int64),
            block_tables=tables,
            token_seq=torch.tensor(token_seq, dtype=torch.int32),
            token_ctx=(pos + 1).to(torch.int32),
            logits_indices=torch.tensor(logits_rows, dtype=torch.int64),
        )
        if not sampled:
            ctx.logits_indices = ctx.logits_indices[:0]
        logits = self.model(torch.tensor(ids, dtype=torch.int64), ctx)
        return logits, sampled
