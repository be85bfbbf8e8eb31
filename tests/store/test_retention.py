"""Retention: intervals rolled up by age keep exact counts and latency quantiles; old events go (SQLite, PostgreSQL)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from tests.runtime_records import aggregate, exception, ingest, review, source

from codewitness.config import RetentionSection
from codewitness.errors import InputError
from codewitness.facts import Histogram
from codewitness.store import Store, schema
from codewitness.store.queries import summarize
from codewitness.store.retention import Retention, parse_rollups, prune, retention_of, stats, vacuum

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
DEFAULT = Retention(rollups=parse_rollups(["1d:1m", "7d:1h"]), events=timedelta(days=30))


def _exact_quantile(values: list[int], q: float) -> int:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, -(-int(q * len(ordered) * 1000) // 1000) - 1))]


def _fill(store: Store, days: float, *, every: timedelta = timedelta(minutes=7)) -> dict[str, list[int]]:
    """Intervals of two functions from two processes, ``days`` back from NOW; the latencies by function."""
    rng = random.Random(7)
    latencies: dict[str, list[int]] = {"shop.a": [], "shop.b": []}
    records = []
    when = NOW - timedelta(days=days)
    while when < NOW:
        for function, scale in (("shop.a", 50_000), ("shop.b", 3_000_000)):
            for pid in (41, 42):
                values = [int(rng.lognormvariate(0, 1) * scale) + 1 for _ in range(rng.randint(1, 12))]
                latencies[function].extend(values)
                errors = {"ValueError": 1} if rng.random() < 0.3 else {}
                records.append(aggregate(function, values, errors, start=when, pid=pid))
        when += every
    for start in range(0, len(records), 2000):
        ingest(store, records[start : start + 2000])
    return latencies


def _rows(store: Store) -> list[Any]:
    agg = schema.runtime_aggregates
    with store.read() as conn:
        return list(conn.execute(select(agg)).mappings())


def test_rollup_keeps_exact_counts_and_the_quantiles_within_2_percent(store: Store) -> None:
    latencies = _fill(store, days=10)
    before = _rows(store)
    result = prune(store, DEFAULT, now=NOW)
    after = _rows(store)
    assert result.merged > 0 and result.written > 0
    assert len(after) < len(before) / 2
    assert len(before) - result.merged + result.written == len(after)
    for function, values in latencies.items():
        mine = [r for r in after if r["function"] == function]
        assert sum(r["calls"] for r in mine) == len(values)  # exact
        was = [r for r in before if r["function"] == function]
        assert sum(r["error_count"] for r in mine) == sum(r["error_count"] for r in was)
        assert sum(r["errors"].get("ValueError", 0) for r in mine) == sum(r["error_count"] for r in was)
        merged = Histogram()
        for r in mine:
            merged.merge(Histogram.from_json(r["histogram"]))
        assert merged.count == len(values)
        for q in (0.5, 0.9, 0.95, 0.99, 0.999):
            exact = _exact_quantile(values, q)
            assert abs(merged.quantile(q) - exact) <= 0.02 * exact, (function, q)
        assert max(r["max_ns"] for r in mine) == max(r["max_ns"] for r in was)
    # The newest day is as sent; a day to a week: one row per minute; older: one per hour.
    for r in after:
        age = NOW - r["interval_start"]
        assert r["rollup"] == (0 if age < timedelta(days=1) else 60 if age < timedelta(days=7) else 3600), age
    hourly = [r for r in after if r["rollup"] == 3600]
    assert all(r["pid"] == 0 for r in hourly)  # two processes merged
    assert len({(r["function"], r["interval_start"].replace(minute=0)) for r in hourly}) == len(hourly)
    # What the runtime view reads: the same totals before and after.
    summary = {s["function"]: s for s in summarize(store)}
    assert summary["shop.a"]["calls"] == len(latencies["shop.a"])


def test_pruning_again_changes_nothing_and_late_intervals_join_their_span(store: Store) -> None:
    _fill(store, days=3, every=timedelta(minutes=20))
    prune(store, DEFAULT, now=NOW)
    first = {r["id"]: r for r in _rows(store)}
    again = prune(store, DEFAULT, now=NOW)
    assert (again.merged, again.written) == (0, 0)
    assert {r["id"]: r for r in _rows(store)} == first
    # An interval that arrives late, inside a minute already merged, is merged into that row.
    merged = next(r for r in first.values() if r["rollup"] == 60 and r["function"] == "shop.a")
    late = aggregate("shop.a", [1000, 2000], {}, start=merged["interval_start"] + timedelta(seconds=5), pid=41)
    ingest(store, [late])
    result = prune(store, DEFAULT, now=NOW)
    assert (result.merged, result.written) == (2, 1)
    row = {r["id"]: r for r in _rows(store)}[merged["id"]]  # the same id: it replaced itself
    assert row["calls"] == merged["calls"] + 2
    assert Histogram.from_json(row["histogram"]).count == row["calls"]


def test_events_past_their_age_are_deleted_and_review_items_are_kept(store: Store) -> None:
    old, recent = NOW - timedelta(days=45), NOW - timedelta(days=2)
    ingest(
        store,
        [
            exception("shop.a", "old", when=old),
            exception("shop.a", "recent", when=recent),
            review("shop.a", when=old),
            aggregate("shop.a", [1000], {}, start=old),
        ],
    )
    result = prune(store, Retention(events=timedelta(days=30), aggregates=timedelta(days=40)), now=NOW)
    assert result.deleted["runtime_exceptions"] == 1 and result.deleted["runtime_aggregates"] == 1
    with store.read() as conn:
        messages = conn.execute(select(schema.runtime_exceptions.c.message)).scalars().all()
        reviews = conn.execute(select(func.count()).select_from(schema.review_items)).scalar()
        intervals = conn.execute(select(func.count()).select_from(schema.runtime_aggregates)).scalar()
    assert messages == ["recent"]
    assert reviews == 1  # a person's queue: never pruned
    assert intervals == 0


def test_captures_older_than_a_step_keep_one_per_failure_and_span_with_the_summed_count(store: Store) -> None:
    old = NOW - timedelta(days=3)
    hour = old.replace(minute=0, second=0, microsecond=0)
    records = []
    for minute, (fingerprint, count) in enumerate(
        [("aaaa", 7), ("aaaa", 1), ("bbbb", 2), ("aaaa", 4), (None, 1), (None, 1)]
    ):
        record = exception("shop.a", f"failure {fingerprint}", when=hour + timedelta(minutes=minute * 5), count=count)
        if fingerprint:
            record["fingerprint"] = fingerprint
        records.append(record)
    records.append({**exception("shop.a", "failure aaaa", when=hour + timedelta(hours=1)), "fingerprint": "aaaa"})
    records.append(
        {**exception("shop.a", "recent", when=NOW - timedelta(minutes=5)), "fingerprint": "aaaa", "count": 3}
    )
    ingest(store, records)
    result = prune(store, retention_of(RetentionSection()), now=NOW)
    assert result.captures_merged == 3  # two of aaaa and one of the old sensor's, in that hour
    exc = schema.runtime_exceptions
    with store.read() as conn:
        rows = conn.execute(select(exc.c.fingerprint, exc.c.message, exc.c.count, exc.c.time)).all()
    kept = sorted((r.fingerprint or "-", r.message, r.count) for r in rows)
    assert kept == [
        ("-", "failure None", 2),  # a sensor before fingerprints: told apart by type and message
        ("aaaa", "failure aaaa", 1),  # the next hour: a span of its own
        ("aaaa", "failure aaaa", 12),  # 7 + 1 + 4, kept as the newest of them
        ("aaaa", "recent", 3),  # younger than a day
        ("bbbb", "failure bbbb", 2),
    ]
    assert sum(r.count for r in rows) == sum(int(r.get("count", 1)) for r in records)
    assert (prune(store, retention_of(RetentionSection()), now=NOW).captures_merged, len(rows)) == (0, 5)


def test_stats_say_what_is_stored_and_vacuum_gives_space_back(store: Store) -> None:
    _fill(store, days=2, every=timedelta(minutes=2))
    filled = stats(store)
    tables = {t.name: t for t in filled.tables}
    assert tables["runtime_aggregates"].rows == sum(filled.aggregates_by_rollup.values()) > 1000
    assert filled.aggregates_by_rollup == {0: tables["runtime_aggregates"].rows}
    assert tables["runtime_aggregates"].oldest is not None and tables["runtime_aggregates"].oldest < NOW
    assert filled.bytes > 0
    prune(store, DEFAULT, now=NOW)
    pruned = stats(store)
    assert set(pruned.aggregates_by_rollup) == {0, 60}
    before, after = vacuum(store)
    if store.dialect == "sqlite":
        assert pruned.free_bytes > 0
        assert after < before
        assert stats(store).free_bytes == 0


@pytest.mark.parametrize(
    ("steps", "said"),
    [
        (["1d"], "AGE:SPAN"),
        (["1d:7x"], "cannot read age"),
        (["1d:7m"], "divide a day"),
        (["1d:2m", "7d:3m"], "must nest"),
        (["7d:1m", "1d:1h"], "must nest"),
    ],
)
def test_rollup_steps_that_cannot_work_are_refused(steps: list[str], said: str) -> None:
    with pytest.raises(InputError, match=said):
        parse_rollups(steps)


def test_the_default_steps_read_back() -> None:
    (minute, hour) = parse_rollups(["7d:1h", "1d:1m"])
    assert (minute.after, minute.span_s, hour.after, hour.span_s) == (timedelta(days=1), 60, timedelta(days=7), 3600)


def test_exception_counts_and_fingerprints_are_stored(store: Store) -> None:
    record = {**exception("shop.a", "no such table: t1"), "fingerprint": "0123456789abcdef", "count": 111}
    plain = exception("shop.a", "malformed JSON")  # a sensor before fingerprints: one occurrence
    result = ingest(store, [record, plain])
    assert result.inserted == 2
    with store.read() as conn:
        rows = {r.message: r for r in conn.execute(select(schema.runtime_exceptions))}
    assert (rows["no such table: t1"].fingerprint, rows["no such table: t1"].count) == ("0123456789abcdef", 111)
    assert (rows["malformed JSON"].fingerprint, rows["malformed JSON"].count) == (None, 1)
    bad = ingest(store, [{**exception("shop.a", "x"), "count": 0}, {**source("shop.a"), "kind": "exception"}])
    assert bad.bad == 2 and "count: not an integer from 1 to 2**63-1" in bad.reasons
