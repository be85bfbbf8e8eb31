"""The latency histogram keeps quantiles within 2% and merges exactly."""

from __future__ import annotations

import math
import threading
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codewitness.sensor.aggregate import (
    BUCKET_OF,
    MAX_TRACKED_NS,
    TABLE_BELOW,
    FunctionStats,
    Histogram,
    bucket_index,
    bucket_value,
    error_name,
    merge_histograms,
)
from codewitness.sensor.meter import COMPILED, PyMeter, meter_type

#: Both meters where the compiled one is built (``scripts/test`` checks that it is).
METERS = [PyMeter, *([meter_type(compiled=True)] if COMPILED else [])]


def exact_quantile(values: list[int], q: float) -> int:
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q * len(ordered))))
    return ordered[rank - 1]


latencies = st.lists(st.integers(min_value=0, max_value=10**12), min_size=1, max_size=400)


@given(latencies, st.sampled_from([0.5, 0.9, 0.95, 0.99, 1.0]))
@settings(max_examples=300, deadline=None)
def test_quantiles_are_within_two_percent(values: list[int], q: float) -> None:
    hist = Histogram()
    for v in values:
        hist.record(v)
    truth = exact_quantile(values, q)
    estimate = hist.quantile(q)
    assert abs(estimate - truth) <= 0.02 * truth + 0.5


@given(st.integers(min_value=0, max_value=10**15))
def test_bucket_of_a_value_contains_it(value: int) -> None:
    index = bucket_index(value)
    assert abs(bucket_value(index) - value) <= max(0.5, value / 64)


@given(
    st.lists(st.integers(min_value=0, max_value=10**9), max_size=200), st.integers(min_value=0, max_value=200)
)
def test_merging_equals_recording_everything_once(values: list[int], cut: int) -> None:
    left, right, whole = Histogram(), Histogram(), Histogram()
    for v in values[:cut]:
        left.record(v)
    for v in values[cut:]:
        right.record(v)
    for v in values:
        whole.record(v)
    merged = merge_histograms([left.to_json(), right.to_json()])
    assert merged.buckets == whole.buckets
    assert Histogram.from_json(whole.to_json()).buckets == whole.buckets


def test_bucket_indexes_grow_with_values() -> None:
    previous = -1
    for value in list(range(0, 5000)) + [10**k for k in range(4, 13)]:
        index = bucket_index(value)
        assert index >= previous
        previous = index


def test_empty_histogram_and_bad_json() -> None:
    assert Histogram().quantile(0.99) == 0.0
    for bad in ({"-1": 3}, {"5": -2}, {"x": 1}):
        try:
            Histogram.from_json(bad)
        except ValueError:
            continue
        raise AssertionError(f"{bad} was accepted")


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
