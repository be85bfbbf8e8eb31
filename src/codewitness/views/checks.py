"""Merge-gate runs as the dashboard shows them: the list of runs and one run's findings.

Runs are stored by ``codewitness check --record`` or POSTed by CI to the server; the document
is the ``check --json`` one (:mod:`codewitness.views.gate`).

Example:
    >>> page = gate_run_list(store, limit=10)  # doctest: +SKIP
    >>> page.items[0]["counts"], gate_run_detail(store, page.items[0]["id"]).by_rule  # doctest: +SKIP
    ({'high': 3, 'medium': 3}, {'CW301': 2, ...})
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from codewitness.store.gate_runs import GateRunRow, count_gate_runs, gate_run, gate_runs
from codewitness.views.gate import SEVERITIES
from codewitness.views.paging import Page, check_window

if TYPE_CHECKING:
    from codewitness.store import Store

__all__ = ["GateRunDetail", "gate_run_detail", "gate_run_list"]


def gate_run_list(store: Store, *, limit: int = 50, offset: int = 0) -> Page[GateRunRow]:
    """Stored runs, newest first, one page.

    Raises:
        UsageError: a bad page window.
    """
    check_window(limit, offset)
    return Page(tuple(gate_runs(store, limit=limit, offset=offset)), count_gate_runs(store), limit, offset)


@dataclass(frozen=True)
class GateRunDetail:
    """One run: where it ran, its findings (highest severity first) and their counts by rule.

    Attributes:
        run: the stored run (with its document).
        findings: the document's findings, ordered by severity, then path and line.
        by_rule: rule id -> how many findings.
    """

    run: GateRunRow
    findings: tuple[dict[str, Any], ...]
    by_rule: dict[str, int]


def gate_run_detail(store: Store, run_id: str) -> GateRunDetail:
    """One stored run.

    Raises:
        NotFoundError: no run has that id.
    """
    run = gate_run(store, run_id)
    document = run["document"] or {}
    raw = document.get("findings")
    findings = [f for f in raw if isinstance(f, dict)] if isinstance(raw, list) else []
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    findings.sort(key=lambda f: (rank.get(str(f.get("severity")), len(rank)), str(f.get("path")), _line(f.get("line"))))
    by_rule: dict[str, int] = {}
    for f in findings:
        rule = str(f.get("rule"))
        by_rule[rule] = by_rule.get(rule, 0) + 1
    return GateRunDetail(run=run, findings=tuple(findings), by_rule=dict(sorted(by_rule.items())))


def _line(value: Any) -> int:
    return value if isinstance(value, int) else 0
