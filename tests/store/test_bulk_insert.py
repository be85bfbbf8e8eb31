"""The bulk insert of runtime rows stores exactly what SQLAlchemy's own ``table.insert()`` stores.

:class:`codewitness.store.runtime.BulkInsert` binds parameters itself (JSON and times converted by
its own code, the rest by the column types' bind processors) and sends them in one DB-API
``executemany``. Every record kind's row, with awkward values, goes in both ways, and each column
is read back as the database's own text (``CAST(... AS TEXT)``) on SQLite and PostgreSQL.
"""

from __future__ import annotations

import math
import threading
import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import JSON, Table, event, text
from sqlalchemy.dialects import postgresql, sqlite
from tests import runtime_records as rr

from codewitness.facts import Kind
from codewitness.ingest import _flow_row, _row
from codewitness.store import Store
from codewitness.store.runtime import FLOWS, TABLES, BulkInsert, Written, _bind, _group, write_rows
from codewitness.store.schema import runtime_aggregates, runtime_samples
from codewitness.store.types import UTCDateTime

NOW = datetime(2026, 11, 2, 8, 30, 1, 123456, tzinfo=UTC)
LATER = datetime(2026, 11, 1, 12, 0, 0, 5, tzinfo=timezone(timedelta(hours=5, minutes=30)))


def _records() -> list[dict[str, Any]]:
    sample_without_output = rr.sample("shop.pricing.quote", {"sku": "x"}, 3)
    sample_without_output["output"] = None
    return [
        rr.aggregate("shop.pricing.quote", [900, 1_500, 10**9], {"ValueError": 2, "Ключ": 1}, start=LATER),
        rr.aggregate("shop.pricing.human", [5], origin="human", revision=None, line=None),
        {
            **rr.exception("shop.pricing.quote", "nul \x00 and a lone \udc80 surrogate, ünïcode", when=LATER),
            "arguments": {"nan": math.nan, "inf": -math.inf, "big": 2**100, "nested": [[{"k": [None, True]}]]},
            "flow": rr.flow(statements=["SELECT 1"]),
        },
        rr.breach("shop.pricing.quote", "result <= paid"),
        rr.invariant("shop.pricing.quote", "result >= 0", 10**12, 1),
        rr.review("shop.pricing.quote"),
        rr.sample("shop.pricing.quote", {"sku": "x", "n": 1.5}, {"total": 3}),
        sample_without_output,
        rr.route("/orders/{order_id}", [1_000, 2_000], errors=1),
        rr.route("/health", [10], function=None),
        rr.dependency("SELECT * FROM orders WHERE id = ?", calls=7, requests=2),
        {**rr.dependency("SELECT 1", route=None, function=None), "details": {"rows": 3}},
    ]


def _as_text(conn: Any, table: Table, key: str) -> tuple[str | None, ...]:
    columns = [c.name for c in table.c if c.name != "id"]
    select = ", ".join(f"CAST({c} AS TEXT)" for c in columns)
    row = conn.execute(text(f"SELECT {select} FROM {table.name} WHERE id = :id"), {"id": key}).one()
    return tuple(row)


def test_every_kind_reads_back_as_sqlalchemys_own_insert_wrote_it(store: Store) -> None:
    rows: dict[Kind, dict[str, dict[str, Any]]] = {kind: {} for kind in Kind}
    flows: dict[str, dict[str, Any]] = {}
    theirs: list[tuple[Table, dict[str, Any]]] = []
    for record in _records():
        kind, row = _row(record, NOW)
        flow = _flow_row(record, kind, row) if "flow" in record else None
        ours = {**row, "id": "a" + row["id"]}
        rows[kind][ours["id"]] = ours
        theirs.append((TABLES[kind], {**row, "id": "b" + row["id"]}))
        if flow is not None:
            flows[ours["id"]] = {**flow, "id": ours["id"]}
            theirs.append((FLOWS, {**flow, "id": "b" + row["id"]}))
    written = write_rows(store, rows, flows)
    assert written.refused == []
    assert sum(written.inserted.values()) == len(_records())
    with store.write() as conn:
        for table, row in theirs:
            conn.execute(table.insert(), [row])
    compared = 0
    with store.read() as conn:
        for table, row in theirs:
            key = row["id"][1:]
            assert _as_text(conn, table, "a" + key) == _as_text(conn, table, "b" + key), table.name
            compared += 1
    assert compared == len(_records()) + 1  # one flow
    # and the nullable JSON column kept SQL NULL for the sample without output
    with store.read() as conn:
        nulls = conn.execute(text("SELECT COUNT(*) FROM runtime_samples WHERE output IS NULL")).scalar()
    assert nulls == 2


