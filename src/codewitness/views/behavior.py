"""Read models of behaviour: the corpus per function, baselines with their check history, flakiness.

Every face shows the same numbers from here: ``codewitness corpus list | show``, ``baseline list |
show``, ``codewitness flaky``, and the dashboard's behaviour pages (``/behavior``, whose read models
carry counts and check histories but no replayed outcome: those are not redacted).

Example:
    >>> [row["function"] for row in corpus_table(store)]  # doctest: +SKIP
    ['shop.pricing.total']
    >>> baseline_detail(store, "v1")["checks"][0]["alarm"]  # doctest: +SKIP
    False
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from codewitness.behavior.values import display

if TYPE_CHECKING:
    from codewitness.store import Store

__all__ = [
    "BEHAVIOR_COUNTS",
    "baseline_detail",
    "baseline_history",
    "baseline_table",
    "behavior_overview",
    "corpus_detail",
    "corpus_table",
    "flakiness_table",
    "function_behavior",
]

#: The per-function counts of a replay or a baseline check.
BEHAVIOR_COUNTS = ("replayed", "equal", "differing", "errors", "nondeterministic", "not_replayable")


def corpus_table(store: Store) -> list[dict[str, Any]]:
    """Per function: entries, replayable ones, sightings, the newest sighting, entries by source,
    and the non-deterministic inputs its replays found."""
    from codewitness.store.behavior import flakiness
    from codewitness.store.corpus import corpus_counts

    flaky = {row["function"]: row for row in flakiness(store)}
    rows = []
    for row in corpus_counts(store):
        found = flaky.get(row["function"])
        rows.append(
            {
                **row,
                "last_seen": row["last_seen"].isoformat() if row["last_seen"] is not None else None,
                "nondeterministic": found["nondeterministic"] if found else 0,
            }
        )
    return rows


def _inputs(encoded: dict[str, Any] | None) -> str | None:
    if encoded is None:
        return None
    return ", ".join(f"{k}={display(v, 120)}" for k, v in encoded.items())


def corpus_detail(store: Store, function: str, *, limit: int | None = None) -> dict[str, Any]:
    """One function's corpus: each entry with its inputs written as Python (or why there are none),
    newest first, and the counts by shape and by reason not replayable."""
    from codewitness.store.corpus import corpus_entries

    entries = sorted(corpus_entries(store, functions=[function]), key=lambda e: (e.last_seen, e.id), reverse=True)
    shapes: dict[str, int] = {}
    reasons: dict[str, int] = {}
    for entry in entries:
        shapes[entry.shape or "(no shape)"] = shapes.get(entry.shape or "(no shape)", 0) + 1
        if entry.not_replayable:
            reasons[entry.not_replayable] = reasons.get(entry.not_replayable, 0) + 1
    shown = entries if limit is None else entries[:limit]
    return {
        "function": function,
        "entries": len(entries),
        "replayable": sum(1 for e in entries if e.replayable),
        "by_shape": dict(sorted(shapes.items(), key=lambda kv: (-kv[1], kv[0]))),
        "not_replayable": dict(sorted(reasons.items())),
        "items": [
            {
                "id": e.id,
                "source": e.source,
                "shape": e.shape,
                "inputs": _inputs(e.input),
                "arguments": e.arguments,
                "not_replayable": e.not_replayable,
                "observed": display(e.observed["ok"], 120) if e.observed and "ok" in e.observed else None,
                "expect": e.expect,
                "expect_source": e.expect_source,
                "seen": e.seen,
                "first_seen": e.first_seen.isoformat(),
                "last_seen": e.last_seen.isoformat(),
                "revisions": list(e.revisions),
            }
            for e in shown
        ],
    }


def baseline_table(store: Store) -> list[dict[str, Any]]:
    """Every baseline, newest first, with its latest check (counts, share, alarm)."""
    from codewitness.store.behavior import baselines

    return baselines(store)


def baseline_detail(store: Store, name: str, *, checks: int = 20) -> dict[str, Any]:
    """One baseline: its cases per function (inputs and pinned outcomes written as Python) and its
    latest checks, newest first.

    Raises:
        NotFoundError: no such baseline.
    """
    from codewitness.behavior.values import outcome_text
    from codewitness.store.behavior import baseline, baseline_cases, baseline_checks

    found = baseline(store, name)
    cases: dict[str, list[dict[str, Any]]] = {}
    for case in baseline_cases(store, name):
        cases.setdefault(case["function"], []).append(
            {"id": case["id"], "inputs": _inputs(case["input"]), "outcome": outcome_text(case["outcome"], 200)}
        )
    return {**found, "by_function": cases, "checks": baseline_checks(store, name, limit=checks)}


def flakiness_table(store: Store, *, since: datetime | None = None) -> list[dict[str, Any]]:
    """Per function, over the replays since ``since``: runs, inputs replayed, non-deterministic
    inputs, and the latest run (most non-deterministic first)."""
    from codewitness.store.behavior import flakiness

    return flakiness(store, since=since)


def behavior_overview(store: Store) -> dict[str, Any]:
    """The dashboard's behaviour page: baselines with their latest check, the corpus per function,
    and flakiness -- counts only."""
    return {"baselines": baseline_table(store), "corpus": corpus_table(store), "flaky": flakiness_table(store)}


def baseline_history(store: Store, name: str, *, checks: int = 100) -> dict[str, Any]:
    """One baseline and its checks, newest first, each with its counts per function -- no inputs
    and no outcomes (a replay's outcomes are not redacted; ``baseline show`` has them).

    Raises:
        NotFoundError: no such baseline.
    """
    from codewitness.store.behavior import baseline, baseline_checks

    found = baseline(store, name)
    history = []
    for check in baseline_checks(store, name, limit=checks):
        functions = (check.pop("summary") or {}).get("functions", [])
        check["functions"] = [{"function": f["function"], **{k: f[k] for k in BEHAVIOR_COUNTS}} for f in functions]
        history.append(check)
    return {**found, "checks": history}


def function_behavior(store: Store, function: str) -> dict[str, Any] | None:
    """One function's behaviour record, for an agent about to change it: its replay corpus (entries,
    replayable ones, sightings), the non-deterministic inputs replays found, and each baseline that
    pins it with that baseline's latest check of it (counts only: replayed outcomes are not redacted).
    ``None`` when no corpus entry, replay or baseline names the function."""
    from codewitness.store.behavior import baseline_checks, baselines, flakiness
    from codewitness.store.corpus import corpus_counts

    corpus = next((row for row in corpus_counts(store) if row["function"] == function), None)
    flaky = next((row for row in flakiness(store) if row["function"] == function), None)
    pinned = []
    for found in baselines(store):
        if function not in found["functions"]:
            continue
        latest = None
        for check in baseline_checks(store, found["name"], limit=1):
            functions = (check["summary"] or {}).get("functions", [])
            mine: dict[str, Any] = next((f for f in functions if f["function"] == function), {})
            latest = {
                "checked_at": check["checked_at"],
                "revision": check["revision"],
                "alarm": check["alarm"],
                **{k: mine.get(k, 0) for k in BEHAVIOR_COUNTS},
            }
        pinned.append(
            {
                "baseline": found["name"],
                "revision": found["revision"],
                "pinned_at": found["created_at"],
                "latest_check": latest,
            }
        )
    if corpus is None and flaky is None and not pinned:
        return None
    return {
        "corpus": None
        if corpus is None
        else {"entries": corpus["entries"], "replayable": corpus["replayable"], "seen": corpus["seen"]},
        "nondeterministic_inputs": flaky["nondeterministic"] if flaky else 0,
        "baselines": pinned,
    }
