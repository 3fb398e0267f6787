"""What one forward pass needs besides token ids: where each token sits and where its KV goes."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class ForwardContext:
    positions: torch.Tensor  # int64 [T] position of each token in its sequence
    slot_mapping: torch.Tensor  # int64 [T] KV-cache slot (block * block_size + offset) to write
    block_tables: torch.Tensor  # int32 [S, max_blocks] cache blocks of each sequence in the batch
    token_seq: torch.Tensor  # int32 [T] row of block_tables each token belongs to
    token_ctx: torch.Tensor  # int32 [T] keys each token attends to (position + 1)
    logits_indices: torch.Tensor  # int64 [n] tokens whose next-token logits are wanted
