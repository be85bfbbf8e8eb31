"""The database behind :mod:`codewitness.store`: one URL selects SQLite (default) or PostgreSQL.

SQLite runs in WAL mode with a busy timeout; writes go through one writer (``BEGIN IMMEDIATE``,
serialised within a process by a lock) in batched transactions, and readers use read-only
connections. PostgreSQL needs the ``postgres`` extra. Opening a store applies any pending
migrations, so an old database upgrades in place.

Example:
    >>> store = open_store("sqlite:////tmp/example-witness.db")  # doctest: +SKIP
    >>> with store.write() as conn:  # doctest: +SKIP
    ...     conn.execute(schema.prompts.insert().values(...))
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError

from codewitness._statedir import make_dirs
from codewitness.errors import MissingExtraError, StoreError
from codewitness.store import migrations

__all__ = ["BUSY_TIMEOUT_MS", "Store", "open_store"]

BUSY_TIMEOUT_MS = 10_000
#: The SQLite writer's page cache (KiB). Ingest inserts into indexes keyed by random ids, so a
#: transaction touches pages all over them; with SQLite's default (2 MiB) it spilled dirty pages
#: to the WAL mid-transaction and read them back (benchmarks/ingest.py).
WRITER_CACHE_KIB = 64 * 1024
#: Pages the WAL grows to before a commit copies them into the database (SQLite's default: 1000).
#: A page that several transactions change is then copied once, not once each (the WAL holds
#: about 40 MiB at most outside a larger transaction).
WAL_CHECKPOINT_PAGES = 10_000


class Store:
    """An open database. Use :meth:`write` and :meth:`read`; close with :meth:`close`.

    Thread-safe: writes are serialised; reads may run concurrently.
    """

    def __init__(self, url: str, writer: Engine, reader: Engine) -> None:
        self.url = url
        self._writer = writer
        self._reader = reader
        self._write_lock = threading.Lock()

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self._writer.dialect.name

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """A connection inside one write transaction, committed on success, rolled back on error."""
        with self._write_lock:
            try:
                with self._writer.begin() as conn:
                    yield conn
            except OperationalError as exc:
                raise StoreError(f"cannot write to {self.safe_url}: {_first_line(exc)}") from None

    def outside_transaction(self, *statements: str) -> None:
        """Run statements that cannot run inside a transaction (``VACUUM``), in order, under the write lock."""
        with self._write_lock:
            try:
                if self.dialect == "sqlite":
                    raw = self._writer.raw_connection()  # no BEGIN: the writer's "begin" hook is not run
                    try:
                        cursor = raw.cursor()
                        for statement in statements:
                            cursor.execute(statement).fetchall()
                        cursor.close()
                    finally:
                        raw.close()
                else:
                    with self._writer.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                        for statement in statements:
                            conn.exec_driver_sql(statement)
            except SQLAlchemyError as exc:
                raise StoreError(f"cannot maintain {self.safe_url}: {_first_line(exc)}") from None
            except Exception as exc:  # the driver's own error on the raw connection
                raise StoreError(f"cannot maintain {self.safe_url}: {_first_line(exc)}") from None

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only connection (its own consistent snapshot on PostgreSQL and SQLite WAL)."""
        try:
            with self._reader.connect() as conn:
                if self.dialect == "postgresql":
                    conn = conn.execution_options(postgresql_readonly=True)
                with conn.begin():
                    yield conn
        except OperationalError as exc:
            raise StoreError(f"cannot read {self.safe_url}: {_first_line(exc)}") from None

    @property
    def safe_url(self) -> str:
        """The URL with any password hidden, for messages."""
        return make_url(self.url).render_as_string(hide_password=True)

    def close(self) -> None:
        """Release every connection."""
        self._writer.dispose()
        self._reader.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_store(url: str) -> Store:
    """Open the database at ``url``, creating and migrating it as needed.

    Args:
        url: ``sqlite:///absolute/path.db`` or ``postgresql://user:pw@host:port/db``.

    Raises:
        StoreError: the URL is malformed, or the database cannot be reached or migrated.
        MissingExtraError: a PostgreSQL URL without the ``postgres`` extra installed.
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(f"not a database URL: {url!r} (use sqlite:///path or postgresql://...)") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        writer, reader = _sqlite_engines(parsed.database or "")
    elif backend in ("postgresql", "postgres"):
        writer, reader = _postgres_engines(url)
    else:
        raise StoreError(f"unsupported database {backend!r}: use sqlite:/// or postgresql://")
    store = Store(url, writer, reader)
    try:
        with store.write() as conn:
            migrations.apply(conn)
    except SQLAlchemyError as exc:
        store.close()
        raise StoreError(f"cannot open {store.safe_url}: {_first_line(exc)}") from None
    except BaseException:
        store.close()
        raise
    return store


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


def _create_private(path: Path) -> None:
    """Create the database file readable by its owner only (0600), and missing folders 0700.

    SQLite would create it with the usual 0644; the store holds prompts, model output and
    captured runtime values. The -wal and -shm files SQLite adds take the database's mode.
    An existing file keeps its mode. A ``.codewitness/`` folder made here is kept out of git.
    """
    make_dirs(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
    except FileExistsError:
        return
    os.close(fd)


def _sqlite_engines(database: str) -> tuple[Engine, Engine]:
    if not database or database == ":memory:":
        raise StoreError("an in-memory SQLite database cannot be shared; give a file path (sqlite:///path.db)")
    path = Path(database).expanduser()
    try:
        _create_private(path)
    except OSError as exc:
        raise StoreError(f"cannot create {path}: {exc.strerror}") from None
    writer = create_engine(f"sqlite:///{path}", connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
    reader = create_engine(f"sqlite:///file:{path}?mode=ro&uri=true", connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(writer, "connect")
    def _writer_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control from the driver so BEGIN IMMEDIATE can claim the write lock
        # up front: a writer then waits (busy timeout) instead of failing half-way.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA cache_size=-{WRITER_CACHE_KIB}")
        cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
        cursor.close()

    @event.listens_for(writer, "begin")
    def _writer_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    @event.listens_for(reader, "connect")
    def _reader_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(reader, "begin")
    def _reader_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN")

    return writer, reader


def _postgres_engines(url: str) -> tuple[Engine, Engine]:
    try:
        import psycopg  # noqa: F401
    except ImportError:
        raise MissingExtraError("postgres", "A PostgreSQL database") from None
    parsed = make_url(url).set(drivername="postgresql+psycopg")
    writer = create_engine(parsed, pool_pre_ping=True)
    reader = create_engine(parsed, pool_pre_ping=True)
    return writer, reader
