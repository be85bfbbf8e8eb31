"""The runtime record format: kinds, the latency histogram (quantiles within 2%, exact merges) and
the JSON-lines codec (one bad record costs one record; every unreadable line is counted)."""

from __future__ import annotations

import fnmatch
import json
import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from codewitness.facts import (
    LAST_BUCKET,
    SEGMENT_GLOB,
    SHAPES,
    BadRecord,
    Histogram,
    Kind,
    bucket_index,
    bucket_value,
    decode_batch,
    encode_batch,
    merge_histograms,
    segment_name,
)


def test_a_kind_is_its_plain_string_on_the_wire() -> None:
    wire = ["aggregate", "exception", "sample", "sensor", "breach", "invariant", "review", "route", "dependency"]
    wire.append("unwatched")
    assert [kind.value for kind in Kind] == wire
    assert json.dumps({"kind": Kind.HEALTH}) == '{"kind": "sensor"}'
    assert Kind("breach") is Kind.BREACH
    assert set(SHAPES) == set(Kind)


def test_every_shape_names_its_source_and_kind() -> None:
    for shape in SHAPES.values():
        assert {"kind", "id", "service", "host", "pid"} <= shape.__required_keys__, shape


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


def test_a_histogram_beyond_the_format_is_refused_with_its_reason() -> None:
    reasons = {}
    for bad in ([1], {"1": 1.5}, {"1": True}, {"01a": 1}, {str(LAST_BUCKET + 1): 1}, {"9" * 40: 1}, {"1": 2**63}):
        try:
            Histogram.from_json(bad)
        except BadRecord as exc:
            reasons[str(exc)] = True
            continue
        raise AssertionError(f"{bad} was accepted")
    assert all(reason.startswith("histogram: ") for reason in reasons)
    assert Histogram.from_json({str(LAST_BUCKET): 2**63 - 1}).count == 2**63 - 1


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=10,
)
records = st.lists(
    st.fixed_dictionaries({"kind": st.sampled_from([k.value for k in Kind]), "id": st.text(min_size=1)}).flatmap(
        lambda r: st.dictionaries(st.text(), json_values, max_size=4).map(lambda extra: {**extra, **r})
    ),
    max_size=8,
)


@given(records)
def test_a_batch_decodes_to_the_records_it_encoded(batch: list[dict[str, Any]]) -> None:
    encoded = encode_batch(batch)
    assert (encoded.repaired, encoded.dropped) == (0, 0)
    assert decode_batch(encoded.data) == (batch, 0)


def test_one_bad_value_costs_one_record_and_a_lone_surrogate_is_spelled_out() -> None:
    circular: dict[str, Any] = {"kind": "sample", "id": "c"}
    circular["self"] = circular
    batch = [{"kind": "sample", "id": "a", "path": "caf\udce9"}, circular, {"kind": "sample", "id": "b", "x": object}]
    encoded = encode_batch(batch)
    assert (encoded.repaired, encoded.dropped) == (1, 1)
    decoded, unreadable = decode_batch(encoded.data)
    assert unreadable == 0
    assert [r["id"] for r in decoded] == ["a", "b"]
    assert decoded[0]["path"] == "caf\\udce9"
    assert decoded[1]["x"] == str(object)


def test_every_line_that_is_not_a_record_is_counted() -> None:
    lines = [b'{"kind": "sample", "id": "a"}', b"", b"not json", b"[1]", b'{"id": 5, "kind": "x"}', b'{"kind": "x"}']
    lines += [b"\xff\xfe", b"[" * 100_000, b'{"kind": "sample", "id": "cut']
    decoded, unreadable = decode_batch(b"\n".join(lines))
    assert [r["id"] for r in decoded] == ["a"]
    assert unreadable == 7


@given(st.lists(st.tuples(st.integers(0, 2**63), st.integers(1, 4_194_304)), min_size=2, max_size=10))
def test_segment_names_sort_by_the_time_they_were_begun(begun: list[tuple[int, int]]) -> None:
    names = [segment_name(ns, pid) for ns, pid in begun]
    assert all(fnmatch.fnmatch(name, SEGMENT_GLOB) for name in names)
    by_time = [segment_name(ns, pid) for ns, pid in sorted(begun, key=lambda b: b[0])]
    assert [n.split("-")[1] for n in sorted(names)] == [n.split("-")[1] for n in by_time]
