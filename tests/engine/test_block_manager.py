"""Property tests of the paged block pool with prefix caching: whatever the sequence of allocations,
growth, cache registrations and releases, no block leaks and reference counts stay consistent."""

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from tiny_models import tiny_engine

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


# CPython's tuple hash (xxHash-based, 3.8+): every step is invertible mod 2**64, so a tuple with a
# chosen hash can be built by solving for its last element.
_P1, _P2, _P5 = 11400714785074694791, 14029467366897019727, 2870177450012600261
_U64, _MODULUS = 2**64, 2**61 - 1  # ints hash to themselves modulo 2**61 - 1


def _lane_for(prefix: tuple, target: int) -> int:
    """The element hash that gives ``prefix + (x,)`` the hash ``target``."""
    acc = _P5
    for item in prefix:
        acc = (acc + hash(item) * _P2) % _U64
        acc = ((acc << 31) | (acc >> 33)) % _U64
        acc = acc * _P1 % _U64
    acc_end = (target - ((len(prefix) + 1) ^ (_P5 ^ 3527539))) % _U64
    acc_end = acc_end * pow(_P1, -1, _U64) % _U64
    acc_end = ((acc_end >> 31) | (acc_end << 33)) % _U64
    lane = (acc_end - acc) * pow(_P2, -1, _U64) % _U64
    return lane - _U64 if lane >= 2**63 else lane


def _old_scheme_collision(first: tuple[int, ...]) -> tuple[int, ...]:
    """A different first block whose old key ``hash((-1, block))`` differs from ``first``'s by a
    multiple of 2**61 - 1, so ``hash((key, tokens))`` of the *next* block collides for any tokens."""
    key = hash((-1, first))
    for head in range(1000):
        for k in (1, -1, 2, -2, 3, -3):
            target = key + k * _MODULUS
            if not -(2**63) <= target < 2**63:
                continue
            inner = _lane_for((-1,), target)  # hash the forged block itself must have
            prefix = (head, *first[1:-1])
            token = _lane_for(prefix, inner)
            if -_MODULUS < token < _MODULUS and token != -1:
                return (*prefix, token)
    raise AssertionError("no forgery found")


def test_forged_old_hash_collision_does_not_serve_another_prefix():
    first, second = tuple(PREFIX[:BLOCK]), tuple(PREFIX[BLOCK : 2 * BLOCK])
    forged = _old_scheme_collision(first)
    assert forged != first
    old_key = hash((-1, first))
    forged_key = hash((-1, forged))
    assert old_key != forged_key  # different first blocks ...
    assert hash((old_key, second)) == hash((forged_key, second))  # ... same old key for block 2

    bm = BlockManager(num_blocks=12, block_size=BLOCK)
    victim = Sequence("victim", [*first, *second, 1], SamplingParams())
    other = Sequence("other", [*forged, 5, 5, 5, 5, 1], SamplingParams())
    for seq in (victim, other):
        assert bm.allocate(seq)
        seq.num_computed_tokens = len(seq.token_ids)
        bm.register(seq)
    probe = Sequence("probe", [*forged, *second, 2], SamplingParams())
    assert bm.allocate(probe)
    # Only the forged block itself is shared; the victim's second block (KV computed after
    # `first`) is not served after `forged`.
    assert probe.block_table[0] == other.block_table[0]
    assert victim.block_table[1] not in probe.block_table
    assert probe.num_computed_tokens == BLOCK


def _admit(bm: BlockManager, tokens: list[int], salt: str | None) -> tuple[Sequence, int]:
    """Admit, compute and register a sequence; also return how many tokens came from the cache."""
    seq = Sequence(str(len(bm.cached)), tokens, SamplingParams(), cache_salt=salt)
    assert bm.allocate(seq)
    cached = seq.num_computed_tokens
    seq.num_computed_tokens = len(tokens)
    bm.register(seq)
    return seq, cached


def test_salts_never_share_blocks_and_one_salt_does():
    bm = BlockManager(num_blocks=24, block_size=BLOCK)
    store_a, _ = _admit(bm, PREFIX + [1], "store-1")
    store_b, b_cached = _admit(bm, PREFIX + [1], "store-2")
    unsalted, none_cached = _admit(bm, PREFIX + [1], None)
    assert b_cached == none_cached == 0  # the same prompt under another salt is computed afresh
    assert not set(store_a.block_table) & set(store_b.block_table)
    assert not set(unsalted.block_table) & (set(store_a.block_table) | set(store_b.block_table))
    again, again_cached = _admit(bm, PREFIX + [2], "store-1")
    assert again_cached == len(PREFIX)
    assert again.block_table[:3] == store_a.block_table[:3]
    bm.check([store_a, store_b, unsalted, again])


def test_engine_requests_reuse_the_cache_only_within_their_salt():
    engine = tiny_engine()
    prompt = [*PREFIX, *PREFIX, 3]
    params = SamplingParams(max_tokens=2, ignore_eos=True)
    cached = []
    for salt in ("store-1", "store-2", "store-1"):  # one at a time: each finds what earlier left
        stream = engine.submit_tokens(prompt, params, cache_salt=salt)
        while engine.step():
            pass
        list(stream)
        cached.append(stream.usage.cached_prompt_tokens)
    assert cached == [0, 0, (len(prompt) - 1) // BLOCK * BLOCK]
