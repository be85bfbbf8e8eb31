"""Merge-gate runs kept for the dashboard: each run's ``check --json`` document and where it ran.

``codewitness check --record`` stores a run here, as does a CI job that POSTs its ``check --json``
document to the server (``/api/v1/checks``).

Example:
    >>> run_id = record_gate_run(store, document, revision="3f2a...", source="cli")  # doctest: +SKIP
    >>> gate_runs(store, limit=1)[0]["findings"]  # doctest: +SKIP
    6
"""

from __future__ import annotations

import uuid
from typing import Any, TypedDict

from sqlalchemy import func, select

from codewitness.errors import NotFoundError
from codewitness.model import utcnow
from codewitness.store import Store, schema

__all__ = ["GateRunRow", "count_gate_runs", "gate_run", "gate_runs", "record_gate_run"]


class GateRunRow(TypedDict):
    """One stored run (``document`` is the ``check --json`` document; left out of lists)."""

    id: str
    created_at: str
    revision: str | None
    base: str | None
    source: str
    findings: int
    counts: dict[str, int]
    document: dict[str, Any] | None


def record_gate_run(
    store: Store, document: dict[str, Any], *, revision: str | None, source: str, base: str | None = None
) -> str:
    """Store one run's document; returns the run id."""
    run_id = uuid.uuid4().hex
    findings = document.get("findings")
    with store.write() as conn:
        conn.execute(
            schema.gate_runs.insert().values(
                id=run_id,
                created_at=utcnow(),
                revision=revision,
                base=base if base is not None else document.get("base"),
                source=source[:200],
                findings=len(findings) if isinstance(findings, list) else 0,
                document=document,
            )
        )
    return run_id


def _row(row: Any, *, with_document: bool) -> GateRunRow:
    document = row.document if isinstance(row.document, dict) else {}
    counts = document.get("counts")
    return {
        "id": row.id,
        "created_at": row.created_at.isoformat(),
        "revision": row.revision,
        "base": row.base,
        "source": row.source,
        "findings": row.findings,
        "counts": dict(counts) if isinstance(counts, dict) else {},
        "document": document if with_document else None,
    }


def gate_runs(store: Store, *, limit: int = 50, offset: int = 0) -> list[GateRunRow]:
    """Stored runs, newest first, without their documents."""
    g = schema.gate_runs
    query = select(g).order_by(g.c.created_at.desc(), g.c.id).limit(limit).offset(offset)
    with store.read() as conn:
        return [_row(r, with_document=False) for r in conn.execute(query)]


def count_gate_runs(store: Store) -> int:
    """How many runs are stored."""
    with store.read() as conn:
        return int(conn.execute(select(func.count()).select_from(schema.gate_runs)).scalar_one())


def gate_run(store: Store, run_id: str) -> GateRunRow:
    """One run with its document.

    Raises:
        NotFoundError: no run has that id.
    """
    g = schema.gate_runs
    with store.read() as conn:
        row = conn.execute(select(g).where(g.c.id == run_id)).first()
    if row is None:
        raise NotFoundError(f"no gate run {run_id!r}")
    return _row(row, with_document=True)
