"""Runtime facts in the store: writing checked rows, one table per record kind.

:func:`write_rows` takes the rows :mod:`codewitness.ingest` made of the sensor's records and
inserts the ones the store does not have yet (records carry their own ids); the samples among them
join the replay corpus in the same transaction (:func:`codewitness.store.corpus.absorb_samples`).
Reading them back is :mod:`codewitness.store.queries`.

Example:
    >>> written = write_rows(store, {Kind.AGGREGATE: {row["id"]: row}})  # doctest: +SKIP
    >>> written.inserted, written.duplicates  # doctest: +SKIP
    ({<Kind.AGGREGATE: 'aggregate'>: 1}, 0)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Table, select
from sqlalchemy.exc import DataError, IntegrityError, StatementError

from codewitness.facts import Kind
from codewitness.store import Store, _first_line, schema

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
}
#: The request (flow context) of events, keyed by the event's id.
FLOWS: Table = schema.runtime_event_flows
_CHUNK = 500


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

    Raises:
        StoreError: the store cannot be written.
    """
    from codewitness.store.corpus import absorb_samples

    written = Written()
    with store.write() as conn:
        for kind, by_id in rows.items():
            if by_id:
                fresh = _insert_new(conn, TABLES[kind], by_id, written)
                written.inserted[kind] = len(fresh)
                if kind is Kind.SAMPLE and fresh:
                    absorb_samples(conn, fresh)
        if flows:
            stored = Written()
            _insert_new(conn, FLOWS, flows, stored)
            written.refused.extend(stored.refused)
    return written


def _insert_new(
    conn: Connection, table: Table, by_id: Mapping[str, dict[str, Any]], written: Written
) -> list[dict[str, Any]]:
    """Insert the rows whose ids the table lacks; returns the rows inserted.

    Rows the table already has are counted as duplicates. The rows go in one statement inside a
    savepoint; should the database refuse it, each row is tried on its own and the refused ones
    are noted, so one row never costs the others.
    """
    ids = list(by_id)
    present: set[str] = set()
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        present.update(conn.execute(select(table.c.id).where(table.c.id.in_(chunk))).scalars())
    written.duplicates += len(present)
    fresh = [row for key, row in by_id.items() if key not in present]
    if not fresh:
        return []
    try:
        with conn.begin_nested():
            conn.execute(table.insert(), fresh)
        return fresh
    except (DataError, IntegrityError, StatementError, ValueError, OverflowError):
        pass
    added = []
    for row in fresh:
        try:
            with conn.begin_nested():
                conn.execute(table.insert(), [row])
            added.append(row)
        except (DataError, IntegrityError, StatementError, ValueError, OverflowError) as exc:
            written.refused.append(f"refused by the database ({_first_line(exc)})")
    return added
