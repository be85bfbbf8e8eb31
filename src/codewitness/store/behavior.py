"""Baselines, their checks, and replay history in the store.

A baseline is a name, the revision it was pinned at, and one case per replayed input: the input's
exact encoding and the outcome it had (value and hash). Pinning never overwrites: a name that
exists is refused. Every ``baseline check`` is kept with its counts and verdict, and every replay
adds one row per function (what it replayed and how it ended) -- the history behind the
non-determinism counts.

Example:
    >>> pin_baseline(store, name="v1", revision=sha, dirty=False, cases=cases, skipped={})  # doctest: +SKIP
    >>> [c["function"] for c in baseline_cases(store, "v1")]  # doctest: +SKIP
    ['shop.pricing.total', 'shop.pricing.total']
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from codewitness.errors import InputError, NotFoundError
from codewitness.model import utcnow
from codewitness.store import Store, schema

__all__ = [
    "Baseline",
    "baseline",
    "baseline_cases",
    "baseline_checks",
    "baselines",
    "delete_baseline",
    "flakiness",
    "pin_baseline",
    "record_check",
    "record_replay",
    "replay_history",
]

Baseline = dict[str, Any]
_CHUNK = 500


def _baseline_dict(row: Mapping[Any, Any], last_check: Mapping[Any, Any] | None = None) -> Baseline:
    return {
        "name": row["name"],
        "created_at": row["created_at"].isoformat(),
        "revision": row["revision"],
        "dirty": bool(row["dirty"]),
        "functions": list(row["functions"]),
        "cases": int(row["cases"]),
        "skipped": dict(row["skipped"]),
        "note": row["note"],
        "last_check": _check_dict(last_check, summary=False) if last_check is not None else None,
    }


def pin_baseline(
    store: Store,
    *,
    name: str,
    revision: str | None,
    dirty: bool,
    cases: Sequence[Mapping[str, Any]],
    skipped: Mapping[str, int],
    note: str | None = None,
) -> Baseline:
    """Store a new baseline with its cases (each: ``id``, ``function``, ``input_hash``, ``input``,
    ``arguments``, ``outcome``, ``outcome_hash``).

    Raises:
        InputError: the name is empty or taken (a pinned baseline is never rewritten).
    """
    if not name.strip() or len(name) > 200:
        raise InputError("a baseline name is 1 to 200 characters")
    functions = sorted({c["function"] for c in cases})
    table = schema.baselines
    try:
        with store.write() as conn:
            conn.execute(
                table.insert().values(
                    name=name,
                    created_at=utcnow(),
                    revision=revision,
                    dirty=dirty,
                    functions=functions,
                    cases=len(cases),
                    skipped=dict(skipped),
                    note=note,
                )
            )
            rows = [{"baseline": name, **{k: c[k] for k in _CASE_KEYS}} for c in cases]
            for start in range(0, len(rows), _CHUNK):
                conn.execute(schema.baseline_cases.insert(), rows[start : start + _CHUNK])
    except IntegrityError:
        raise InputError(
            f"a baseline named {name!r} exists; pinned baselines are never rewritten: "
            f"`codewitness baseline delete {name}` first, or pick another name"
        ) from None
    return baseline(store, name)


_CASE_KEYS = ("id", "function", "input_hash", "input", "arguments", "outcome", "outcome_hash")


def baseline(store: Store, name: str) -> Baseline:
    """One baseline with its latest check.

    Raises:
        NotFoundError: no baseline has that name.
    """
    table, checks = schema.baselines, schema.baseline_checks
    with store.read() as conn:
        row = conn.execute(select(table).where(table.c.name == name)).mappings().first()
        if row is None:
            raise NotFoundError(f"no baseline {name!r}; `codewitness baseline list` shows them")
        last = (
            conn.execute(select(checks).where(checks.c.baseline == name).order_by(checks.c.checked_at.desc()).limit(1))
            .mappings()
            .first()
        )
    return _baseline_dict(row, last)


def baselines(store: Store) -> list[Baseline]:
    """Every baseline, newest first, each with its latest check."""
    table, checks = schema.baselines, schema.baseline_checks
    with store.read() as conn:
        latest: dict[str, Mapping[Any, Any]] = {}
        for check in conn.execute(select(checks).order_by(checks.c.checked_at)).mappings():
            latest[check["baseline"]] = check
        rows = conn.execute(select(table).order_by(table.c.created_at.desc(), table.c.name)).mappings().all()
    return [_baseline_dict(r, latest.get(r["name"])) for r in rows]


def baseline_cases(store: Store, name: str, functions: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """The cases of a baseline (of some functions), in a stable order."""
    cases = schema.baseline_cases
    query = select(cases).where(cases.c.baseline == name).order_by(cases.c.function, cases.c.id)
    if functions is not None:
        query = query.where(cases.c.function.in_(list(functions)))
    with store.read() as conn:
        return [{k: r[k] for k in _CASE_KEYS} for r in conn.execute(query).mappings()]


def delete_baseline(store: Store, name: str) -> int:
    """Delete a baseline, its cases and its checks; how many cases it had.

    Raises:
        NotFoundError: no baseline has that name.
    """
    with store.write() as conn:
        found = conn.execute(select(schema.baselines.c.cases).where(schema.baselines.c.name == name)).scalar()
        if found is None:
            raise NotFoundError(f"no baseline {name!r}; `codewitness baseline list` shows them")
        conn.execute(delete(schema.baseline_cases).where(schema.baseline_cases.c.baseline == name))
        conn.execute(delete(schema.baseline_checks).where(schema.baseline_checks.c.baseline == name))
        conn.execute(delete(schema.baselines).where(schema.baselines.c.name == name))
    return int(found)


def _check_dict(row: Mapping[Any, Any], *, summary: bool = True) -> dict[str, Any]:
    found = {
        "baseline": row["baseline"],
        "checked_at": row["checked_at"].isoformat(),
        "revision": row["revision"],
        "dirty": bool(row["dirty"]),
        "threshold": float(row["threshold"]),
        "compared": int(row["compared"]),
        "equal": int(row["equal"]),
        "differing": int(row["differing"]),
        "errors": int(row["errors"]),
        "nondeterministic": int(row["nondeterministic"]),
        "share": float(row["share"]),
        "alarm": bool(row["alarm"]),
        "summary": row["summary"],
    }
    if not summary:
        del found["summary"]
    return found


def record_check(store: Store, check: Mapping[str, Any]) -> dict[str, Any]:
    """Keep one baseline check (its counts, share, threshold, alarm and a summary); returns it with its id."""
    row = {
        "id": uuid.uuid4().hex,
        "checked_at": utcnow(),
        **{k: check[k] for k in _CHECK_KEYS},
    }
    with store.write() as conn:
        conn.execute(schema.baseline_checks.insert().values(**row))
    return _check_dict(row)


_CHECK_KEYS = (
    "baseline",
    "revision",
    "dirty",
    "threshold",
    "compared",
    "equal",
    "differing",
    "errors",
    "nondeterministic",
    "share",
    "alarm",
    "summary",
)


def baseline_checks(store: Store, name: str, *, limit: int = 50) -> list[dict[str, Any]]:
    """The checks of a baseline, newest first."""
    checks = schema.baseline_checks
    with store.read() as conn:
        rows = conn.execute(
            select(checks).where(checks.c.baseline == name).order_by(checks.c.checked_at.desc()).limit(limit)
        ).mappings()
        return [_check_dict(r) for r in rows]


def record_replay(
    store: Store, *, kind: str, against: str | None, revision: str | None, functions: Sequence[Mapping[str, Any]]
) -> str:
    """Keep one row per function of a replay run (replayed, equal, differing, errors,
    nondeterministic, not_replayable); returns the run id."""
    run_id = uuid.uuid4().hex
    now = utcnow()
    rows = [
        {
            "run_id": run_id,
            "function": f["function"],
            "time": now,
            "kind": kind,
            "against": against,
            "revision": revision,
            **{k: int(f[k]) for k in _COUNTS},
        }
        for f in functions
    ]
    if rows:
        with store.write() as conn:
            conn.execute(schema.replay_functions.insert(), rows)
    return run_id


_COUNTS = ("replayed", "equal", "differing", "errors", "nondeterministic", "not_replayable")


def replay_history(
    store: Store, *, function: str | None = None, since: datetime | None = None, limit: int = 1000
) -> list[dict[str, Any]]:
    """Replay rows, newest first (of one function, since a time)."""
    table = schema.replay_functions
    query = select(table).order_by(table.c.time.desc(), table.c.function).limit(limit)
    if function is not None:
        query = query.where(table.c.function == function)
    if since is not None:
        query = query.where(table.c.time >= since)
    with store.read() as conn:
        return [
            {**dict(r), "time": r["time"].isoformat()}  # a plain dict: JSON-ready
            for r in conn.execute(query).mappings()
        ]


def flakiness(store: Store, *, since: datetime | None = None) -> list[dict[str, Any]]:
    """Per function: replay runs, inputs replayed, non-deterministic inputs, and the latest run's count."""
    table = schema.replay_functions
    query = select(
        table.c.function,
        func.count().label("runs"),
        func.sum(table.c.replayed).label("replayed"),
        func.sum(table.c.nondeterministic).label("nondeterministic"),
        func.max(table.c.time).label("last"),
    ).group_by(table.c.function)
    if since is not None:
        query = query.where(table.c.time >= since)
    with store.read() as conn:
        rows = conn.execute(query).all()
    return sorted(
        (
            {
                "function": r.function,
                "runs": int(r.runs),
                "replayed": int(r.replayed or 0),
                "nondeterministic": int(r.nondeterministic or 0),
                "last_run": r.last.isoformat(),
            }
            for r in rows
        ),
        key=lambda r: (-r["nondeterministic"], r["function"]),
    )
