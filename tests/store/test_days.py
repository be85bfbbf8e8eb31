"""The daily summary of the intervals (migration 0013) answers exactly what the intervals answer.

Every test runs on a real SQLite file and on the real PostgreSQL server the suite starts. The
"raw" answers are the queries as they read the intervals alone, before the summary existed.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, select, text
from tests.runtime_records import aggregate, ingest

from codewitness.store import Store, migrations, open_store, schema
from codewitness.store.days import rebuild
from codewitness.store.incidents import error_counts
from codewitness.store.problems import REVISION_TOTALS, day_of, store_rows, whole_days_from
from codewitness.store.retention import Retention, parse_rollups, prune

MIDNIGHT = datetime(2026, 11, 3, tzinfo=UTC)
#: An exception type's name as long as ingest keeps (500 characters), with NUL: PostgreSQL stores it
#: encoded, some 6,000 bytes that hardly compress.
_rng = random.Random(5)
LONG_NAME = "\x00" + "".join(chr(_rng.randrange(0x10000, 0x10FFFF)) for _ in range(499))

#: REVISION_TOTALS everywhere as it read the intervals alone (before migration 0013).
RAW_REVISION_TOTALS = (
    "SELECT path, function, revision, SUM(calls) AS calls, SUM(error_count) AS errors, "
    "SUM(total_ns) AS total_ns, MAX(interval_start) AS last FROM runtime_aggregates WHERE interval_start >= :since "
    "GROUP BY path, function, revision"
)


def _time(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _by_revision(rows: list[dict[str, Any]], functions: set[str]) -> dict[tuple[str, str | None], tuple[int, ...]]:
    """Rows of revision totals added up by function and revision (as revision_changes does), with the newest start."""
    found: dict[tuple[str, str | None], list[Any]] = {}
    for row in rows:
        if row["function"] not in functions:
            continue
        seen = found.setdefault((row["function"], row["revision"]), [0, 0, 0, None])
        seen[0] += int(row["calls"])
        seen[1] += int(row["errors"])
        seen[2] += int(row["total_ns"])
        last = _time(row["last"])
        seen[3] = last if seen[3] is None else max(seen[3], last)
    return {key: tuple(value) for key, value in found.items()}


def _raw_totals(store: Store, since: datetime, functions: set[str]) -> dict[tuple[str, str | None], tuple[int, ...]]:
    with store.read() as conn:
        bound = since.replace(tzinfo=None).isoformat(" ", "microseconds") if store.dialect == "sqlite" else since
        rows = [dict(r) for r in conn.execute(text(RAW_REVISION_TOTALS), {"since": bound}).mappings()]
    return _by_revision(rows, functions)


def _summary_totals(
    store: Store, since: datetime, functions: set[str]
) -> dict[tuple[str, str | None], tuple[int, ...]]:
    with store_rows(store) as rows:
        return _by_revision(rows(REVISION_TOTALS, since=since), functions)


def _raw_errors(store: Store, since: datetime | None, functions: set[str]) -> dict[tuple[str, str], int]:
    """Counted errors by function and type from the intervals that had any, as error_counts read them."""
    agg = schema.runtime_aggregates
    query = select(agg.c.function, agg.c.errors).where(agg.c.error_count > 0, agg.c.function.in_(sorted(functions)))
    if since is not None:
        query = query.where(agg.c.interval_start >= since)
    totals: dict[tuple[str, str], int] = {}
    with store.read() as conn:
        for function, by_type in conn.execute(query):
            for name, n in by_type.items():
                totals[(function, name)] = totals.get((function, name), 0) + n
    return totals


def _summary_errors(store: Store, since: datetime | None, functions: set[str]) -> dict[tuple[str, str], int]:
    return {(c.function, c.type): c.count for c in error_counts(store, since=since, functions=functions)}


def _assert_same_answers(store: Store, functions: set[str], sinces: list[datetime | None]) -> None:
    for since in sinces:
        if since is not None:
            assert _summary_totals(store, since, functions) == _raw_totals(store, since, functions), since
        assert _summary_errors(store, since, functions) == _raw_errors(store, since, functions), since


_interval = st.fixed_dictionaries(
    {
        "function": st.sampled_from(["f", "g", "h"]),
        "path": st.sampled_from([None, "shop/a.py", "shop/b.py"]),
        "revision": st.sampled_from([None, "r1", "r2"]),
        # Around three midnights, to the microsecond, so that days and part-days both matter.
        "start": st.integers(min_value=-36 * 3600 * 10**6, max_value=60 * 3600 * 10**6),
        "latencies": st.lists(st.integers(min_value=1, max_value=10**9), min_size=1, max_size=4),
        "errors": st.dictionaries(st.sampled_from(["ValueError", "KeyError"]), st.integers(0, 3), max_size=2),
    }
)
_since = st.one_of(
    st.none(),
    st.integers(min_value=-48, max_value=72).map(lambda h: MIDNIGHT + timedelta(hours=h)),  # midnights among them
    st.integers(min_value=-40 * 3600 * 10**6, max_value=64 * 3600 * 10**6).map(
        lambda us: MIDNIGHT + timedelta(microseconds=us)
    ),
)


def _records(prefix: str, intervals: list[dict[str, Any]]) -> list[dict[str, Any]]:
    records = []
    for i in intervals:
        latencies = i["latencies"]
        errors = {k: min(n, len(latencies)) for k, n in i["errors"].items()}
        start = MIDNIGHT + timedelta(microseconds=i["start"])
        record = aggregate(f"{prefix}.{i['function']}", latencies, errors, start=start, revision=i["revision"] or "")
        record["path"] = i["path"]
        records.append(record)
    return records


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    batches=st.lists(st.lists(_interval, min_size=1, max_size=12), min_size=1, max_size=3),
    sinces=st.lists(_since, min_size=1, max_size=4),
    prune_at=st.one_of(st.none(), st.integers(min_value=0, max_value=96).map(lambda h: MIDNIGHT + timedelta(hours=h))),
)
def test_the_summary_answers_what_the_intervals_answer(
    store: Store, batches: list[list[dict[str, Any]]], sinces: list[datetime | None], prune_at: datetime | None
) -> None:
    """Generated intervals (files, revisions, NULLs, times around midnights) ingested in batches, some
    twice; revision totals and error counts since any time agree with the intervals' -- and again
    after retention rolled them up and deleted the oldest."""
    prefix = f"m{uuid.uuid4().hex[:10]}"  # one store for every example: each its own functions
    functions = {f"{prefix}.{name}" for name in ("f", "g", "h")}
    stored = []
    for batch in batches:
        records = _records(prefix, batch)
        ingest(store, records)
        stored += records
    ingest(store, stored[: len(stored) // 2])  # a retried batch adds nothing
    sinces = [*sinces, _time(datetime.fromisoformat(stored[0]["start"]))]  # exactly an interval's start
    _assert_same_answers(store, functions, sinces)
    if prune_at is not None:
        retention = Retention(rollups=parse_rollups(["1h:10m", "1d:2h"]), aggregates=timedelta(hours=30))
        prune(store, retention, now=prune_at)
        _assert_same_answers(store, functions, sinces)


def test_ingest_adds_each_interval_once_to_its_day(store: Store) -> None:
    day = MIDNIGHT
    records = [
        aggregate("shop.total", [1_000, 3_000], {"ValueError": 1}, start=day + timedelta(hours=1)),
        aggregate("shop.total", [5_000], {}, start=day + timedelta(hours=23, minutes=59)),
        aggregate("shop.total", [7_000], {"ValueError": 1}, start=day + timedelta(days=1)),  # the next day
        aggregate("shop.total", [2_000], {"KeyError": 1}, start=day + timedelta(hours=2), revision="r2"),
    ]
    ingest(store, records)
    ingest(store, records[:2])  # stored already: the summary must not count them twice
    days, errors = schema.runtime_days, schema.runtime_day_errors
    with store.read() as conn:
        summary = {
            (r.day, r.revision): (r.calls, r.error_count, r.total_ns, r.last_start)
            for r in conn.execute(select(days).where(days.c.function == "shop.total"))
        }
        counted = {(r.day, r.type): r.count for r in conn.execute(select(errors))}
    next_day = day + timedelta(days=1)
    assert summary == {
        (day, "r1"): (3, 1, 9_000, day + timedelta(hours=23, minutes=59)),
        (next_day, "r1"): (1, 1, 7_000, next_day),
        (day, "r2"): (1, 1, 2_000, day + timedelta(hours=2)),
    }
    assert counted == {(day, "ValueError"): 1, (next_day, "ValueError"): 1, (day, "KeyError"): 1}


def test_retention_keeps_the_summary_of_what_it_leaves(store: Store) -> None:
    now = MIDNIGHT + timedelta(days=10, hours=12)
    records = [
        aggregate(
            "shop.total",
            [1_000 * (n + 1)],
            {"ValueError": 1} if n % 3 == 0 else {},
            start=MIDNIGHT + timedelta(hours=5 * n),
        )
        for n in range(48)  # ten days, five hours apart
    ]
    ingest(store, records)
    days = schema.runtime_days
    with store.read() as conn:
        before = conn.execute(select(days.c.day, days.c.calls, days.c.total_ns).order_by(days.c.day)).all()
    prune(store, Retention(rollups=parse_rollups(["1d:1d"])), now=now)  # one row per day: same sums
    with store.read() as conn:
        merged = conn.execute(select(days.c.day, days.c.calls, days.c.total_ns).order_by(days.c.day)).all()
        rows = conn.execute(select(schema.runtime_aggregates.c.rollup)).scalars().all()
    assert 86_400 in rows and merged == before
    prune(store, Retention(aggregates=timedelta(days=5)), now=now)
    with store.read() as conn:
        kept = conn.execute(select(days.c.day).order_by(days.c.day)).scalars().all()
        oldest = (
            conn.execute(select(schema.runtime_aggregates.c.interval_start).order_by("interval_start"))
            .scalars()
            .first()
        )
    assert oldest is not None and kept[0] == day_of(oldest) >= now - timedelta(days=6)
    _assert_same_answers(store, {"shop.total"}, [None, MIDNIGHT, now - timedelta(days=5, hours=3)])


def _at_m0012(url: str) -> None:
    """A store as codewitness left it before migration 0013, with intervals in it."""
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.begin() as conn:
            migrations.apply(conn, [m for m in migrations.available() if m.id < "m0013"])
            rows = []
            for n in range(30):
                start = MIDNIGHT + timedelta(hours=7 * n, minutes=n)
                rows.append(
                    {
                        "id": uuid.uuid4().hex, "service": "shop", "revision": None if n % 5 == 0 else f"r{n // 10}",
                        "host": "h1", "pid": 42, "function": f"shop.f{n % 3}", "origin": "ai", "ai_share": 1.0,
                        "generation_ids": ["gen_1"], "models": ["m"], "path": None if n % 7 == 0 else "shop/a.py",
                        "line": 10, "interval_start": start, "interval_end": start + timedelta(seconds=10),
                        "calls": n + 1, "error_count": n % 2, "errors": {"ValueError": n % 2} if n % 2 else {},
                        "histogram": {"scale": 0, "buckets": {}}, "total_ns": 1_000 * n, "max_ns": 1_000,
                        "ingested_at": start,
                    }
                )  # fmt: skip
            conn.execute(schema.runtime_aggregates.insert(), rows)
    finally:
        engine.dispose()


def test_migration_0013_fills_the_summary_from_a_store_with_intervals(db_url: str) -> None:
    _at_m0012(db_url)
    with open_store(db_url) as store:
        with store.read() as conn:
            applied = conn.execute(select(schema.migrations.c.id)).scalars().all()
            filled = conn.execute(select(schema.runtime_days.c.calls)).scalars().all()
        assert "m0013_runtime_days" in applied
        assert sum(filled) == sum(range(1, 31))
        functions = {"shop.f0", "shop.f1", "shop.f2"}
        sinces: list[datetime | None] = [
            None,
            MIDNIGHT,
            MIDNIGHT + timedelta(hours=30, minutes=5),
            MIDNIGHT + timedelta(days=4),
        ]
        _assert_same_answers(store, functions, sinces)
        # Made again, it is the same.
        with store.write() as conn:
            rebuild(conn)
        _assert_same_answers(store, functions, sinces)


def test_the_first_whole_day_starts_at_or_after_the_time_asked() -> None:
    assert whole_days_from(MIDNIGHT) == MIDNIGHT
    assert whole_days_from(MIDNIGHT + timedelta(microseconds=1)) == MIDNIGHT + timedelta(days=1)
    later = datetime(2026, 11, 3, 6, 30, tzinfo=timezone(timedelta(hours=5)))  # 01:30 UTC
    assert whole_days_from(later) == MIDNIGHT + timedelta(days=1)
    assert day_of(later) == MIDNIGHT


def test_writers_in_parallel_add_up_in_the_summary(db_url: str) -> None:
    """Two stores (two processes' worth of connections) ingest batches that add to the same days, in
    opposite orders, at once: every interval is counted once, and no writer deadlocks the other."""
    import threading

    functions = [f"shop.f{n}" for n in range(40)]
    batches = [
        [aggregate(f, [1_000], {"ValueError": 1}, start=MIDNIGHT + timedelta(hours=h)) for f in order]
        for h in range(12)
        for order in (functions, functions[::-1])
    ]
    stores = [open_store(db_url), open_store(db_url)]
    errors: list[BaseException] = []

    def work(store: Store, mine: list[list[dict[str, Any]]]) -> None:
        try:
            for batch in mine:
                ingest(store, batch)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(stores[n % 2], batches[n::4])) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert errors == []
        _assert_same_answers(stores[0], set(functions), [None, MIDNIGHT + timedelta(hours=5, minutes=30)])
        with stores[0].read() as conn:
            total = conn.execute(select(schema.runtime_days.c.calls)).scalars().all()
        assert sum(total) == len(batches) * len(functions)
    finally:
        for store in stores:
            store.close()


def test_error_types_with_nul_are_counted_as_the_intervals_hold_them(store: Store) -> None:
    """PostgreSQL text cannot hold NUL; an exception type the sensor counted may (the intervals keep it in JSON)."""
    records = [
        aggregate("shop.total", [1_000, 2_000, 3_000], {"\x00": 1, "Bad\x00Name": 2}, start=MIDNIGHT),
        aggregate("shop.total", [1_000], {'\x01cw-json:"x"': 1}, start=MIDNIGHT + timedelta(days=1)),
        # As long as a name may be (500 characters), thousands of bytes once encoded: too wide for an index row.
        aggregate("shop.total", [1_000, 2_000], {"\x00" * 500: 1, LONG_NAME: 1}, start=MIDNIGHT),
    ]
    assert ingest(store, records).inserted == 3
    assert _summary_errors(store, None, {"shop.total"}) == {
        ("shop.total", "\x00"): 1,
        ("shop.total", "Bad\x00Name"): 2,
        ("shop.total", '\x01cw-json:"x"'): 1,
        ("shop.total", "\x00" * 500): 1,
        ("shop.total", LONG_NAME): 1,
    }
    _assert_same_answers(store, {"shop.total"}, [None, MIDNIGHT + timedelta(hours=1)])
