"""Runtime facts in the store: writing checked rows, one table per record kind.

:func:`write_rows` takes the rows :mod:`codewitness.ingest` made of the sensor's records and
inserts the ones the store does not have yet (records carry their own ids); the samples among them
join the replay corpus in the same transaction (:func:`codewitness.store.corpus.absorb_samples`),
and the intervals the daily summary (:func:`codewitness.store.days.add_intervals`).
Reading them back is :mod:`codewitness.store.queries`.

Example:
    >>> written = write_rows(store, {Kind.AGGREGATE: {row["id"]: row}})  # doctest: +SKIP
    >>> written.inserted, written.duplicates  # doctest: +SKIP
    ({<Kind.AGGREGATE: 'aggregate'>: 1}, 0)
"""

from __future__ import annotations

import json
import operator
import threading
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, Column, Connection, Table
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import StatementError

from codewitness.errors import StoreError
from codewitness.facts import Kind
from codewitness.store import Store, _first_line, schema
from codewitness.store.types import UTCDateTime

__all__ = ["FLOWS", "TABLES", "Written", "write_rows"]

#: The table of each record kind.
TABLES: dict[Kind, Table] = {
    Kind.AGGREGATE: schema.runtime_aggregates,
    Kind.EXCEPTION: schema.runtime_exceptions,
    Kind.SAMPLE: schema.runtime_samples,
    Kind.HEALTH: schema.runtime_sensor_health,
    Kind.BREACH: schema.runtime_breaches,
    Kind.INVARIANT: schema.runtime_invariant_counts,
    Kind.REVIEW: schema.review_items,
    Kind.ROUTE: schema.runtime_routes,
    Kind.DEPENDENCY: schema.runtime_dependencies,
    Kind.UNWATCHED: schema.runtime_unwatched,
}
#: The request (flow context) of events, keyed by the event's id.
FLOWS: Table = schema.runtime_event_flows


@dataclass
class Written:
    """What one write did: rows inserted per kind, rows already present, and why the database
    refused any row (one reason per refused row)."""

    inserted: dict[Kind, int] = field(default_factory=dict)
    duplicates: int = 0
    refused: list[str] = field(default_factory=list)


def write_rows(
    store: Store,
    rows: Mapping[Kind, Mapping[str, dict[str, Any]]],
    flows: Mapping[str, dict[str, Any]] | None = None,
) -> Written:
    """Insert, in one transaction, the rows (by kind, then by id) whose ids the store lacks.

    ``flows`` are the requests the events happened in (:data:`FLOWS` rows, by event id); one is
    written only with its event (not counted on its own).

    Should the database refuse a row, that row alone is left out and its reason noted.

    Calls from several threads at once (the server's concurrent ingest requests) share one
    transaction: the first to get the store's writer writes every call then waiting, each in
    its own savepoint and in the order they came, and commits once. A database's cost per
    transaction (SQLite rewrites every index page a transaction touches) is then paid once
    for all of them. Each call still gets its own result, and is stored whole or not at all.

    Raises:
        StoreError: the store cannot be written.
    """
    job = _Job(rows, flows or {})
    group = _group(store)
    with group.lock:
        group.waiting.append(job)
    with group.turn:
        if not job.done.is_set():
            _write_waiting(store, group)
    if job.error is not None:
        raise job.error
    assert job.written is not None
    return job.written


@dataclass
class _Job:
    rows: Mapping[Kind, Mapping[str, dict[str, Any]]]
    flows: Mapping[str, dict[str, Any]]
    written: Written | None = None
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)


