"""Property tests of the paged block pool with prefix caching: whatever the sequence of allocations,
growth, cache registrations and releases, no block leaks and reference counts stay consistent."""

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from inference.engine.block_manager import BlockManager
from inference.engine.sequence import Sequence
from inference.sampling import SamplingParams

BLOCK = 4
PREFIX = [7, 1, 8, 2, 8, 1, 8, 2, 8, 4, 5, 9]


class BlockPool(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.bm = BlockManager(num_blocks=12, block_size=BLOCK)
        self.live: list[Sequence] = []
        self.count = 0

    @rule(shared=st.integers(0, len(PREFIX)), tail=st.lists(st.integers(0, 20), max_size=10))
    def admit(self, shared, tail):
        tokens = PREFIX[:shared] + tail
        if not tokens:
            return
        seq = Sequence(str(self.count), tokens, SamplingParams())
        self.count += 1
        expected_hits = self.bm._hits(seq)
        can = self.bm.can_allocate(seq)
        assert self.bm.allocate(seq) == can
        if can:
            assert len(seq.block_table) * BLOCK >= len(tokens)
            assert seq.num_computed_tokens == len(expected_hits) * BLOCK < len(tokens)
            for i, (block_id, _) in enumerate(expected_hits):  # a hit holds exactly these tokens
                assert self.bm.blocks[block_id].tokens == tuple(tokens[i * BLOCK : (i + 1) * BLOCK])
            self.live.append(seq)

    @precondition(lambda self: self.live)
    @rule(data=st.data())
    def compute(self, data):
        seq = data.draw(st.sampled_from(self.live))
        seq.num_computed_tokens = data.draw(
            st.integers(seq.num_computed_tokens, len(seq.token_ids))
        )
        self.bm.register(seq)

    @precondition(lambda self: self.live)
    @rule(data=st.data(), token=st.integers(0, 20))
    def decode(self, data, token):
        seq = data.draw(st.sampled_from(self.live))
        seq.num_computed_tokens = len(seq.token_ids)
        self.bm.register(seq)
        seq.token_ids.append(token)
        if not self.bm.ensure_capacity(seq, len(seq.token_ids)):  # preempted
            self.bm.release(seq)
            self.live.remove(seq)

    @precondition(lambda self: self.live)
    @rule(data=st.data())
    def release(self, data):
        seq = data.draw(st.sampled_from(self.live))
        self.bm.release(seq)
        self.live.remove(seq)

    @invariant()
    def consistent(self):
        self.bm.check(self.live)
        used = {b for seq in self.live for b in seq.block_table}
        assert len(used) + self.bm.num_free == self.bm.num_blocks

    def teardown(self):
        for seq in self.live:
            self.bm.release(seq)
        self.bm.check([])
        assert self.bm.num_free == self.bm.num_blocks


TestBlockPool = BlockPool.TestCase
TestBlockPool.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)


def test_prefix_blocks_are_shared_and_evicted_last():
    bm = BlockManager(num_blocks=6, block_size=BLOCK)
    a = Sequence("a", PREFIX + [1], SamplingParams())
    assert bm.allocate(a)
    a.num_computed_tokens = len(a.token_ids)
    bm.register(a)
    b = Sequence("b", PREFIX + [2, 3], SamplingParams())
    assert bm.allocate(b)
    assert b.block_table[:3] == a.block_table[:3] and b.num_computed_tokens == 12
    assert [bm.blocks[i].ref_count for i in a.block_table[:3]] == [2, 2, 2]
    head = a.block_table[0]
    bm.release(a)
    bm.release(b)
    assert list(bm.free)[-1] == head  # freed last-first: the prefix head is evicted last
    c = Sequence("c", PREFIX + [9], SamplingParams())
    assert bm.allocate(c) and c.num_computed_tokens == 12
