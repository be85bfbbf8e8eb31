"""Baselines: pin the outcomes of the corpus at one revision; check the working tree against them.

``pin`` replays every replayable corpus input of the chosen functions at a revision (the working
tree by default), ``behavior.repeat`` times each, and stores each deterministic outcome with its
hash under a name; a name is never pinned twice (:mod:`codewitness.store.behavior`). Inputs left
out are counted by reason (non-deterministic, could not run, not replayable, excluded).

``check`` replays the pinned inputs at the working tree (or ``--rev``) and compares each outcome
with the pinned one. It **alarms** when the share of differing inputs among those compared exceeds
the threshold (``--threshold``, default ``behavior.threshold``), or when nothing could be compared
at all; every check is kept with its counts and verdict (the history a dashboard draws). An alarm
is also an alert (rule ``baseline``, one per baseline while it lasts: :mod:`codewitness.metrics.alerts`),
delivered through the ``alerts`` channels when it is new; a check within the threshold clears it.

Example:
    >>> pinned = pin(store, root, "v1", ["shop.pricing.total"], settings=config.behavior)  # doctest: +SKIP
    >>> result = check(store, root, "v1", threshold=0.02, settings=config.behavior)  # doctest: +SKIP
    >>> result.alarm, round(result.share, 3)  # doctest: +SKIP
    (True, 0.1)
"""

from __future__ import annotations

import fnmatch
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codewitness._git import dirty_paths, resolve
from codewitness.behavior.compare import Rules
from codewitness.behavior.replay import (
    Case,
    FunctionReport,
    ReplayReport,
    judge,
    limits_of,
    normalise,
    run_side,
    select_cases,
    tally,
)
from codewitness.behavior.sides import Side, checkout, here
from codewitness.errors import InputError, NotFoundError

if TYPE_CHECKING:
    from codewitness.config import AlertsSection, BehaviorSection
    from codewitness.metrics.alerts import BaselineAlert
    from codewitness.store import Store

__all__ = ["CheckResult", "PinResult", "check", "parse_threshold", "pin"]


