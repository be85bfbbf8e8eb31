"""Runtime facts in the store: idempotent ingest and merged per-function summaries (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from codewitness.facts import Histogram
from codewitness.ingest import ingest_batch
from codewitness.store import Store, schema
from codewitness.store.queries import summarize

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def header(function: str, origin: str = "ai", **extra: Any) -> dict[str, Any]:
    return {
        "id": uuid.uuid4().hex,
        "service": "shop",
        "revision": "r1",
        "host": "h1",
        "pid": 42,
        "function": function,
        "origin": origin,
        "ai_share": 1.0 if origin == "ai" else 0.0,
        "generation_ids": ["gen_1"] if origin == "ai" else [],
        "models": ["claude-sonnet-4-5"] if origin == "ai" else [],
        "path": "shop/pricing.py",
        "line": 10,
        **extra,
    }


def aggregate(
    function: str, latencies_ns: list[int], errors: dict[str, int], start: datetime, **kw: Any
) -> dict:
    hist = Histogram()
    for ns in latencies_ns:
        hist.record(ns)
    return {
        **header(function, **kw),
        "kind": "aggregate",
        "start": start.isoformat(),
        "end": (start + timedelta(seconds=10)).isoformat(),
        "calls": len(latencies_ns),
        "errors": errors,
        "histogram": hist.to_json(),
        "total_ns": sum(latencies_ns),
        "max_ns": max(latencies_ns),
    }


def exception(function: str, when: datetime, **kw: Any) -> dict[str, Any]:
    return {
        **header(function, **kw),
        "kind": "exception",
        "time": when.isoformat(),
        "type": "ValueError",
        "message": "bad sku \x00 with a NUL",
        "stack": [{"file": "shop/pricing.py", "line": 14, "function": "quote"}],
        "arguments": {"sku": "x", "password": "[REDACTED]", "note": "nul \x00 here"},
    }


def test_ingest_twice_adds_nothing(store: Store) -> None:
    records = [
        aggregate("shop.quote", [1_000_000] * 9 + [50_000_000], {"ValueError": 1}, T0),
        exception("shop.quote", T0 + timedelta(seconds=3)),
        {
            **header("shop.quote"),
            "kind": "sample",
            "time": T0.isoformat(),
            "duration_ns": 5,
            "arguments": {"a": 1},
            "result": [1, 2],
        },
        {
            **header("x"),
            "kind": "sensor",
            "start": T0.isoformat(),
            "end": T0.isoformat(),
            "dropped_events": 3,
            "suppressed_exceptions": 1,
            "internal_errors": {"check": 2},
            "exporters": {},
        },
    ]
    first = ingest_batch(store, records, source="test")
    assert (first.inserted, first.duplicates, first.bad) == (4, 0, 0)
    assert first.by_kind == {"aggregate": 1, "exception": 1, "sample": 1, "sensor": 1}
    second = ingest_batch(store, records, source="test")
    assert (second.inserted, second.duplicates) == (0, 4)
    with store.read() as conn:
        for table in (
            schema.runtime_aggregates,
            schema.runtime_exceptions,
            schema.runtime_samples,
            schema.runtime_sensor_health,
        ):
            assert len(conn.execute(table.select()).all()) == 1


def test_malformed_records_are_counted_and_skipped(store: Store) -> None:
    good = aggregate("shop.quote", [1000], {}, T0)
    bad = [
        {"kind": "aggregate", "id": "x1"},  # fields missing
        {**good, "id": "x2", "calls": 5},  # histogram does not add up
        {**good, "id": "x3", "start": "yesterday"},
        {"kind": "mystery", "id": "x4", **header("f")},
        {**good, "id": "x5", "histogram": {"-3": 1}},
    ]
    counts = ingest_batch(store, [good, *bad], source="test")
    assert (counts.inserted, counts.bad) == (1, 5)


def test_summaries_merge_intervals_and_put_ai_beside_human(store: Store) -> None:
    ai_latencies = [i * 1000 for i in range(1, 1001)]  # 1 us .. 1 ms
    ingest_batch(
        store,
        [
            aggregate("shop.quote", ai_latencies[:500], {"ValueError": 2}, T0),
            aggregate(
                "shop.quote", ai_latencies[500:], {"ValueError": 1, "KeyError": 1}, T0 + timedelta(seconds=10)
            ),
            aggregate("shop.helper", [2_000] * 10, {}, T0, origin="human"),
            exception("shop.quote", T0 + timedelta(seconds=1)),
            exception("shop.quote", T0 + timedelta(seconds=12)),
        ],
        source="test",
    )
    summaries = summarize(store)
    assert [s["function"] for s in summaries] == ["shop.quote", "shop.helper"]
    quote = summaries[0]
    assert quote["calls"] == 1000
    assert quote["errors"] == 4
    assert quote["errors_by_type"] == {"ValueError": 3, "KeyError": 1}
    assert quote["error_rate"] == 0.004
    assert abs(quote["p50_ms"] - 0.5) <= 0.5 * 0.02
    assert abs(quote["p95_ms"] - 0.95) <= 0.95 * 0.02
    assert abs(quote["p99_ms"] - 0.99) <= 0.99 * 0.02
    assert quote["origin"] == "ai" and quote["models"] == ["claude-sonnet-4-5"]
    assert [e["time"] for e in quote["exceptions"]] == [
        (T0 + timedelta(seconds=12)).isoformat(),
        (T0 + timedelta(seconds=1)).isoformat(),
    ]
    assert quote["exceptions"][0]["arguments"]["note"] == "nul \x00 here"
    assert quote["exceptions"][0]["message"] == "bad sku \x00 with a NUL"
    assert summaries[1]["origin"] == "human" and summaries[1]["exceptions"] == []

    only = summarize(store, function="shop.helper")
    assert [s["function"] for s in only] == ["shop.helper"]
    pattern = summarize(store, function="shop.q*")
    assert [s["function"] for s in pattern] == ["shop.quote"]
    later = summarize(store, since=T0 + timedelta(seconds=11))
    assert later[0]["calls"] == 500 and len(later[0]["exceptions"]) == 1


def test_a_summary_over_many_intervals_is_summed_by_the_database(store: Store, monkeypatch: Any) -> None:
    # Before: every stored interval was read as a row and its histogram parsed and checked in
    # Python (Histogram.from_json once per interval), which made `runtime` take seconds on a
    # store of a day of intervals. Now the database sums the counts and the maps are merged from
    # their JSON text in bulk: no interval is parsed one by one, and the answer is the same.
    records: list[dict[str, Any]] = []
    expected: dict[str, dict[str, Any]] = {}
    for i in range(240):
        name = ("shop.quote", "shop.total", "shop.tax")[i % 3]
        latencies = [1_000 * (1 + (i * 7 + k) % 50) for k in range(1 + i % 4)]
        errors = {"ValueError": 1} if i % 5 == 0 else ({"KeyError": 2} if i % 7 == 0 else {})
        origin = "human" if name == "shop.tax" and i > 200 else "ai"
        record = aggregate(name, latencies, errors, T0 + timedelta(seconds=10 * i), origin=origin)
        if i % 11 == 0:
            record["service"], record["models"] = "shop-worker", ["gpt-5"]
        records.append(record)
        want = expected.setdefault(name, {"calls": 0, "hist": Histogram(), "errors": {}, "models": set()})
        want["calls"] += len(latencies)
        want["hist"].merge(Histogram.from_json(record["histogram"]))
        for error_type, n in errors.items():
            want["errors"][error_type] = want["errors"].get(error_type, 0) + n
        want["models"].update(record["models"])
        want["origin"], want["last"] = origin, record["end"]
        want.setdefault("first", record["start"])
    assert ingest_batch(store, records, source="test").inserted == 240
    parsed = []
    real_from_json = Histogram.from_json.__func__  # type: ignore[attr-defined]

    def counted(cls: type[Histogram], value: Any) -> Histogram:
        parsed.append(value)
        return real_from_json(cls, value)  # type: ignore[no-any-return]

    monkeypatch.setattr(Histogram, "from_json", classmethod(counted))
    summaries = {s["function"]: s for s in summarize(store)}
    assert parsed == []
    assert set(summaries) == set(expected)
    for name, want in expected.items():
        got = summaries[name]
        assert got["calls"] == want["calls"]
        assert got["errors_by_type"] == dict(sorted(want["errors"].items()))
        assert got["models"] == sorted(want["models"])
        assert got["services"] == ["shop", "shop-worker"]
        assert got["origin"] == want["origin"]
        assert (got["first_seen"], got["last_seen"]) == (want["first"], want["last"])
        for q, key in ((0.5, "p50_ms"), (0.95, "p95_ms"), (0.99, "p99_ms")):
            assert got[key] == round(want["hist"].quantile(q) / 1e6, 6)


def test_a_sum_past_64_bits_is_still_exact(store: Store) -> None:
    # SQLite's SUM stops at 2**63-1 with an error; the summary then reads the rows one by one.
    big = 2**62 + 5
    records = []
    for i in range(3):
        record = aggregate("shop.quote", [1_000], {}, T0 + timedelta(seconds=10 * i))
        record["calls"], record["total_ns"] = big, big
        record["histogram"] = {"10": big}
        records.append(record)
    assert ingest_batch(store, records, source="test").inserted == 3
    (summary,) = summarize(store)
    assert summary["calls"] == 3 * big and summary["mean_ms"] == round(1 / 1e6, 6)