@dataclass
class _Group:
    """The calls of :func:`write_rows` waiting to be written to one store."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    turn: threading.Lock = field(default_factory=threading.Lock)
    waiting: list[_Job] = field(default_factory=list)


_groups: weakref.WeakKeyDictionary[Store, _Group] = weakref.WeakKeyDictionary()
_groups_lock = threading.Lock()


def _group(store: Store) -> _Group:
    with _groups_lock:
        group = _groups.get(store)
        if group is None:
            group = _groups[store] = _Group()
        return group


def _write_waiting(store: Store, group: _Group) -> None:
    """Write every waiting call in one transaction (under ``group.turn``)."""
    jobs: list[_Job] = []
    try:
        with store.write() as conn:
            with group.lock:  # taken once the writer is ours: the calls that came meanwhile join
                jobs, group.waiting = group.waiting, []
            for job in jobs:
                try:
                    with conn.begin_nested():
                        job.written = _write(conn, job.rows, job.flows)
                except Exception as exc:  # this call's failure is this call's alone
                    job.error = exc
    except Exception as exc:  # the transaction failed: every call in it did
        if not jobs:  # before any was taken (the writer could not begin): the calls waiting fail
            with group.lock:
                jobs, group.waiting = group.waiting, []
        for job in jobs:
            if job.error is None:
                job.error = StoreError(*exc.args) if isinstance(exc, StoreError) else exc
            job.written = None
    finally:
        for job in jobs:
            if job.written is None and job.error is None:  # the writer was interrupted mid-way
                job.error = StoreError(f"the write to {store.safe_url} was interrupted")
            job.done.set()


def _write(
    conn: Connection, rows: Mapping[Kind, Mapping[str, dict[str, Any]]], flows: Mapping[str, dict[str, Any]]
) -> Written:
    from codewitness.store.corpus import absorb_samples
    from codewitness.store.days import add_intervals

    written = Written()
    for kind, by_id in rows.items():
        if by_id:
            fresh = _insert_new(conn, TABLES[kind], by_id, written)
            written.inserted[kind] = len(fresh)
            if kind is Kind.SAMPLE and fresh:
                absorb_samples(conn, fresh)
            elif kind is Kind.AGGREGATE and fresh:
                add_intervals(conn, fresh)  # the daily summary, in the same transaction
    if flows:
        stored = Written()
        _insert_new(conn, FLOWS, flows, stored)
        written.refused.extend(stored.refused)
    return written


def _insert_new(
    conn: Connection, table: Table, by_id: Mapping[str, dict[str, Any]], written: Written
) -> list[dict[str, Any]]:
    """Insert the rows whose ids the table lacks; returns the rows inserted.

    Each row goes in with ``ON CONFLICT (id) DO NOTHING``, so the database itself tells a row it
    holds already (counted as a duplicate) from one it stored, even while another writer is
    storing the same ids (PostgreSQL: the insert waits for that writer's transaction, then skips
    the rows it committed). Nothing looks the ids up beforehand: on PostgreSQL such a lookup
    (``id IN (...)``) was planned as a scan of the whole table.

    The rows go in one ``executemany`` per table and keys, inside a savepoint; should the
    database refuse any, each row is tried on its own and the refused ones are noted, so one row
    never costs the others.
    """
    ready: list[tuple[dict[str, Any], BulkInsert, Any]] = []
    for row in by_id.values():
        insert = BulkInsert.of(table, row, conn.dialect)
        try:
            ready.append((row, insert, insert.parameters(row)))
        except (ValueError, TypeError, OverflowError, RecursionError) as exc:  # what binding refuses
            written.refused.append(f"refused by the database ({_first_line(exc)})")
    if not ready:
        return []
    refusals = _refusals(conn.dialect)
    try:
        try:
            with conn.begin_nested():
                added = _insert_all(conn, ready)
        except _Overlap:
            with conn.begin_nested():
                added = _one_by_one(conn, ready)
    except refusals:
        pass
    else:
        written.duplicates += len(ready) - len(added)
        return added
    added = []
    for row, insert, parameters in ready:
        try:
            with conn.begin_nested():
                stored = conn.exec_driver_sql(insert.skip_sql, parameters).rowcount
        except refusals as exc:
            written.refused.append(f"refused by the database ({_first_line(exc)})")
            continue
        if stored:
            added.append(row)
        else:
            written.duplicates += 1
    return added


class _Overlap(Exception):
    """Some rows of an ``executemany`` were in the table already, and which cannot be told (SQLite)."""


def _insert_all(conn: Connection, ready: list[tuple[dict[str, Any], BulkInsert, Any]]) -> list[dict[str, Any]]:
    """Insert every row the table lacks, by ``executemany``; returns the rows inserted.

    Raises:
        _Overlap: on SQLite, some rows were present already (the caller rolls back and goes row by
            row, :func:`_one_by_one`).
        A driver's or SQLAlchemy's error: the database refused a row.
    """
    groups: dict[BulkInsert, list[Any]] = {}
    for _row, insert, parameters in ready:
        groups.setdefault(insert, []).append(parameters)
    if conn.dialect.name == "postgresql":
        # psycopg returns each row's RETURNING result (one result set per parameter set, empty when
        # the row was skipped); SQLAlchemy's executemany would not fetch them.
        cursor: Any = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        stored: set[str] = set()
        try:
            for insert, batch in groups.items():
                cursor.executemany(insert.skip_sql + " RETURNING id", batch, returning=True)
                while True:
                    stored.update(key for (key,) in cursor.fetchall())
                    if not cursor.nextset():
                        break
        finally:
            cursor.close()
        return [row for row, _insert, _parameters in ready if row["id"] in stored]
    # SQLite's driver cannot fetch RETURNING rows from an executemany; the writer holds the
    # database alone (BEGIN IMMEDIATE), so the count of rows changed tells whether all went in.
    raw = conn.connection.dbapi_connection
    before = raw.total_changes  # type: ignore[union-attr]
    for insert, batch in groups.items():
        conn.exec_driver_sql(insert.skip_sql, batch)
    if raw.total_changes - before != len(ready):  # type: ignore[union-attr]
        raise _Overlap
    return [row for row, _insert, _parameters in ready]


def _one_by_one(conn: Connection, ready: list[tuple[dict[str, Any], BulkInsert, Any]]) -> list[dict[str, Any]]:
    """Insert the rows the table lacks one at a time, each one's count of rows changed telling whether
    it went in (with the driver's cursor: SQLAlchemy's own execution costs more than the insert).

    Raises:
        A driver's error: the database refused a row.
    """
    cursor: Any = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        added = []
        for row, insert, parameters in ready:
            cursor.execute(insert.skip_sql, parameters)
            if cursor.rowcount:
                added.append(row)
        return added
    finally:
        cursor.close()


def _refusals(dialect: Dialect) -> tuple[type[BaseException], ...]:
    """The errors that mean the database refused a row: SQLAlchemy's (every driver error it wraps is
    a :class:`StatementError`), the driver's own (raised by a cursor used directly), and a value's
    binding."""
    return (StatementError, dialect.loaded_dbapi.Error, ValueError, OverflowError)


class BulkInsert:
    """A table's ``INSERT`` for rows with one set of keys, and how each value is bound, made once.

    SQLAlchemy's ``conn.execute(table.insert(), rows)`` compiles the parameters of every row
    through its per-row bind machinery; at ingest rates that costs more than the database's own
    work. This compiles the statement once per table, keys and dialect, and prepares each row's
    parameters with the column types' own bind processors, except for the two kinds ingest
    writes most: JSON columns (encoded here exactly as SQLAlchemy's default serializer does)
    and :class:`~codewitness.store.types.UTCDateTime` columns (converted as that type does,
    each distinct time once per statement). The rows then go in one DB-API ``executemany``.
    What is stored is the same as through ``table.insert()``, to the byte (tests/store check).
    """

    _made: ClassVar[dict[tuple[Table, frozenset[str], str, str], BulkInsert]] = {}

    def __init__(self, table: Table, keys: Iterable[str], dialect: Dialect) -> None:
        compiled = table.insert().compile(dialect=dialect, column_keys=list(keys))
        self.sql = str(compiled)
        #: The insert that skips a row whose id the table holds (SQLite >= 3.24 and PostgreSQL spell it alike).
        self.skip_sql = self.sql + " ON CONFLICT (id) DO NOTHING"
        self.positional = bool(compiled.positional)
        names = list(compiled.positiontup or ()) if self.positional else list(compiled.binds)
        unknown = [name for name in names if name not in table.c]
        if unknown:  # a bound value not from the row (a Python-side default): not supported here
            raise TypeError(f"{table.name}: cannot bulk-insert with parameters {unknown}")
        self.names = names
        self._get = operator.itemgetter(*names)
        self._convert = [(i, f) for i, f in enumerate(_bind(table.c[name], dialect) for name in names) if f is not None]

    @classmethod
    def of(cls, table: Table, row: Mapping[str, Any], dialect: Dialect) -> BulkInsert:
        """The insert for rows with ``row``'s keys (made on first use, then reused)."""
        key = (table, frozenset(row), dialect.name, dialect.paramstyle)
        made = cls._made.get(key)
        if made is None:
            made = cls._made[key] = cls(table, row, dialect)
        return made

    def parameters(self, row: Mapping[str, Any]) -> Any:
        """The DB-API parameters of one row (a tuple, or a dict for a named paramstyle).

        Raises:
            ValueError, TypeError, OverflowError: a value its column type cannot bind.
        """
        got = self._get(row)
        values = list(got) if len(self.names) > 1 else [got]
        for i, convert in self._convert:
            values[i] = convert(values[i])
        return tuple(values) if self.positional else dict(zip(self.names, values, strict=True))


def _json_encoder() -> Callable[[Any], str]:
    """``json.dumps`` with its defaults (what SQLAlchemy stores by default), without making a new
    encoder for each value as ``json.dumps`` does: that cost more than the encoding of the small
    values ingest writes (an interval's histogram, its errors, its models).

    Unlike ``json.dumps`` it does not look for a value inside itself (ingest's values come from
    JSON, or are refused when nested deeper than :data:`codewitness.ingest.MAX_VALUE_DEPTH`): a
    value that holds itself raises ``RecursionError``.
    """
    defaults = json.JSONEncoder()
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # pragma: no cover - a Python without the json module's C part
        return defaults.encode
    ascii_text = json.encoder.encode_basestring_ascii
    # (markers, default, encoder, indent, key separator, item separator, sort_keys, skipkeys, allow_nan)
    encode = make(None, defaults.default, ascii_text, None, ": ", ", ", False, False, True)

    def dumps(value: Any) -> str:
        if isinstance(value, str):
            return ascii_text(value)
        return "".join(encode(value, 0))

    return dumps


_json_encode = _json_encoder()


def _bind(column: Column[Any], dialect: Dialect) -> Callable[[Any], Any] | None:
    """How ``column`` binds a Python value on ``dialect`` (``None``: as it is)."""
    kind = column.type
    if isinstance(kind, JSON) and getattr(dialect, "_json_serializer", None) is None:  # the engine's own, if set
        none_as_null = kind.none_as_null

        def encode(value: Any) -> Any:
            return None if value is None and none_as_null else _json_encode(value)

        return encode
    if isinstance(kind, UTCDateTime):
        return _time_binder(kind, dialect)
    processor: Callable[[Any], Any] | None = kind.dialect_impl(dialect).bind_processor(dialect)
    return processor


def _time_binder(kind: UTCDateTime, dialect: Dialect) -> Callable[[Any], Any]:
    """UTCDateTime's binding, remembering the values seen (a batch's rows share a few times)."""
    if dialect.name == "sqlite":

        def convert(value: datetime) -> str:
            # UTCDateTime makes it naive UTC; SQLAlchemy's SQLite DATETIME writes that as
            # "YYYY-MM-DD HH:MM:SS.ffffff", which isoformat with these arguments spells the same.
            if value.tzinfo is None:
                raise ValueError("UTCDateTime needs a timezone-aware datetime")
            return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
    else:
        processor = kind.dialect_impl(dialect).bind_processor(dialect)
        assert processor is not None
        convert = processor
    seen: dict[datetime, Any] = {}

    def bind(value: datetime | None) -> Any:
        if value is None:
            return None
        try:
            return seen[value]
        except KeyError:
            pass
        except TypeError:  # not hashable: not a datetime, let the conversion say so
            return convert(value)
        if len(seen) > 4096:
            seen.clear()
        bound = seen[value] = convert(value)
        return bound

    return bind