def parse_threshold(text: str) -> float:
    """``2%`` or ``0.02`` -> 0.02.

    Raises:
        InputError: not a share from 0 to 1 (or 0% to 100%).
    """
    raw = text.strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise InputError(f"a threshold is a share such as 2% or 0.02, not {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise InputError(f"a threshold is between 0% and 100%, not {text!r}")
    return value


def _where(root: Path, side: Side) -> tuple[str | None, bool]:
    """The commit a side stands for, and whether it is the working tree with uncommitted changes
    to Python files."""
    if side.commit is not None:
        return side.commit, False
    return resolve(root, "HEAD"), bool(dirty_paths(root, ["*.py"]))


@dataclass
class PinResult:
    """What a pin stored and what it left out (by reason)."""

    baseline: dict[str, Any]
    skipped: Counter[str] = field(default_factory=Counter)
    functions: list[FunctionReport] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The ``baseline pin --json`` document."""
        return {"baseline": self.baseline, "skipped": dict(sorted(self.skipped.items()))}


def pin(
    store: Store,
    root: Path,
    name: str,
    functions: Sequence[str],
    *,
    settings: BehaviorSection,
    rev: str | None = None,
    note: str | None = None,
) -> PinResult:
    """Pin the outcomes of the corpus of ``functions`` (all with corpus inputs when empty) at ``rev``.

    Raises:
        InputError: the name is taken, or no input could be pinned (the message says why).
        NotFoundError: ``rev`` names no commit.
    """
    from codewitness.store.behavior import baseline as existing
    from codewitness.store.behavior import pin_baseline, record_replay
    from codewitness.store.corpus import corpus_counts, corpus_entries, input_hash
    from codewitness.store.corpus import entry_id as case_id

    try:
        existing(store, name)
    except NotFoundError:
        pass  # the name is free
    else:
        raise InputError(
            f"a baseline named {name!r} exists; pinned baselines are never rewritten: "
            f"`codewitness baseline delete {name}` first, or pick another name"
        )
    from codewitness.sensor.exact import digest

    names = [normalise(f) for f in functions] or sorted(row["function"] for row in corpus_counts(store))
    if not names:
        raise InputError("the corpus is empty: sample calls (sensor.sample_rate), record tests, or `corpus add`")
    rules = Rules.from_config(settings)
    limits = limits_of(settings)
    cases: list[dict[str, Any]] = []
    result = PinResult(baseline={})
    with checkout(root, rev) if rev is not None else here(root) as side:
        picked: dict[str, list[Case]] = {}
        for function in names:
            report = FunctionReport(function)
            result.functions.append(report)
            if any(fnmatch.fnmatchcase(function, p.replace(":", ".")) for p in settings.exclude):
                result.skipped["excluded by behavior.exclude (side effects)"] += 1
                continue
            picked[function] = select_cases(
                corpus_entries(store, functions=[function]), report, max_inputs=settings.max_inputs, corpus_from=None
            )
        everything = [case for group in picked.values() for case in group]
        runs = run_side(side, everything, limits, settings.repeat) if everything else {}
        for report in result.functions:
            function = report.function
            for case in picked.get(function, []):
                verdict = judge(case, None, runs[case.id], rules, "", side.label)
                tally(report, verdict, settings.shown)
                if verdict.verdict == "equal":
                    outcome = runs[case.id][0]
                    cases.append(
                        {
                            "id": case_id(function, case.input_hash),
                            "function": function,
                            "input_hash": case.input_hash or input_hash(case.input, None),
                            "input": case.input,
                            "arguments": case.arguments if case.arguments is not None else {},
                            "outcome": outcome,
                            "outcome_hash": digest(outcome),
                        }
                    )
                elif verdict.verdict == "nondeterministic":
                    result.skipped["non-deterministic"] += 1
                else:
                    result.skipped[verdict.reason or verdict.verdict] += 1
            for reason, n in report.not_replayable.items():
                result.skipped[f"not replayable: {reason}"] += n
        commit, dirty = _where(root, side)
    if not cases:
        reasons = "; ".join(f"{n} {r}" for r, n in result.skipped.most_common(3)) or "no replayable inputs"
        raise InputError(f"nothing to pin for {', '.join(names[:3])}: {reasons}")
    result.baseline = pin_baseline(
        store, name=name, revision=commit, dirty=dirty, cases=cases, skipped=result.skipped, note=note
    )
    record_replay(
        store,
        kind="baseline-pin",
        against=None,
        revision=commit,
        functions=[{"function": f.function, **f.counts()} for f in result.functions],
    )
    return result


@dataclass
class CheckResult:
    """One baseline check: the replay of the pinned inputs and the verdict."""

    baseline: dict[str, Any]
    threshold: float
    report: ReplayReport
    stored: dict[str, Any]
    alert: BaselineAlert

    @property
    def compared(self) -> int:
        """Inputs compared with their pinned outcome (deterministic here, and run)."""
        return self.report.total("equal") + self.report.total("differing")

    @property
    def share(self) -> float:
        """The share of compared inputs whose outcome differs from the pinned one."""
        return self.report.total("differing") / self.compared if self.compared else 0.0

    @property
    def alarm(self) -> bool:
        """Whether the share exceeds the threshold, or nothing could be compared."""
        return bool(self.stored["alarm"])

    @property
    def exit_code(self) -> int:
        """1 on an alarm."""
        return 1 if self.alarm else 0

    def to_dict(self) -> dict[str, Any]:
        """The ``baseline check --json`` document."""
        return {
            "baseline": self.baseline["name"],
            "pinned_at": self.baseline["revision"],
            "threshold": self.threshold,
            "compared": self.compared,
            "share": round(self.share, 6),
            "alarm": self.alarm,
            "replay": self.report.to_dict(),
            "alert": self.alert.to_dict(),
            "exit_code": self.exit_code,
        }


def check(
    store: Store,
    root: Path,
    name: str,
    *,
    settings: BehaviorSection,
    threshold: float | None = None,
    rev: str | None = None,
    alerts: AlertsSection | None = None,
    skip_channels: dict[str, str] | None = None,
) -> CheckResult:
    """Replay the inputs pinned in baseline ``name`` at the working tree (or ``rev``) and judge them.

    The check is stored, and the baseline's alert fired or cleared with it; a new alert goes through
    the channels of ``alerts`` (none when it is ``None``), less ``skip_channels``.

    Raises:
        NotFoundError: no such baseline, or ``rev`` names no commit.
    """
    from codewitness.behavior.changes import changed_by
    from codewitness.metrics.alerts import judge_baseline
    from codewitness.store.behavior import baseline as get_baseline
    from codewitness.store.behavior import baseline_cases, record_check, record_replay

    started = time.monotonic()
    pinned = get_baseline(store, name)
    limit = settings.threshold if threshold is None else threshold
    rules = Rules.from_config(settings)
    limits = limits_of(settings)
    by_function: dict[str, list[Case]] = {}
    for row in baseline_cases(store, name):
        by_function.setdefault(row["function"], []).append(
            Case(row["id"], row["function"], row["input_hash"], row["input"], row["arguments"], row["outcome"])
        )
    reports: list[FunctionReport] = []
    with checkout(root, rev) if rev is not None else here(root) as side:
        everything = [case for _, group in sorted(by_function.items()) for case in group]
        runs = run_side(side, everything, limits, settings.repeat)
        for function, cases in sorted(by_function.items()):
            report = FunctionReport(function)
            reports.append(report)
            for case in cases:
                assert case.expected is not None
                old_label = f"baseline {name}"
                tally(report, judge(case, [case.expected], runs[case.id], rules, old_label, side.label), settings.shown)
            if report.differing and pinned["revision"]:
                report.changed = changed_by(store, root, function, old=pinned["revision"], new=side.commit)
        commit, dirty = _where(root, side)
    report_all = ReplayReport(
        mode="baseline",
        old=None,
        new=side,
        repeat=settings.repeat,
        functions=reports,
        budget_spent=any("budget" in r for f in reports for r in f.errors),
        seconds=time.monotonic() - started,
    )
    compared = report_all.total("equal") + report_all.total("differing")
    share = report_all.total("differing") / compared if compared else 0.0
    stored = record_check(
        store,
        {
            "baseline": name,
            "revision": commit,
            "dirty": dirty,
            "threshold": limit,
            "compared": compared,
            "equal": report_all.total("equal"),
            "differing": report_all.total("differing"),
            "errors": report_all.total("errors"),
            "nondeterministic": report_all.total("nondeterministic"),
            "share": share,
            "alarm": share > limit or compared == 0,
            "summary": {"functions": [f.to_dict() for f in reports]},
        },
    )
    record_replay(
        store,
        kind="baseline-check",
        against=pinned["revision"],
        revision=commit,
        functions=[{"function": f.function, **f.counts()} for f in reports],
    )
    alert = judge_baseline(store, root, stored, alerts, skip_channels=skip_channels)
    return CheckResult(baseline=pinned, threshold=limit, report=report_all, stored=stored, alert=alert)
