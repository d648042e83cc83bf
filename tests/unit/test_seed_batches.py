"""Cluster seeding's batches: every metatile of the plan once and in order, large batches while
much remains (fewer tasks to schedule), single metatiles at the end (workers finish together)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ogcserver.seeding import MAX_CLUSTER_BATCH, cluster_batches


@given(metatiles=st.integers(0, 5000), threads=st.integers(1, 64))
def test_batches_cover_the_plan_once_in_order_and_shrink(metatiles, threads):
    batches = list(cluster_batches(iter(range(metatiles)), metatiles, threads))
    assert [m for batch in batches for m in batch] == list(range(metatiles))
    sizes = [len(batch) for batch in batches]
    assert sizes == sorted(sizes, reverse=True) and all(1 <= s <= MAX_CLUSTER_BATCH for s in sizes)
    assert not sizes or sizes[-1] == 1


def test_two_workers_get_fewer_larger_tasks_than_batches_of_four():
    """Zoom 12-17 of an orthomosaic: 164 metatiles on two workers."""
    sizes = [len(batch) for batch in cluster_batches(iter(range(164)), 164, 2)]
    assert sizes[0] == MAX_CLUSTER_BATCH and len(sizes) < 164 // 4


def test_a_plan_longer_than_announced_is_seeded_whole():
    """The count is a planning figure: metatiles past it are still seeded, one per batch."""
    batches = list(cluster_batches(iter(range(20)), 10, 2))
    assert [m for batch in batches for m in batch] == list(range(20))