def test_a_retried_batch_adds_nothing_and_a_refused_row_costs_no_other(store: Store) -> None:
    records = [rr.aggregate("shop.a", [1]), rr.aggregate("shop.b", [2])]
    first = rr.ingest(store, records)
    again = rr.ingest(store, records)
    assert (first.inserted, first.duplicates, again.inserted, again.duplicates) == (2, 0, 0, 2)
    # a row whose value its column cannot bind (a naive time) is refused on its own
    kind, good = _row(rr.aggregate("shop.c", [3]), NOW)
    _, naive = _row(rr.aggregate("shop.d", [4]), NOW)
    naive["interval_start"] = naive["interval_start"].replace(tzinfo=None)
    written = write_rows(store, {kind: {good["id"]: good, naive["id"]: naive}})
    assert written.inserted == {Kind.AGGREGATE: 1}
    assert written.refused == ["refused by the database (UTCDateTime needs a timezone-aware datetime)"]


def _day_calls(store: Store) -> dict[str, int]:
    with store.read() as conn:
        return dict(conn.execute(text("SELECT function, SUM(calls) FROM runtime_days GROUP BY function")).all())


def test_a_batch_partly_stored_adds_only_its_new_rows_and_their_days_once(store: Store) -> None:
    stored = [rr.aggregate(f"shop.f{i}", [1, 2], {"ValueError": 1}) for i in range(3)]
    assert rr.ingest(store, stored).inserted == 3
    fresh = [rr.aggregate(f"shop.f{i}", [3]) for i in range(2)]
    batch = [stored[2], fresh[0], stored[0], fresh[1]]
    result = rr.ingest(store, batch)
    assert (result.inserted, result.duplicates, result.bad) == (2, 2, 0)
    assert _day_calls(store) == {"shop.f0": 3, "shop.f1": 3, "shop.f2": 2}
    with store.read() as conn:
        ids = set(conn.execute(text("SELECT id FROM runtime_aggregates")).scalars())
        errors = conn.execute(text("SELECT SUM(count) FROM runtime_day_errors")).scalar()
    assert ids == {r["id"] for r in stored + fresh}
    assert errors == 3  # the stored intervals' errors, counted once
    again = rr.ingest(store, batch)  # the whole batch once more: nothing
    assert (again.inserted, again.duplicates, again.bad) == (0, 4, 0)
    assert _day_calls(store) == {"shop.f0": 3, "shop.f1": 3, "shop.f2": 2}


def test_a_stored_row_beside_a_refused_one_is_still_a_duplicate(store: Store) -> None:
    kind, old = _row(rr.aggregate("shop.old", [1]), NOW)
    write_rows(store, {kind: {old["id"]: old}})
    _, new = _row(rr.aggregate("shop.new", [2]), NOW)
    _, naive = _row(rr.aggregate("shop.naive", [3]), NOW)
    naive["interval_start"] = naive["interval_start"].replace(tzinfo=None)
    written = write_rows(store, {kind: {old["id"]: old, new["id"]: new, naive["id"]: naive}})
    assert (written.inserted, written.duplicates, len(written.refused)) == ({Kind.AGGREGATE: 1}, 1, 1)
    assert _day_calls(store) == {"shop.old": 1, "shop.new": 1}


def _waiting_for_a_lock(store: Store) -> int:
    """How many PostgreSQL sessions wait for a lock, once any does (or after 30 s)."""
    query = text("SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
    deadline = time.monotonic() + 30
    while True:
        with store.read() as conn:  # a transaction of its own: the activity is read once per transaction
            waiting = int(conn.execute(query).scalar() or 0)
        if waiting or time.monotonic() > deadline:
            return waiting
        time.sleep(0.02)


def test_a_row_another_writer_is_storing_is_a_duplicate_once_that_one_commits(db_url: str) -> None:
    """Two stores (two server processes) load overlapping batches at once: the second finds none of
    the rows the first is writing (not committed yet), waits for them at its insert, and then counts
    them as duplicates: not refused, and not added to the day summary twice."""
    from codewitness.store import open_store
    from codewitness.store.runtime import _write

    records = [rr.aggregate(f"shop.f{i}", [1, 2], {"ValueError": 1}) for i in range(3)]
    first, second = open_store(db_url), open_store(db_url)
    outcome: list[Any] = []

    def load() -> None:
        try:
            outcome.append(rr.ingest(second, records))
        except Exception as exc:  # pragma: no cover - reported by the assertion below
            outcome.append(exc)

    loader = threading.Thread(target=load)
    try:
        with first.write() as conn:
            _write(conn, _rows_of(records[:2]), {})
            loader.start()
            if first.dialect == "postgresql":  # until the loader waits for the first's rows
                assert _waiting_for_a_lock(second) == 1
            else:  # SQLite: the loader waits for the write lock
                time.sleep(0.2)
        loader.join(30)
        assert len(outcome) == 1 and not isinstance(outcome[0], Exception), outcome
        assert (outcome[0].inserted, outcome[0].duplicates, outcome[0].bad) == (1, 2, 0)
        assert _day_calls(first) == {"shop.f0": 2, "shop.f1": 2, "shop.f2": 2}
    finally:
        loader.join(30)
        first.close()
        second.close()


_DIALECTS = [sqlite.dialect(), postgresql.psycopg.dialect()]

_aware = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.none() | st.timezones()
)


