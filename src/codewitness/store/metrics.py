"""Records the quality metrics read beside the ledger: compile verdicts, test runs, and alerts.

* :func:`record_compiles` / :func:`compiles` -- whether each generation's files parse as the agent
  left them and as committed (written when a commit is linked);
* :func:`record_test_run` / :func:`recorded_runs` -- pytest sessions and which AI generations each test ran;
* :func:`fire` / :func:`clear` / :func:`ack` / :func:`list_alerts` -- alert firings, one open row per
  condition until the condition clears.

Example:
    >>> alert, new = fire(store, Firing("metric:hallucination_rate", "metric", "hallucination_rate",
    ...                                "high", "3.1% > 2%", {"value": 0.031}))  # doctest: +SKIP
    >>> new  # doctest: +SKIP
    True
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Column, Connection, select, update

from codewitness._syntax import CompileVerdict
from codewitness.errors import InputError, NotFoundError
from codewitness.model import utcnow
from codewitness.store import Store, schema

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = [
    "Alert",
    "CommitLink",
    "CompileVerdict",
    "Firing",
    "TestResult",
    "TestRun",
    "ack",
    "clear",
    "commit_links",
    "compiles",
    "fire",
    "function_revisions",
    "list_alerts",
    "open_alerts",
    "record_compiles",
    "record_delivery",
    "record_test_run",
    "recorded_runs",
]

_T = TypeVar("_T")
_D = TypeVar("_D", bound="DataclassInstance")


# -- compile verdicts -----------------------------------------------------------------------------


def record_compiles(store: Store, verdicts: Iterable[CompileVerdict]) -> int:
    """Store verdicts not yet stored (the first linking commit's verdict stays); returns how many were new."""
    table = schema.generation_compiles
    rows = list(verdicts)
    if not rows:
        return 0
    now = utcnow()
    added = 0
    with store.write() as conn:
        known = {
            (r[0], r[1])
            for r in conn.execute(
                select(table.c.generation_id, table.c.path).where(
                    table.c.generation_id.in_(sorted({v.generation_id for v in rows}))
                )
            )
        }
        for v in rows:
            if (v.generation_id, v.path) in known:
                continue
            known.add((v.generation_id, v.path))
            conn.execute(
                table.insert().values(
                    generation_id=v.generation_id,
                    path=v.path,
                    language=v.language,
                    raw_ok=v.raw_ok,
                    raw_error=v.raw_error,
                    committed_ok=v.committed_ok,
                    committed_error=v.committed_error,
                    commit_sha=v.commit,
                    checked_at=now,
                )
            )
            added += 1
    return added


def compiles(store: Store, generation_ids: Sequence[str]) -> dict[str, list[CompileVerdict]]:
    """The stored verdicts of ``generation_ids``, per generation."""
    table = schema.generation_compiles
    with store.read() as conn:
        return _grouped(conn, table.c.generation_id, generation_ids, _verdict, table.c.path)


def _verdict(row: Mapping[Any, Any]) -> CompileVerdict:
    return _record(CompileVerdict, row, commit=row["commit_sha"])


def _record(cls: type[_D], row: Mapping[Any, Any], **given: Any) -> _D:
    """The dataclass ``cls`` made from ``row`` by field name: each field its column's value, but those ``given``."""
    return cls(**{f.name: row[f.name] for f in dataclasses.fields(cls) if f.name not in given}, **given)


def _grouped(
    conn: Connection, column: Column[Any], keys: Sequence[str], make: Callable[[Mapping[Any, Any]], _T], *order: Any
) -> dict[str, list[_T]]:
    """The rows of ``column``'s table whose ``column`` is one of ``keys``, each made into a record by ``make``,
    grouped by that key and ordered by ``order`` within a group."""
    found: dict[str, list[_T]] = {}
    # Chunk the IN lists: SQLite limits bound parameters per statement.
    for start in range(0, len(keys), 500):
        query = select(column.table).where(column.in_(list(keys[start : start + 500]))).order_by(*order)
        for row in conn.execute(query).mappings():
            found.setdefault(row[column.name], []).append(make(row))
    return found


# -- commit links, as the metrics read them ---------------------------------------------------------


@dataclass(frozen=True)
class CommitLink:
    """One commit that carries lines of a generation in one file (a ``commit_generations`` row)."""

    commit: str
    generation_id: str
    path: str
    ai_lines: int
    mixed_lines: int
    linked_at: datetime


def commit_links(store: Store, generation_ids: Sequence[str]) -> dict[str, list[CommitLink]]:
    """The commit links of ``generation_ids``, per generation, oldest link first."""
    table = schema.commit_generations
    with store.read() as conn:
        return _grouped(
            conn, table.c.generation_id, generation_ids, _link, table.c.linked_at, table.c.commit_sha, table.c.path
        )


def _link(row: Mapping[Any, Any]) -> CommitLink:
    return _record(
        CommitLink, row, commit=row["commit_sha"], ai_lines=int(row["ai_lines"]), mixed_lines=int(row["mixed_lines"])
    )


# -- runtime revisions ----------------------------------------------------------------------------


def function_revisions(store: Store, since: datetime | None = None) -> dict[str, list[tuple[str, datetime]]]:
    """Per function, the revisions that reported it (intervals ending at or after ``since``),
    each with when it was first seen, oldest first. Facts without a revision are left out."""
    from sqlalchemy import func

    table = schema.runtime_aggregates
    query = (
        select(table.c.function, table.c.revision, func.min(table.c.interval_start))
        .where(table.c.revision.is_not(None))
        .group_by(table.c.function, table.c.revision)
    )
    if since is not None:
        query = query.where(table.c.interval_end >= since)
    found: dict[str, list[tuple[str, datetime]]] = {}
    with store.read() as conn:
        for function, revision, first in conn.execute(query):
            found.setdefault(function, []).append((revision, first))
    for revisions in found.values():
        revisions.sort(key=lambda pair: (pair[1], pair[0]))
    return found


# -- test runs ------------------------------------------------------------------------------------

#: The outcomes a test result may have.
OUTCOMES = ("passed", "failed", "error", "skipped")


@dataclass(frozen=True)
class TestResult:
    """One test of a run: its outcome and the AI-written functions (and their generations) it ran."""

    __test__ = False  # not a pytest test class

    nodeid: str
    outcome: str
    duration_ms: float
    functions: tuple[str, ...] = ()
    generation_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class TestRun:
    """One pytest session recorded with ``--codewitness-tests``."""

    __test__ = False

    id: str
    started_at: datetime
    finished_at: datetime
    revision: str | None
    results: tuple[TestResult, ...] = field(default=())

    @property
    def failed(self) -> int:
        """Tests that failed or errored."""
        return sum(1 for r in self.results if r.outcome in ("failed", "error"))


def record_test_run(store: Store, run: TestRun) -> None:
    """Store one test run and its results (a run id already stored is left as it is).

    Raises:
        InputError: a result has an outcome outside :data:`OUTCOMES`.
    """
    bad = sorted({r.outcome for r in run.results} - set(OUTCOMES))
    if bad:
        raise InputError(f"unknown test outcome {', '.join(bad)}; expected one of {', '.join(OUTCOMES)}")
    runs, results = schema.test_runs, schema.test_results
    with store.write() as conn:
        if conn.execute(select(runs.c.id).where(runs.c.id == run.id)).first() is not None:
            return
        conn.execute(
            runs.insert().values(
                id=run.id,
                started_at=run.started_at,
                finished_at=run.finished_at,
                revision=run.revision,
                tests=len(run.results),
                failed=run.failed,
            )
        )
        unique = {r.nodeid: r for r in run.results}
        if unique:
            conn.execute(
                results.insert(),
                [
                    {
                        "run_id": run.id,
                        "nodeid": r.nodeid,
                        "outcome": r.outcome,
                        "duration_ms": r.duration_ms,
                        "functions": list(r.functions),
                        "generation_ids": list(r.generation_ids),
                    }
                    for r in unique.values()
                ],
            )


def recorded_runs(store: Store, since: datetime | None = None) -> list[TestRun]:
    """Recorded test runs started at or after ``since``, oldest first, with their results."""
    runs, results = schema.test_runs, schema.test_results
    query = select(runs).order_by(runs.c.started_at, runs.c.id)
    if since is not None:
        query = query.where(runs.c.started_at >= since)
    with store.read() as conn:
        found = list(conn.execute(query).mappings())
        by_run = _grouped(conn, results.c.run_id, [r["id"] for r in found], _test_result)
    return [
        TestRun(
            id=r["id"],
            started_at=r["started_at"],
            finished_at=r["finished_at"],
            revision=r["revision"],
            results=tuple(sorted(by_run.get(r["id"], []), key=lambda t: t.nodeid)),
        )
        for r in found
    ]


def _test_result(row: Mapping[Any, Any]) -> TestResult:
    return _record(
        TestResult,
        row,
        duration_ms=float(row["duration_ms"]),
        functions=tuple(row["functions"]),
        generation_ids=tuple(row["generation_ids"]),
    )


# -- alerts ---------------------------------------------------------------------------------------

#: Alert states: ``firing`` while the condition holds, ``cleared`` once it no longer does.
STATES = ("firing", "cleared")


@dataclass(frozen=True)
class Firing:
    """A condition that holds now, as a rule evaluation found it.

    Attributes:
        condition: the stable key of the condition (rule and subject): one open alert per key.
        rule: the rule's id (``metric``, ``ai_error_rate``, ``p95_regression``, ``breach``, ...).
        subject: what it is about (a metric id, a function, ``service@revision``).
        severity: ``high``, ``medium`` or ``low``.
        message: one line for people.
        evidence: the numbers behind it (JSON-ready).
    """

    condition: str
    rule: str
    subject: str
    severity: str
    message: str
    evidence: Mapping[str, Any]


@dataclass(frozen=True)
class Alert:
    """One stored firing."""

    id: str
    condition: str
    rule: str
    subject: str
    severity: str
    message: str
    evidence: Mapping[str, Any]
    status: str
    fired_at: datetime
    last_seen_at: datetime
    cleared_at: datetime | None
    acked_at: datetime | None
    ack_note: str | None
    deliveries: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape (``alerts list --json``, the webhook's ``json`` payload)."""
        return {
            "id": self.id,
            "condition": self.condition,
            "rule": self.rule,
            "subject": self.subject,
            "severity": self.severity,
            "message": self.message,
            "evidence": dict(self.evidence),
            "status": self.status,
            "fired_at": self.fired_at.isoformat(),
            "last_seen_at": self.last_seen_at.isoformat(),
            "cleared_at": self.cleared_at.isoformat() if self.cleared_at else None,
            "acked_at": self.acked_at.isoformat() if self.acked_at else None,
            "ack_note": self.ack_note,
            "deliveries": dict(self.deliveries),
        }


def _alert(row: Mapping[Any, Any]) -> Alert:
    return _record(Alert, row, evidence=dict(row["evidence"] or {}), deliveries=dict(row["deliveries"] or {}))


def open_alerts(store: Store) -> list[Alert]:
    """The alerts still firing, oldest first."""
    table = schema.alerts
    with store.read() as conn:
        rows = conn.execute(
            select(table).where(table.c.status == "firing").order_by(table.c.fired_at, table.c.id)
        ).mappings()
        return [_alert(r) for r in rows]


def fire(store: Store, firing: Firing, now: datetime | None = None) -> tuple[Alert, bool]:
    """Record that ``firing``'s condition holds.

    Returns:
        The alert, and whether it is new: ``False`` when the condition's alert was already open
        (its ``last_seen_at`` and evidence are brought up to date; nobody is told again).
    """
    now = now or utcnow()
    table = schema.alerts
    with store.write() as conn:
        row = (
            conn.execute(
                select(table).where(table.c.condition == firing.condition, table.c.status == "firing").limit(1)
            )
            .mappings()
            .first()
        )
        if row is not None:
            conn.execute(
                update(table)
                .where(table.c.id == row["id"])
                .values(last_seen_at=now, evidence=dict(firing.evidence), message=firing.message)
            )
            alert_id, new = row["id"], False
        else:
            digest = hashlib.sha256(f"{firing.condition}\0{now.isoformat()}".encode()).hexdigest()[:20]
            alert_id, new = f"al_{digest}", True
            conn.execute(
                table.insert().values(
                    id=alert_id,
                    condition=firing.condition,
                    rule=firing.rule,
                    subject=firing.subject,
                    severity=firing.severity,
                    message=firing.message,
                    evidence=dict(firing.evidence),
                    status="firing",
                    fired_at=now,
                    last_seen_at=now,
                    deliveries={},
                )
            )
        stored = conn.execute(select(table).where(table.c.id == alert_id)).mappings().one()
    return _alert(stored), new


def record_delivery(store: Store, alert_id: str, channel: str, outcome: Mapping[str, Any]) -> None:
    """Remember how delivering an alert to ``channel`` went (``{"ok": ..., "attempts": ..., "error": ...}``)."""
    table = schema.alerts
    with store.write() as conn:
        current = conn.execute(select(table.c.deliveries).where(table.c.id == alert_id)).scalar()
        deliveries = dict(current or {})
        deliveries[channel] = dict(outcome)
        conn.execute(update(table).where(table.c.id == alert_id).values(deliveries=deliveries))


def clear(store: Store, holding: Iterable[str], *, rules: Iterable[str], now: datetime | None = None) -> list[Alert]:
    """Clear the open alerts of ``rules`` whose condition is not in ``holding`` (the conditions that hold now).

    Only the rules that were evaluated are cleared: an alert of a rule that was not looked at stays open.

    Returns:
        The alerts cleared now.
    """
    now = now or utcnow()
    keep = set(holding)
    evaluated = sorted(set(rules))
    table = schema.alerts
    with store.write() as conn:
        rows = list(
            conn.execute(select(table).where(table.c.status == "firing", table.c.rule.in_(evaluated))).mappings()
        )
        gone = [r for r in rows if r["condition"] not in keep]
        for r in gone:
            conn.execute(update(table).where(table.c.id == r["id"]).values(status="cleared", cleared_at=now))
    return [_alert({**r, "status": "cleared", "cleared_at": now}) for r in gone]


def list_alerts(store: Store, *, status: str | None = None, since: datetime | None = None) -> list[Alert]:
    """Stored alerts, newest first, optionally only those in ``status`` or fired since ``since``.

    Raises:
        InputError: an unknown status.
    """
    if status is not None and status not in STATES:
        raise InputError(f"--status is one of {', '.join(STATES)}; not {status!r}")
    table = schema.alerts
    query = select(table).order_by(table.c.fired_at.desc(), table.c.id)
    if status is not None:
        query = query.where(table.c.status == status)
    if since is not None:
        query = query.where(table.c.fired_at >= since)
    with store.read() as conn:
        return [_alert(r) for r in conn.execute(query).mappings()]


def ack(store: Store, ref: str, note: str | None = None, now: datetime | None = None) -> Alert:
    """Acknowledge the alert ``ref`` (an id or a unique prefix of one).

    Raises:
        NotFoundError: no alert matches.
        InputError: the prefix matches several alerts.
    """
    table = schema.alerts
    ref = ref.strip()
    with store.write() as conn:
        ids = list(conn.execute(select(table.c.id).where(table.c.id.like(f"{_escape(ref)}%", escape="\\"))).scalars())
        exact = [i for i in ids if i == ref]
        if exact:
            ids = exact
        if not ids:
            raise NotFoundError(f"no alert {ref!r}; `codewitness alerts list` shows them")
        if len(ids) > 1:
            raise InputError(
                f"{ref!r} matches {len(ids)} alerts ({', '.join(sorted(ids)[:3])}, ...); give more of the id"
            )
        conn.execute(update(table).where(table.c.id == ids[0]).values(acked_at=now or utcnow(), ack_note=note))
        row = conn.execute(select(table).where(table.c.id == ids[0])).mappings().one()
    return _alert(row)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
