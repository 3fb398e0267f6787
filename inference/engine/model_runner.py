"""Owns the model and the KV pool; turns a scheduled batch into one forward pass."""

from __future__ import annotations

import torch

from inference import cpu_kernels
from inference.config import EngineConfig
from inference.context import ForwardContext
from inference.engine.cuda_graphs import DecodeGraphs
from inference.engine.sequence import Sequence
from inference.layers.backend import Backend


class ModelRunner:
    def __init__(self, model, config: EngineConfig):
        self.model = model
        self.backend: Backend = getattr(model, "backend", Backend())
        mc = model.config
        layers = model.attention_layers()
        dtype, device = self.backend.dtype, self.backend.device
        self.block_size = bs = config.block_size
        per_block = 2 * len(layers) * bs * mc.num_kv_heads * mc.head_dim * dtype.itemsize
        self.num_blocks = config.kv_cache_bytes // per_block
        if self.num_blocks < 2:
            raise ValueError(
                f"kv_cache_bytes={config.kv_cache_bytes} holds fewer than 2 blocks of {per_block} bytes"
            )
        if self.backend.triton:  # kernels.kv_cache's layout, K and V alike
            k_shape = v_shape = (self.num_blocks, bs, mc.num_kv_heads, mc.head_dim)
        else:
            k_shape, v_shape = cpu_kernels.ops().kv_cache_shapes(
                self.num_blocks, bs, mc.num_kv_heads, mc.head_dim
            )
        per_layer = self.num_blocks * bs * mc.num_kv_heads * mc.head_dim
        self.kv_cache = torch.zeros(2, len(layers), per_layer, dtype=dtype, device=device)
        for i, attn in enumerate(layers):
            attn.k_cache = self.kv_cache[0, i].view(k_shape)
            attn.v_cache = self.kv_cache[1, i].view(v_shape)
        self.graphs = self._decode_graphs(config)

    def _decode_graphs(self, config: EngineConfig) -> DecodeGraphs | None:
        on_cuda = self.backend.device.type == "cuda"
        wanted = config.cuda_graphs
        if wanted is None:
            wanted = on_cuda and self.backend.triton and self.model.graph_safe()
        if not wanted:
            return None
        if on_cuda and not self.model.graph_safe():
            raise ValueError("this model's layers synchronise the host: no CUDA graphs")
        max_len = config.max_model_len or self.model.config.max_position_embeddings
        max_blocks = -(-min(max_len, self.num_blocks * self.block_size) // self.block_size)
        return DecodeGraphs(
            self.model, config.max_num_seqs, max_blocks, self.backend.device, capture=on_cuda
        )

    @property
    def kv_cache_bytes(self) -> int:
        return self.kv_cache.numel() * self.kv_cache.element_size()

    def run(self, batch: list[tuple[Sequence, int]]) -> tuple[torch.Tensor, list[Sequence]]:
        """Forward the scheduled tokens; float32 logits (on the model's device) for the sequences
        whose last token was computed."""
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
        ids_t = torch.tensor(ids, dtype=torch.int64)
        slots_t = torch.tensor(slots, dtype=torch.int64)
        ctx_lens = (pos + 1).to(torch.int32)
        decode = len(ids) == len(batch) == len(sampled)
        if decode and self.graphs is not None and self.graphs.fits(len(batch), width):
            logits = self.graphs.run(ids_t, pos, slots_t, tables, ctx_lens)
            return logits.float(), sampled
        dev = self.backend.device
        ctx = ForwardContext(
            positions=pos.to(dev),
            slot_mapping=slots_t.to(dev),
            block_tables=tables.to(dev),
            token_seq=torch.tensor(token_seq, dtype=torch.int32).to(dev),
            token_ctx=ctx_lens.to(dev),
            logits_indices=torch.tensor(logits_rows, dtype=torch.int64).to(dev),
        )
        logits = self.model(ids_t.to(dev), ctx)
        return logits.float(), sampled
