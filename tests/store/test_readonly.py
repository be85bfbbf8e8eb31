"""Read-only SQL over the store (the MCP ``query`` tool), on SQLite and PostgreSQL: it reads, and only reads."""

from __future__ import annotations

import contextlib
import sqlite3
from datetime import timedelta

import pytest
from sqlalchemy import inspect, select, text
from tests.runtime_records import T0, aggregate, exception, ingest

from codewitness.errors import InputError
from codewitness.store import Store, schema
from codewitness.store.readonly import VIEWS, _sqlite_authorizer, run_query


@pytest.fixture
def filled(store: Store) -> Store:
    ingest(
        store,
        [
            aggregate("shop.pricing.total", [1_000] * 4, {"ValueError": 1}, start=T0 + timedelta(seconds=10 * i))
            for i in range(30)
        ]
        + [exception("shop.pricing.total", "bad sku")],
    )
    return store


def _counts(store: Store) -> tuple[int, int]:
    with store.read() as conn:
        aggregates = len(conn.execute(select(schema.runtime_aggregates.c.id)).all())
        exceptions = len(conn.execute(select(schema.runtime_exceptions.c.id)).all())
    return aggregates, exceptions


def test_it_reads_the_views(filled: Store) -> None:
    sql = "SELECT function, SUM(calls) AS calls, SUM(errors) AS errors FROM cw_runtime GROUP BY function"
    result = run_query(filled, sql)
    assert result.columns == ("function", "calls", "errors")
    assert [tuple(r) for r in result.rows] == [("shop.pricing.total", 120, 30)]
    assert not result.truncated
    found = run_query(filled, "SELECT type, message, arguments FROM cw_exceptions")
    assert found.rows[0][:2] == ("ValueError", "bad sku") and "sku" in str(found.rows[0][2])
    (row,) = run_query(filled, "SELECT calls, errors, intervals FROM cw_functions").rows
    assert tuple(row) == (120, 30, 30)


def test_every_documented_view_and_column_exists(store: Store) -> None:
    with store.read() as conn:
        views = set(inspect(conn).get_view_names())
        assert set(VIEWS) <= views
        for name, doc in VIEWS.items():
            columns = list(conn.execute(text(f"SELECT * FROM {name} WHERE 1 = 0")).keys())
            assert columns == list(doc["columns"]), name


def test_rows_and_cells_are_bounded(filled: Store) -> None:
    result = run_query(filled, "SELECT interval_start FROM cw_runtime ORDER BY interval_start", max_rows=7)
    assert len(result.rows) == 7 and result.truncated
    long = run_query(filled, "SELECT message FROM cw_exceptions", max_cell_chars=3)
    assert long.rows == (("bad...",),) and long.cells_cut == 1


@pytest.mark.parametrize(
    ("sql", "said"),
    [
        ("INSERT INTO prompts (hash, text, created_at) VALUES ('x', 'y', '2026-01-01')", "INSERT is refused"),
        ("DELETE FROM runtime_aggregates", "DELETE is refused"),
        ("UPDATE runtime_exceptions SET message = 'x'", "UPDATE is refused"),
        ("DROP VIEW cw_runtime", "DROP is refused"),
        ("CREATE TABLE evil (x int)", "CREATE is refused"),
        ("ATTACH DATABASE '/tmp/other.db' AS other", "ATTACH is refused"),
        ("PRAGMA query_only = OFF", "PRAGMA is refused"),
        ("SET statement_timeout = 0", "SET is refused"),
        ("COPY runtime_aggregates TO '/tmp/out.csv'", "COPY is refused"),
        ("  -- a comment first\n/* and another */ DELETE FROM runtime_aggregates", "DELETE is refused"),
        ("", "empty"),
    ],
)
def test_anything_but_reading_is_refused(filled: Store, sql: str, said: str) -> None:
    before = _counts(filled)
    with pytest.raises(InputError, match=said):
        run_query(filled, sql)
    assert _counts(filled) == before


@pytest.mark.parametrize(
    "sql",
    [
        "WITH gone AS (DELETE FROM runtime_aggregates RETURNING id) SELECT COUNT(*) FROM gone",
        "WITH x AS (SELECT 1) DELETE FROM runtime_aggregates",
        "SELECT 1; DELETE FROM runtime_aggregates",
        "SELECT 1; SELECT 2",
        "WITH x AS (SELECT 1) INSERT INTO prompts (hash, text, created_at) VALUES ('x', 'y', '2026-01-01')",
    ],
)
def test_a_write_hidden_behind_a_reading_start_or_a_second_statement_is_refused(filled: Store, sql: str) -> None:
    before = _counts(filled)
    with pytest.raises(InputError, match=r"only read|one statement|multiple commands|syntax error"):
        run_query(filled, sql)
    assert _counts(filled) == before


def test_a_long_query_is_stopped(filled: Store) -> None:
    forever = (
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000000) SELECT COUNT(*) FROM n"
    )
    with pytest.raises(InputError, match=r"longer than 0\.3 s"):
        run_query(filled, forever, seconds=0.3)


@pytest.mark.postgres
def test_postgres_refuses_functions_that_act_outside_the_query(pg_url: str) -> None:
    from codewitness.store import open_store

    with open_store(pg_url) as store:
        for sql in ("SELECT pg_read_file('/etc/hostname')", "SELECT set_config('statement_timeout', '0', false)"):
            with pytest.raises(InputError, match="acts outside the query"):
                run_query(store, sql)
        assert run_query(store, "SELECT 'pg_read_file(x)' AS quoted").rows == (("pg_read_file(x)",),)


def test_the_sqlite_authorizer_allows_reading_only(tmp_path: object) -> None:
    # The layer under the keyword check: what SQLite itself is told to refuse.
    with contextlib.closing(sqlite3.connect(":memory:")) as conn:  # 3.13 warns about one left open
        conn.execute("CREATE TABLE t (x)")
        conn.set_authorizer(_sqlite_authorizer)
        assert conn.execute("SELECT COUNT(*) FROM t").fetchone() == (0,)
        for sql in (
            "INSERT INTO t VALUES (1)",
            "ATTACH DATABASE ':memory:' AS other",
            "PRAGMA user_version = 3",
            "CREATE TEMP TABLE u (x)",
            "SELECT load_extension('x')",
            "BEGIN",
        ):
            with pytest.raises(sqlite3.DatabaseError, match="not authorized"):
                conn.execute(sql)
