"""The store on real SQLite files and a real PostgreSQL server."""

from __future__ import annotations

import sqlite3
import threading
from contextlib import closing
from pathlib import Path

import pytest
from sqlalchemy import Connection, MetaData, Table, func, select, text
from sqlalchemy.exc import DBAPIError

from codewitness.errors import StoreError
from codewitness.model import utcnow
from codewitness.store import Store, migrations, open_store, schema


def test_opening_applies_every_shipped_migration(store: Store) -> None:
    with store.read() as conn:
        applied = list(conn.execute(select(schema.migrations.c.id).order_by(schema.migrations.c.id)).scalars())
    assert applied == [m.id for m in migrations.available()]
    assert applied[0] == "m0001_ledger"


def test_reopening_applies_nothing_new(db_url: str) -> None:
    open_store(db_url).close()
    with open_store(db_url) as store, store.write() as conn:
        assert migrations.apply(conn) == []


def _extra_migration(conn: Connection) -> None:
    """A later migration of the kind real upgrades do: a new column and a backfill."""
    conn.execute(text("ALTER TABLE prompts ADD COLUMN note VARCHAR(50)"))
    conn.execute(text("UPDATE prompts SET note = 'migrated'"))


def test_an_old_database_upgrades_in_place_without_loss(db_url: str) -> None:
    shipped = migrations.available()
    # Build the database as the first release left it, with data in it.
    with open_store(db_url) as store, store.write() as conn:
        conn.execute(schema.prompts.insert().values(hash="a" * 64, text="old prompt", created_at=utcnow()))
    # Then a newer release with one more migration opens it.
    newer = (*shipped, migrations.Migration("m9999_test_extra", _extra_migration))
    with open_store(db_url) as store:
        with store.write() as conn:
            assert migrations.apply(conn, newer) == ["m9999_test_extra"]
        with store.read() as conn:
            row = conn.execute(text("SELECT text, note FROM prompts")).one()
    assert tuple(row) == ("old prompt", "migrated")


def test_a_database_from_a_newer_release_is_refused(db_url: str) -> None:
    with open_store(db_url) as store, store.write() as conn:
        conn.execute(schema.migrations.insert().values(id="m9998_from_the_future", applied_at=utcnow()))
    with pytest.raises(StoreError, match="upgrade codewitness"):
        open_store(db_url)


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "witness.db"
    open_store(f"sqlite:///{path}").close()
    assert path.is_file()
    with closing(sqlite3.connect(path)) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_the_sqlite_writer_has_a_large_page_cache_and_checkpoints_the_wal_seldom(tmp_path: Path) -> None:
    from codewitness.store.database import WAL_CHECKPOINT_PAGES, WRITER_CACHE_KIB

    with open_store(f"sqlite:///{tmp_path / 'witness.db'}") as store, store.write() as conn:
        assert conn.exec_driver_sql("PRAGMA cache_size").scalar() == -WRITER_CACHE_KIB
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == WAL_CHECKPOINT_PAGES
    assert WRITER_CACHE_KIB > 2000 and WAL_CHECKPOINT_PAGES > 1000  # beyond SQLite's defaults


def test_readers_cannot_write(store: Store) -> None:
    with pytest.raises((DBAPIError, StoreError)), store.read() as conn:
        conn.execute(schema.prompts.insert().values(hash="b" * 64, text="x", created_at=utcnow()))


def test_concurrent_writers_lose_nothing(store: Store) -> None:
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(20):
                with store.write() as conn:
                    digest = f"{n:02d}{i:02d}".ljust(64, "0")
                    conn.execute(schema.prompts.insert().values(hash=digest, text=f"{n}-{i}", created_at=utcnow()))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with store.read() as conn:
        assert conn.execute(select(func.count()).select_from(schema.prompts)).scalar() == 80


def test_two_processes_on_one_sqlite_file_serialise_writes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    first, second = open_store(url), open_store(url)
    try:
        with first.write() as conn:
            conn.execute(schema.prompts.insert().values(hash="c" * 64, text="one", created_at=utcnow()))
        with second.write() as conn:
            conn.execute(schema.prompts.insert().values(hash="d" * 64, text="two", created_at=utcnow()))
        with first.read() as conn:
            assert conn.execute(select(func.count()).select_from(schema.prompts)).scalar() == 2
    finally:
        first.close()
        second.close()


def test_a_failed_write_rolls_back(store: Store) -> None:
    with pytest.raises(RuntimeError), store.write() as conn:
        conn.execute(schema.prompts.insert().values(hash="e" * 64, text="half", created_at=utcnow()))
        raise RuntimeError("boom")
    with store.read() as conn:
        assert conn.execute(select(func.count()).select_from(schema.prompts)).scalar() == 0


def test_timestamps_come_back_aware_in_utc(store: Store) -> None:
    from datetime import timedelta, timezone

    local = utcnow().astimezone(timezone(timedelta(hours=5)))
    with store.write() as conn:
        conn.execute(schema.prompts.insert().values(hash="f" * 64, text="t", created_at=local))
    with store.read() as conn:
        back = conn.execute(select(schema.prompts.c.created_at)).scalar_one()
    assert back.utcoffset() == timedelta(0)
    assert back == local


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "not a database URL"),
        ("mysql://x@localhost/db", "unsupported database"),
        ("sqlite://", "in-memory"),
        ("sqlite:////proc/forbidden/x.db", "cannot"),
    ],
)
def test_bad_urls_give_one_line_errors(url: str, message: str) -> None:
    with pytest.raises(StoreError, match=message) as info:
        open_store(url)
    assert "\n" not in str(info.value)


def test_an_unreachable_postgres_server_is_a_store_error() -> None:
    with pytest.raises(StoreError, match="cannot"):
        open_store("postgresql://nobody@127.0.0.1:9/none")


def test_schema_module_matches_the_migrated_database(store: Store) -> None:
    """schema.py mirrors what the migrations build: every declared column exists."""
    reflected = MetaData()
    with store.read() as conn:
        for table in schema.metadata.sorted_tables:
            live = Table(table.name, reflected, autoload_with=conn)
            assert set(live.columns.keys()) == set(table.columns.keys()), table.name


def test_migration_ids_are_unique_and_ordered() -> None:
    ids = [m.id for m in migrations.available()]
    assert ids == sorted(ids)
    assert len({i[:5] for i in ids}) == len(ids), "two migrations share a number"
