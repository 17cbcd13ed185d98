"""The least-recently-used map every in-process cache keeps its entries in (core/lru.py): the
response cache's answers, parsed documents, persisted queries, the local rate limit's buckets.
Its bound is only as true as the weight it keeps count of."""

from __future__ import annotations

from core.lru import LRU


def test_the_least_recently_used_entry_goes_first():
    kept: LRU[str, int] = LRU(2)
    kept.put("a", 1)
    kept.put("b", 2)
    assert kept.get("a") == 1  # now "b" is the least recently used
    kept.put("c", 3)
    assert (kept.get("a"), kept.get("b"), kept.get("c")) == (1, None, 3)


def test_entries_are_bounded_by_their_weight_in_all():
    kept: LRU[str, str] = LRU(10, weight=len)
    kept.put("a", "x" * 4)
    kept.put("b", "x" * 4)
    kept.put("c", "x" * 4)  # 12 > 10: "a" goes
    assert (kept.get("a"), kept.get("b"), kept.get("c")) == (None, "xxxx", "xxxx")


def test_putting_a_key_again_weighs_it_once():
    """A key put again replaces its entry, and its weight: the local rate limit puts each
    client's bucket again on every request, and a count that grew with each would forget
    other clients' buckets (a fresh burst each) long before the bound."""
    kept: LRU[str, int] = LRU(3)
    for _ in range(10):
        kept.put("a", 1)
    kept.put("b", 2)
    kept.put("c", 3)
    assert (kept.get("a"), kept.get("b"), kept.get("c")) == (1, 2, 3)


def test_a_value_heavier_than_the_whole_map_is_not_kept_nor_its_old_value():
    kept: LRU[str, str] = LRU(10, weight=len)
    kept.put("a", "small")
    assert kept.put("a", "x" * 11) == "x" * 11  # handed back, not kept
    assert kept.get("a") is None  # not the older value, which the caller has replaced
    kept.put("b", "x" * 10)  # and its weight is gone with it
    assert kept.get("b") == "x" * 10
