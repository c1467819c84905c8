"""Padding math and the block-range lock, without a server."""
from __future__ import annotations

import threading

from hypothesis import given, settings, strategies as st

from curverbd.core.alignment import RangeLock, covering, cut, inner, pieces

BLOCKS = st.sampled_from([512, 4096])


@given(st.integers(0, 1 << 40), st.integers(0, 1 << 24), BLOCKS)
def test_covering_and_inner(offset, length, block):
    start, end = covering(offset, length, block)
    assert start % block == 0 and end % block == 0
    assert start <= offset and offset + length <= end
    assert offset - start < block and end - (offset + length) < block
    lo, hi = inner(offset, length, block)
    assert lo % block == 0 and hi % block == 0
    if lo < hi:
        assert offset <= lo and hi <= offset + length
        assert lo - offset < block and offset + length - hi < block


@given(st.lists(st.binary(max_size=50), max_size=6), st.data())
def test_cut_is_a_slice_of_the_concatenation(parts, data):
    joined = b"".join(parts)
    a = data.draw(st.integers(0, len(joined)))
    b = data.draw(st.integers(a, len(joined)))
    views = [memoryview(p) for p in parts]
    got = cut(views, a, b)
    assert b"".join(bytes(v) for v in got) == joined[a:b]
    assert all(len(v) for v in got)


def test_pieces():
    assert list(pieces(0, 10, 4)) == [(0, 4), (4, 8), (8, 10)]
    assert list(pieces(5, 5, 4)) == []


def test_range_lock_grants_disjoint_at_once_and_overlapping_in_order():
    lock = RangeLock()
    order = []
    lock.acquire(0, 10, lambda: order.append("a"))
    lock.acquire(10, 20, lambda: order.append("b"))        # disjoint: granted at once
    lock.acquire(5, 15, lambda: order.append("c"))         # waits for a and b
    lock.acquire(30, 40, lambda: order.append("d"))        # disjoint from all: at once
    lock.acquire(14, 31, lambda: order.append("e"))        # waits for c (queued earlier) and d
    assert order == ["a", "b", "d"]
    lock.release(0, 10)
    assert order == ["a", "b", "d"]
    lock.release(10, 20)
    assert order == ["a", "b", "d", "c"]
    lock.release(30, 40)
    assert order == ["a", "b", "d", "c"]                   # still behind c
    lock.release(5, 15)
    assert order == ["a", "b", "d", "c", "e"]
    lock.release(14, 31)
    assert not lock.busy()


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 100), st.integers(1, 30)), min_size=1, max_size=30))
def test_range_lock_never_grants_overlaps(ranges):
    lock = RangeLock()
    held = []
    mutex = threading.Lock()
    pending = []

    def grant(r):
        with mutex:
            assert all(r[1] <= s or e <= r[0] for s, e in held)
            held.append(r)
            pending.append(r)
    for start, length in ranges:
        r = (start, start + length)
        lock.acquire(*r, lambda r=r: grant(r))
    while pending:  # release in grant order, as completions would
        r = pending.pop(0)
        with mutex:
            held.remove(r)
        lock.release(*r)
    assert not lock.busy()
