"""Paged KV-cache blocks: allocation, reference counts and automatic prefix caching.

A full block is keyed by a BLAKE2b digest chained over the parent block's digest and its own tokens,
so equal keys mean equal prefixes; a false hit would need a BLAKE2b collision (Python's ``hash`` of
a tuple can be made to collide, which would serve another prefix's KV). The chain starts from the
request's ``cache_salt`` (one per store), so two salts never share a block and the time to first
token cannot reveal another tenant's prompts. Blocks nobody references stay in the cache until
they are needed: the free list is in least-recently-freed order and allocation takes from its
front, evicting that block's cache entry. A sequence frees its blocks last-first, so the tail of a
prefix is evicted before its head.
"""

from __future__ import annotations

import hashlib
from array import array
from collections import OrderedDict

from inference.engine.sequence import Sequence

DIGEST_SIZE = 32


def root_hash(cache_salt: str | None) -> bytes:
    """The first block's parent: the salt's own digest (no salt and "" are the same tenant)."""
    salt = (cache_salt or "").encode()
    return hashlib.blake2b(salt, digest_size=DIGEST_SIZE, person=b"parley-kv-salt").digest()


def block_hash(parent: bytes, tokens: tuple[int, ...]) -> bytes:
    """Digest of a full block: its parent's fixed-size digest, then its tokens as int64s."""
    return hashlib.blake2b(parent + array("q", tokens).tobytes(), digest_size=DIGEST_SIZE).digest()


class Block:
    __slots__ = ("id", "ref_count", "hash", "tokens")

    def __init__(self, block_id: int):
        self.id = block_id
        self.ref_count = 0
        self.hash: bytes | None = None
        self.tokens: tuple[int, ...] | None = None


class BlockManager:
    def __init__(self, num_blocks: int, block_size: int):
        self.block_size = block_size
        self.blocks = [Block(i) for i in range(num_blocks)]
        self.free: OrderedDict[int, None] = OrderedDict((i, None) for i in range(num_blocks))
        self.cached: dict[bytes, int] = {}  # chained digest -> block id

    @property
    def num_blocks(self) -> int:
        return len(self.blocks)

    @property
    def num_free(self) -> int:
        return len(self.free)

    def _hits(self, seq: Sequence) -> list[tuple[int, bytes]]:
        """(block id, digest) of the cached blocks that start this sequence. At most len - 1 tokens
        come from the cache, so the last one is always computed and yields logits."""
        bs, hits, parent = self.block_size, [], root_hash(seq.cache_salt)
        for i in range((len(seq.token_ids) - 1) // bs):
            tokens = tuple(seq.token_ids[i * bs : (i + 1) * bs])
            h = block_hash(parent, tokens)
            block_id = self.cached.get(h)
            if block_id is None or self.blocks[block_id].tokens != tokens:
                break
            hits.append((block_id, h))
            parent = h
        return hits

    def _blocks_for(self, num_tokens: int) -> int:
        return -(-num_tokens // self.block_size)

    def can_allocate(self, seq: Sequence) -> bool:
        hits = self._hits(seq)
        revived = sum(1 for b, _ in hits if self.blocks[b].ref_count == 0)
        return self._blocks_for(len(seq.token_ids)) - len(hits) + revived <= self.num_free

    def allocate(self, seq: Sequence) -> bool:
        """Blocks for all of a newly admitted sequence's tokens, reusing cached prefix blocks."""
        assert not seq.block_table
        hits = self._hits(seq)
        revived = sum(1 for b, _ in hits if self.blocks[b].ref_count == 0)
        fresh = self._blocks_for(len(seq.token_ids)) - len(hits)
        if fresh + revived > self.num_free:
            return False
        for block_id, h in hits:
            block = self.blocks[block_id]
            if block.ref_count == 0:
                del self.free[block_id]
            block.ref_count += 1
            seq.block_table.append(block_id)
            seq.block_hashes.append(h)
        for _ in range(fresh):
            seq.block_table.append(self._take())
        seq.num_computed_tokens = len(hits) * self.block_size
        return True

    def _take(self) -> int:
        block_id, _ = self.free.popitem(last=False)
        block = self.blocks[block_id]
        if block.hash is not None:
            if self.cached.get(block.hash) == block_id:
                del self.cached[block.hash]
            block.hash, block.tokens = None, None
        block.ref_count = 1
        return block_id

    def ensure_capacity(self, seq: Sequence, num_tokens: int) -> bool:
        """Grow the block table to hold ``num_tokens`` tokens; False if the pool is exhausted."""
        needed = self._blocks_for(num_tokens) - len(seq.block_table)
        if needed > self.num_free:
            return False
        for _ in range(needed):
            seq.block_table.append(self._take())
        return True

    def register(self, seq: Sequence) -> None:
        """Enter the sequence's newly completed full blocks into the prefix cache."""
        bs = self.block_size
        for i in range(len(seq.block_hashes), seq.num_computed_tokens // bs):
            parent = seq.block_hashes[-1] if seq.block_hashes else root_hash(seq.cache_salt)
            tokens = tuple(seq.token_ids[i * bs : (i + 1) * bs])
            h = block_hash(parent, tokens)
            seq.block_hashes.append(h)
            block = self.blocks[seq.block_table[i]]
            if block.hash is None and h not in self.cached:
                block.hash, block.tokens = h, tokens
                self.cached[h] = block.id

    def release(self, seq: Sequence) -> None:
        for block_id in reversed(seq.block_table):
            block = self.blocks[block_id]
            block.ref_count -= 1
            if block.ref_count == 0:
                self.free[block_id] = None
        seq.block_table = []
        seq.block_hashes = []

    def check(self, live: list[Sequence]) -> None:
        """Assert the bookkeeping invariants (used by the property tests)."""
        refs = [0] * self.num_blocks
        for seq in live:
            assert len(set(seq.block_table)) == len(seq.block_table), "block twice in one table"
            for block_id in seq.block_table:
                refs[block_id] += 1
        for block in self.blocks:
            assert block.ref_count == refs[block.id], (
                f"block {block.id}: {block.ref_count} != {refs[block.id]}"
            )
            assert (block.ref_count == 0) == (block.id in self.free), (
                f"block {block.id} free-list mismatch"
            )
        for h, block_id in self.cached.items():
            assert self.blocks[block_id].hash == h
