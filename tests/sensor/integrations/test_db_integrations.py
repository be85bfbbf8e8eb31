"""The database integrations on real databases: sqlite3 files and the PostgreSQL server the test
session starts, through the drivers (sqlite3, psycopg 3 sync and async, psycopg2) and SQLAlchemy.

Each statement run inside a flow is reported once (SQLAlchemy over a patched driver included),
with its literals out, its time, its row count where the driver knows it, and its failure.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from tests.sensor_db import connect

from codewitness.config import SensorSection
from codewitness.sensor import flow as flow_module
from codewitness.sensor.flow import job

pytestmark = pytest.mark.usefixtures("app")

ONLY_DB = ("sqlite3", "psycopg", "psycopg2", "sqlalchemy")


def statements(memory: Any) -> dict[str, dict[str, Any]]:
    return {r["statement"]: r for r in memory.of("dependency")}


@pytest.fixture
def sensor(app: Any, memory: Any, start: Any) -> Any:
    return start(app, memory, "wrapping", settings=SensorSection(integrations=ONLY_DB))


def test_sqlite3_reports_execute_executemany_executescript_and_failures(
    sensor: Any, memory: Any, tmp_path: Path
) -> None:
    class Mine(sqlite3.Connection):  # the application's own factory is kept, and seen
        pass

    conn = connect(tmp_path / "a.db", factory=Mine)
    assert isinstance(conn, Mine)
    with job("db"):
        conn.executescript("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT); CREATE INDEX ix ON t (name);")
        conn.executemany("INSERT INTO t (name) VALUES (?)", [("a",), ("b",), ("c",)])
        cursor = conn.cursor()
        cursor.execute("UPDATE t SET name = 'secret-x' WHERE id > 1")
        assert cursor.rowcount == 2
        with pytest.raises(sqlite3.OperationalError):
            conn.execute("SELECT nope FROM t")
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (3,)
    sensor.flush()
    seen = statements(memory)
    assert set(seen) == {
        "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT); CREATE INDEX ix ON t (name);",
        "INSERT INTO t (name) VALUES (?)",
        "UPDATE t SET name = ? WHERE id > ?",
        "SELECT nope FROM t",
        "SELECT count(*) FROM t",
    }
    assert seen["INSERT INTO t (name) VALUES (?)"]["rows"] == 3
    assert seen["UPDATE t SET name = ? WHERE id > ?"]["rows"] == 2
    assert (seen["SELECT nope FROM t"]["errors"], seen["SELECT nope FROM t"]["calls"]) == (1, 1)
    assert all(r["system"] == "sqlite" for r in seen.values())


def test_a_statement_run_again_in_a_flow_is_counted_by_its_text_with_its_rows_and_failures(
    sensor: Any, memory: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(flow_module, "MAX_TEXTS", 3)
    conn = connect(tmp_path / "again.db")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER)")
    with job("again") as flow:
        for i in range(4):
            conn.execute("INSERT INTO t (n) VALUES (?)", (i,))
        cursor = conn.cursor()
        for _ in range(2):
            cursor.execute("UPDATE t SET n = n + 1 WHERE n >= ?", (2,))  # two rows each time
        for _ in range(2):
            with pytest.raises(sqlite3.IntegrityError):
                conn.execute("INSERT INTO t (id, n) VALUES (?, ?)", (1, 0))
        for i in range(5):
            conn.execute(f"SELECT {i} + 1")  # five texts of one statement
        # The texts a flow remembers are bounded; the rest take the long way, counted alike.
        assert flow is not None and flow.texts is not None and len(flow.texts) == 3
    sensor.flush()
    seen = statements(memory)
    counts = {s: (r["calls"], r["rows"], r["errors"], r["max_per_request"], r["repeated"]) for s, r in seen.items()}
    assert counts == {
        "INSERT INTO t (n) VALUES (?)": (4, 4, 0, 4, 1),
        "UPDATE t SET n = n + ? WHERE n >= ?": (2, 4, 0, 2, 1),
        "INSERT INTO t (id, n) VALUES (?, ?)": (2, 0, 2, 2, 1),
        "SELECT ? + ?": (5, 0, 0, 5, 1),
    }
    assert all(r["max_ns"] <= r["total_ns"] and r["total_ns"] > 0 for r in seen.values())


def test_a_cursor_factory_of_the_application_is_seen_too(sensor: Any, memory: Any, tmp_path: Path) -> None:
    class Counting(sqlite3.Cursor):
        made = 0

        def __init__(self, connection: sqlite3.Connection) -> None:
            super().__init__(connection)
            Counting.made += 1

    conn = connect(tmp_path / "b.db")
    with job("db"):
        cursor = conn.cursor(Counting)
        cursor.execute("SELECT 42")
    sensor.flush()
    assert Counting.made == 1 and isinstance(cursor, Counting)
    assert list(statements(memory)) == ["SELECT ?"]


@pytest.mark.postgres
def test_psycopg_sync_and_async_report_their_statements(sensor: Any, memory: Any, pg_url: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(pg_url, autocommit=True) as conn, job("pg"):
        conn.execute("CREATE TABLE t (id serial PRIMARY KEY, name text)")
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO t (name) VALUES (%s)", [("a",), ("b",)])
            cur.execute("SELECT name FROM t WHERE name = 'a' OR id = %s", (2,))
            assert len(cur.fetchall()) == 2
            cur.execute(sql.SQL("SELECT {} FROM t WHERE id = 5").format(sql.Identifier("name")))
        with conn.transaction(), conn.cursor(name="server_side") as named:
            named.execute("SELECT id FROM t")
            assert len(named.fetchall()) == 2
        with pytest.raises(psycopg.errors.UndefinedColumn):
            conn.execute("SELECT nope FROM t")

    async def run() -> None:
        async with await psycopg.AsyncConnection.connect(pg_url) as aconn:
            with job("pg async"):
                cur = await aconn.execute("SELECT count(*) FROM t WHERE id < %s", (10,))
                assert await cur.fetchone() == (2,)

    asyncio.run(run())
    sensor.flush()
    seen = statements(memory)
    assert set(seen) >= {
        "CREATE TABLE t (id serial PRIMARY KEY, name text)",
        "INSERT INTO t (name) VALUES (%s)",
        "SELECT name FROM t WHERE name = ? OR id = %s",
        'SELECT "name" FROM t WHERE id = ?',
        "SELECT id FROM t",
        "SELECT nope FROM t",
        "SELECT count(*) FROM t WHERE id < %s",
    }
    assert seen["SELECT name FROM t WHERE name = ? OR id = %s"]["rows"] == 2
    assert seen["SELECT nope FROM t"]["errors"] == 1
    assert seen["SELECT count(*) FROM t WHERE id < %s"]["route"] == "pg async"
    assert {r["system"] for r in seen.values()} == {"postgresql"}


@pytest.mark.postgres
def test_psycopg2_reports_through_any_cursor_factory(sensor: Any, memory: Any, pg_url: str) -> None:
    pytest.importorskip("psycopg2")
    import psycopg2
    import psycopg2.extras

    conn = psycopg2.connect(pg_url)
    conn.autocommit = True
    with job("pg2"):
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE t2 (id serial PRIMARY KEY, name text)")
            cur.executemany("INSERT INTO t2 (name) VALUES (%s)", [("a",), ("b",), ("c",)])
        with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
            cur.execute("SELECT name FROM t2 WHERE name <> 'token-abc'")
            assert cur.fetchall()[0] == {"name": "a"}
    conn.close()
    sensor.flush()
    seen = statements(memory)
    assert set(seen) == {
        "CREATE TABLE t2 (id serial PRIMARY KEY, name text)",
        "INSERT INTO t2 (name) VALUES (%s)",
        "SELECT name FROM t2 WHERE name <> ?",
    }
    assert seen["INSERT INTO t2 (name) VALUES (%s)"]["rows"] == 3
    assert seen["SELECT name FROM t2 WHERE name <> ?"]["rows"] == 3


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
@pytest.mark.parametrize("integrations", [ONLY_DB, ("sqlalchemy",)], ids=["with-driver", "sqlalchemy-alone"])
def test_sqlalchemy_statements_are_reported_once_by_the_driver_or_by_sqlalchemy(
    app: Any, memory: Any, start: Any, tmp_path: Path, request: pytest.FixtureRequest, backend: str,
    integrations: tuple[str, ...],
) -> None:  # fmt: skip
    sensor = start(app, memory, "wrapping", settings=SensorSection(integrations=integrations))
    from sqlalchemy import create_engine, text  # after the sensor started, as under `codewitness run`

    url = f"sqlite:///{tmp_path / 'sa.db'}" if backend == "sqlite" else request.getfixturevalue("pg_url")
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    # With the driver's integration on, SQLAlchemy is left alone; without, its dialect's calls to the
    # driver are wrapped on this engine. Never statement listeners: SQLAlchemy's slower path.
    wrapped = "do_execute" in vars(engine.dialect)
    assert wrapped == (integrations == ("sqlalchemy",))
    assert not engine._has_events and not engine.dialect._has_events
    with job("orm"), engine.begin() as conn:
        conn.execute(text("CREATE TABLE t3 (id INTEGER PRIMARY KEY, name TEXT)"))
        for i in range(6):
            conn.execute(text("INSERT INTO t3 (id, name) VALUES (:id, :name)"), {"id": i, "name": f"n{i}"})
        assert conn.execute(text("SELECT count(*) FROM t3 WHERE name <> 'x'")).scalar() == 6
        with pytest.raises(Exception, match="nope"):
            conn.execute(text("SELECT nope FROM t3"))
    engine.dispose()
    sensor.flush()
    seen = statements(memory)
    system = "sqlite" if backend == "sqlite" else "postgresql"
    (insert,) = [r for r in seen.values() if r["statement"].startswith("INSERT INTO t3")]
    assert (insert["calls"], insert["max_per_request"], insert["system"]) == (6, 6, system)  # once each
    failed = [r for r in seen.values() if r["errors"]]
    assert [r["statement"] for r in failed] == ["SELECT nope FROM t3"]
    assert all(r["system"] == system for r in seen.values())
    assert "SELECT count(*) FROM t3 WHERE name <> ?" in seen
