"""A function's running totals: the meters fill the record format's histogram exactly, under threads too."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from codewitness.facts import MAX_TRACKED_NS, Histogram, bucket_index
from codewitness.sensor.aggregate import FunctionStats, error_name
from codewitness.sensor.meter import BUCKET_OF, COMPILED, TABLE_BELOW, PyMeter, meter_type

#: Both meters where the compiled one is built (``scripts/test`` checks that it is).
METERS = [PyMeter, *([meter_type(compiled=True)] if COMPILED else [])]


@pytest.mark.parametrize("meter", METERS)
def test_function_stats_fast_path_matches_the_histogram(meter: Any) -> None:
    stats = FunctionStats(meter())
    reference = Histogram()
    for ns in (0, 1, 127, 128, 5_000, 123_456_789):
        stats.ok(ns)
        reference.record(ns)
    stats.ok(7_000)
    stats.error("ValueError")
    reference.record(7_000)
    drained = stats.drain()
    assert drained is not None
    assert drained.histogram.buckets == reference.buckets
    assert drained.calls == 7
    assert drained.errors == {"ValueError": 1}
    assert abs(drained.max_ns - 123_456_789) <= 123_456_789 * 0.02
    exact_total = 0 + 1 + 127 + 128 + 5_000 + 123_456_789 + 7_000
    assert abs(drained.total_ns - exact_total) <= exact_total * 0.02
    assert stats.drain() is None


@pytest.mark.parametrize("meter", METERS)
def test_latencies_beyond_the_tracked_range_land_in_the_last_bucket(meter: Any) -> None:
    stats = FunctionStats(meter())
    stats.ok(MAX_TRACKED_NS * 10)
    drained = stats.drain()
    assert drained is not None and drained.calls == 1
    assert drained.histogram.quantile(0.5) >= MAX_TRACKED_NS * 0.98


@pytest.mark.parametrize("meter", METERS)
def test_function_stats_is_exact_under_threads(meter: Any) -> None:
    stats = FunctionStats(meter())
    drained_calls = 0

    def work() -> None:
        for i in range(5000):
            stats.ok(i)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        got = stats.drain()
        drained_calls += got.calls if got else 0
    for t in threads:
        t.join()
    got = stats.drain()
    drained_calls += got.calls if got else 0
    assert drained_calls == 30_000


def test_the_bucket_table_agrees_with_bucket_index_everywhere_it_covers() -> None:
    assert len(BUCKET_OF) == TABLE_BELOW
    assert [ns for ns in range(TABLE_BELOW) if BUCKET_OF[ns] != bucket_index(ns)] == []


def test_an_exception_class_is_named_without_running_its_metaclass() -> None:
    ran: list[str] = []

    class Loud(type):
        def __hash__(cls) -> int:
            ran.append("hash")
            raise RuntimeError("no hashing")

        def __eq__(cls, other: object) -> bool:
            ran.append("eq")
            return True

        @property
        def __module__(cls) -> str:  # type: ignore[override]
            ran.append("module")
            return "elsewhere"

    first = Loud("PricingError", (Exception,), {"__module__": "shop.pricing"})
    second = Loud("PricingError", (Exception,), {"__module__": "shop.billing"})
    assert error_name(first) == "shop.pricing.PricingError"
    assert error_name(second) == "shop.billing.PricingError"  # told apart by identity
    assert error_name(first) == "shop.pricing.PricingError"
    assert error_name(ValueError) == "ValueError"
    assert ran == []
