"""The merge gate's report as every face shows it: the ``check --json`` document and its summary.

:func:`gate_json` assembles the document from a :class:`~codewitness.checks.gate.GateRun`;
:func:`gate_summary` says in one structure what a person reads under the findings (counts,
what the baseline accepted, what was skipped, packages that could not be checked).

Example:
    >>> run = run_gate(None, families=FAMILIES, base=None, fail_on=None, baseline=None,
    ...                write_baseline=None, offline=True)  # doctest: +SKIP
    >>> gate_json(run)["counts"], gate_summary(run).not_checked  # doctest: +SKIP
    ({'high': 3, 'medium': 3}, 0)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict

if TYPE_CHECKING:
    from codewitness.checks.gate import GateRun

__all__ = ["GateJson", "GateSummary", "SkippedJson", "gate_json", "gate_summary"]

#: Severities from the highest down, as summaries list them.
SEVERITIES = ("high", "medium", "low", "info")
#: The rule a package gets when the index could not answer for it.
NOT_CHECKED_RULE = "CW107"


class SkippedJson(TypedDict):
    """A file (or the database) the gate could not check, and why."""

    path: str
    reason: str


class GateJson(TypedDict):
    """The ``check --json`` (and ``deps --json``) document."""

    findings: list[dict[str, Any]]
    counts: dict[str, int]
    baselined: int
    skipped: list[SkippedJson]
    files: int
    in_tests: int
    undecided: dict[str, int]
    seconds: dict[str, float]
    base: str | None
    packages: list[dict[str, Any]]


@dataclass(frozen=True)
class GateSummary:
    """What a person reads under the findings.

    Attributes:
        counts: ``(severity, count)`` from the highest severity down, only those found.
        files: how many files were in scope.
        baselined: findings the baseline accepted.
        skipped: ``(where, why)`` of what could not be checked.
        not_checked: packages the index could not answer for (so the result is not clean).
        in_tests: findings in test code left unreported (``check.test_paths``, ``check.skip_in_tests``).
        undecided: ``(module, count)`` of names no source, ``__all__`` or stub could decide, most first.
    """

    counts: tuple[tuple[str, int], ...]
    files: int
    baselined: int
    skipped: tuple[tuple[str, str], ...]
    not_checked: int
    in_tests: int = 0
    undecided: tuple[tuple[str, int], ...] = ()


def gate_json(run: GateRun) -> GateJson:
    """The JSON document of one gate run."""
    report, ctx = run.report, run.context
    return {
        "findings": [f.to_dict() for f in report.findings],
        "counts": report.counts(),
        "baselined": len(report.baselined),
        "skipped": [{"path": p, "reason": r} for p, r in report.skipped],
        "files": report.files,
        "in_tests": report.in_tests,
        "undecided": report.undecided,
        "seconds": report.seconds,
        "base": ctx.base,
        "packages": ctx.verdicts,
    }


def gate_summary(run: GateRun) -> GateSummary:
    """The summary of one gate run."""
    report = run.report
    counts = report.counts()
    return GateSummary(
        counts=tuple((s, counts[s]) for s in SEVERITIES if s in counts),
        files=report.files,
        baselined=len(report.baselined),
        skipped=tuple(report.skipped),
        not_checked=sum(1 for f in report.findings if f.rule_id == NOT_CHECKED_RULE),
        in_tests=report.in_tests,
        undecided=tuple(sorted(report.undecided.items(), key=lambda item: (-item[1], item[0]))),
    )
