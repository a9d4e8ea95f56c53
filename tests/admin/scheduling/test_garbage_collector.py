"""The scheduler process settles the cyclic garbage collector when it starts."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from shardcron.admin.scheduling.runner import GC_YOUNG_THRESHOLD, settle_garbage_collector


@pytest.fixture
def collector() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.set_threshold(*thresholds)
    gc.unfreeze()


def test_start_up_objects_are_frozen_and_the_young_generation_grows(collector) -> None:
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    alive = object.__new__(type("Alive", (), {}))  # a container object alive before the start
    settle_garbage_collector()
    assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, 10, 10)
    assert gc.get_freeze_count() > 0
    assert not any(o is alive for o in gc.get_objects())  # out of the collector's sight


def test_a_larger_threshold_set_by_the_host_is_kept(collector) -> None:
    gc.set_threshold(GC_YOUNG_THRESHOLD * 2, 10, 10)
    settle_garbage_collector()
    assert gc.get_threshold()[0] == GC_YOUNG_THRESHOLD * 2
