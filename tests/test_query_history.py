"""A knowledge base's recent query coverages: in memory per process, in the catalog a batch at a time."""

from __future__ import annotations

import statistics

import pytest

from app.catalog import Catalog
from app.query_history import FLUSH, KEPT, MIN_QUERIES, QueryHistory, median_coverage


@pytest.fixture
def catalog(tmp_path):
    return Catalog(tmp_path / "catalog.sqlite")


def test_no_median_until_enough_queries():
    assert median_coverage([0.3] * (MIN_QUERIES - 1)) is None
    assert median_coverage([0.1, 0.9, 0.3] + [0.5] * (MIN_QUERIES - 3)) == 0.5


def test_history_is_per_kb_persisted_in_batches_and_trimmed(catalog):
    a, b = catalog.create_kb("a", "m", 384), catalog.create_kb("b", "m", 384)
    history = QueryHistory(catalog)
    values = [i / 100 for i in range(MIN_QUERIES + FLUSH + 3)]
    for v in values:
        history.add(a, v)
    history.add(b, 5.0)
    assert history.median(a) == statistics.median(values)
    assert history.median(b) is None
    # A new process sees what was written: whole batches of FLUSH, the last few not yet.
    saved = len(values) // FLUSH * FLUSH
    assert catalog.query_coverage(a, KEPT) == values[:saved]
    assert QueryHistory(catalog).median(a) == statistics.median(values[:saved])
    more = [float(v) for v in range(KEPT + FLUSH)]
    for v in more:
        history.add(a, v)
    every = values + more
    saved = every[: len(every) // FLUSH * FLUSH]
    assert catalog.query_coverage(a, 10 * KEPT) == saved[-KEPT:]  # the newest KEPT written, oldest first
    assert history.median(a) == statistics.median(every[-KEPT:])


def test_history_goes_with_its_kb(catalog):
    kb = catalog.create_kb("kb", "m", 384)
    catalog.add_query_coverage(kb, [0.2] * FLUSH, KEPT)
    catalog.delete_kb(kb)
    catalog.add_query_coverage(kb, [0.2] * FLUSH, KEPT)  # a search that was running while it was dropped
    again = catalog.create_kb("kb", "m", 384)
    assert catalog.query_coverage(kb, KEPT) == [] and catalog.query_coverage(again, KEPT) == []


def test_flush_writes_what_is_left_and_nothing_twice(catalog):
    a, b = catalog.create_kb("a", "m", 384), catalog.create_kb("b", "m", 384)
    history = QueryHistory(catalog)
    history.add(a, 0.1)
    history.add(a, 0.2)
    history.add(b, 0.3)
    history.flush()
    history.flush()
    assert catalog.query_coverage(a, KEPT) == [0.1, 0.2] and catalog.query_coverage(b, KEPT) == [0.3]
    for _ in range(FLUSH):
        history.add(a, 0.5)  # a whole batch again: written once, by add
    history.flush()
    assert catalog.query_coverage(a, KEPT) == [0.1, 0.2] + [0.5] * FLUSH