@pytest.mark.parametrize("dialect", _DIALECTS, ids=lambda d: d.name)
@given(value=_aware)
def test_a_time_binds_as_utcdatetime_binds_it(dialect: Any, value: datetime) -> None:
    kind = UTCDateTime()
    theirs = kind.dialect_impl(dialect).bind_processor(dialect)
    ours = _bind(runtime_aggregates.c.interval_start, dialect)
    assert theirs is not None and ours is not None
    try:
        expected: Any = theirs(value)
    except (ValueError, OverflowError) as exc:
        with pytest.raises(type(exc)):
            ours(value)
        return
    assert ours(value) == expected
    assert ours(value) == expected  # the second time from what it remembered


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=20,
)


@given(value=_json)
def test_a_json_value_encodes_as_sqlalchemy_encodes_it(value: Any) -> None:
    dialect = sqlite.dialect()
    for column in (runtime_aggregates.c.histogram, runtime_samples.c.output):
        assert isinstance(column.type, JSON)
        theirs = column.type.dialect_impl(dialect).bind_processor(dialect)
        ours = _bind(column, dialect)
        assert theirs is not None and ours is not None
        assert ours(value) == theirs(value)


def test_a_value_that_holds_itself_is_refused_on_its_own(store: Store) -> None:
    kind, good = _row(rr.aggregate("shop.good", [1]), NOW)
    _, looped = _row(rr.aggregate("shop.looped", [2]), NOW)
    looped["models"] = ["m"]
    looped["models"].append(looped["models"])
    written = write_rows(store, {kind: {good["id"]: good, looped["id"]: looped}})
    assert written.inserted == {Kind.AGGREGATE: 1} and len(written.refused) == 1
    assert written.refused[0].startswith("refused by the database (maximum recursion depth")


def test_one_insert_per_table_and_keys() -> None:
    dialect = sqlite.dialect()
    _, row = _row(rr.aggregate("shop.a", [1]), NOW)
    assert BulkInsert.of(runtime_aggregates, row, dialect) is BulkInsert.of(runtime_aggregates, dict(row), dialect)
    fewer = {k: v for k, v in row.items() if k != "line"}
    assert BulkInsert.of(runtime_aggregates, fewer, dialect) is not BulkInsert.of(runtime_aggregates, row, dialect)


def _rows_of(records: list[dict[str, Any]]) -> dict[Kind, dict[str, dict[str, Any]]]:
    rows: dict[Kind, dict[str, dict[str, Any]]] = {}
    for record in records:
        kind, row = _row(record, NOW)
        rows.setdefault(kind, {})[row["id"]] = row
    return rows


def _write_together(store: Store, batches: list[dict[Kind, dict[str, dict[str, Any]]]]) -> tuple[list[Any], int]:
    """``write_rows`` of each batch from its own thread, all waiting at once; their results and the commits made."""
    commits = [0]

    def count(_conn: Any) -> None:
        commits[0] += 1

    results: list[Any] = [None] * len(batches)

    def write(i: int) -> None:
        try:
            results[i] = write_rows(store, batches[i])
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=write, args=(i,)) for i in range(len(batches))]
    with store.write():  # the writer is busy: every call comes before any is written
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30
        while len(_group(store).waiting) < len(batches) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(_group(store).waiting) == len(batches)
        event.listen(store._writer, "commit", count)  # counts this transaction's commit too
    try:
        for t in threads:
            t.join(30)
    finally:
        event.remove(store._writer, "commit", count)
    return results, commits[0] - 1


def test_calls_waiting_together_share_one_transaction_each_with_its_own_result(store: Store) -> None:
    shared = rr.aggregate("shop.shared", [1])
    batches = [
        _rows_of([rr.aggregate(f"shop.f{i}", [i + 1]), rr.aggregate(f"shop.g{i}", [2]), shared]) for i in range(4)
    ]
    results, commits = _write_together(store, batches)
    assert commits == 1
    assert all(isinstance(r, Written) and r.refused == [] for r in results)
    assert sorted(r.inserted[Kind.AGGREGATE] for r in results) == [2, 2, 2, 3]  # the shared row once
    assert sum(r.duplicates for r in results) == 3
    with store.read() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM runtime_aggregates")).scalar() == 9


def test_a_call_that_fails_costs_the_others_nothing(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    import codewitness.store.corpus as corpus

    def broken(_conn: Any, _rows: Any) -> None:
        raise RuntimeError("injected")

    monkeypatch.setattr(corpus, "absorb_samples", broken)
    good = [_rows_of([rr.aggregate(f"shop.f{i}", [1])]) for i in range(2)]
    failing = _rows_of([rr.aggregate("shop.lost", [1]), rr.sample("shop.lost", {"sku": "x"})])
    results, commits = _write_together(store, [good[0], failing, good[1]])
    assert commits == 1
    assert isinstance(results[1], RuntimeError) and str(results[1]) == "injected"
    assert [r.inserted for r in (results[0], results[2])] == [{Kind.AGGREGATE: 1}] * 2
    with store.read() as conn:
        functions = set(conn.execute(text("SELECT function FROM runtime_aggregates")).scalars())
        samples = conn.execute(text("SELECT COUNT(*) FROM runtime_samples")).scalar()
    assert functions == {"shop.f0", "shop.f1"} and samples == 0  # the failed call left nothing
