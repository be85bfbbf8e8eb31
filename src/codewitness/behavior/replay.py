"""Replay: run captured inputs through a function at two revisions and say what changed, and who changed it.

For each function, every replayable corpus input (:mod:`codewitness.store.corpus`) runs at the
old revision (``--against``, a temporary git worktree) and at the new one (the working tree, or
``--rev``), each side in its own processes of the project's interpreter
(:mod:`codewitness.behavior.sides`). Every input runs ``behavior.repeat`` times on each side, each
run in a process with its own hash seed: an input whose runs of the *same* code disagree is
**non-deterministic** (unseeded random, set or dict order, time, races) and stays out of the
verdict. The others are compared exactly (:mod:`codewitness.behavior.compare`).

Per function the report counts inputs replayed, equal, differing, non-deterministic, errors (by
message: cannot import, timed out, does not fit the parameters, the budget ran out) and inputs
not replayable (by reason: redacted, no exact form, cannot be rebuilt at a revision), and shows the
first differing inputs with both outcomes, a structural diff, and the generations, models and
prompt versions behind the changed lines (:mod:`codewitness.behavior.changes`). Functions matching
``behavior.exclude`` (side effects) are named and not run.

Example:
    >>> report = replay(store, root, ["shop.pricing.total"], against="v1", settings=config.behavior)  # doctest: +SKIP
    >>> report.exit_code, report.functions[0].differing  # doctest: +SKIP
    (1, 3)
"""

from __future__ import annotations

import fnmatch
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from codewitness.behavior.compare import Difference, Rules, differences, equal
from codewitness.behavior.sides import Limits, Side, checkout, resolve_commit, run_jobs, working_tree
from codewitness.behavior.values import display, outcome_text
from codewitness.errors import InputError

if TYPE_CHECKING:
    from codewitness.behavior.changes import ChangedBy, ContextChange
    from codewitness.config import BehaviorSection
    from codewitness.store import Store
    from codewitness.store.corpus import CorpusEntry

__all__ = [
    "Case",
    "FunctionReport",
    "InputResult",
    "ReplayReport",
    "Verdict",
    "input_text",
    "limits_of",
    "normalise",
    "replay",
    "run_side",
]

Verdict = Literal["equal", "differing", "nondeterministic", "error", "not_rebuilt"]


def normalise(name: str) -> str:
    """``module:qual.name`` -> ``module.qual.name`` (how the store names functions)."""
    return name.strip().replace(":", ".")


def input_text(encoded: dict[str, Any] | None, limit: int = 300) -> str:
    """A call's inputs as ``name=value, ...`` in Python."""
    if encoded is None:
        return "(not replayable)"
    text = ", ".join(f"{k}={display(v, limit)}" for k, v in encoded.items())
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True)
class Case:
    """One input to replay: its corpus (or baseline) id, the exact input, and a pinned outcome if any."""

    id: str
    function: str
    input_hash: str
    input: dict[str, Any]
    arguments: Any = None
    expected: dict[str, Any] | None = None

    @classmethod
    def of(cls, entry: CorpusEntry) -> Case:
        """The case of a replayable corpus entry."""
        assert entry.input is not None
        return cls(entry.id, entry.function, entry.input_hash, entry.input, entry.arguments)


@dataclass
class InputResult:
    """How one input went: its verdict, each side's outcomes (one per run), and the differences."""

    case: Case
    verdict: Verdict
    old: list[dict[str, Any]]
    new: list[dict[str, Any]]
    differences: list[Difference] = field(default_factory=list)
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (outcomes in words and as data)."""
        return {
            "input_hash": self.case.input_hash,
            "input": input_text(self.case.input),
            "verdict": self.verdict,
            "old": [outcome_text(o) for o in self.old],
            "new": [outcome_text(o) for o in self.new],
            "differences": [d.to_dict() for d in self.differences],
            "reason": self.reason,
        }


@dataclass
class FunctionReport:
    """One function's replay (see the module docstring)."""

    function: str
    replayed: int = 0
    equal: int = 0
    differing: int = 0
    nondeterministic: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    not_replayable: Counter[str] = field(default_factory=Counter)
    excluded: str | None = None
    examples: list[InputResult] = field(default_factory=list)
    flaky: list[InputResult] = field(default_factory=list)
    changed: ChangedBy | None = None
    note: str | None = None

    @property
    def error_count(self) -> int:
        """Inputs that could not be run."""
        return sum(self.errors.values())

    @property
    def not_replayable_count(self) -> int:
        """Inputs without an exact encoding, or that could not be rebuilt."""
        return sum(self.not_replayable.values())

    def counts(self) -> dict[str, int]:
        """The counts a replay history row keeps."""
        return {
            "replayed": self.replayed,
            "equal": self.equal,
            "differing": self.differing,
            "errors": self.error_count,
            "nondeterministic": self.nondeterministic,
            "not_replayable": self.not_replayable_count,
        }

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "function": self.function,
            **self.counts(),
            "excluded": self.excluded,
            "note": self.note,
            "errors_by_reason": dict(sorted(self.errors.items())),
            "not_replayable_by_reason": dict(sorted(self.not_replayable.items())),
            "differing_inputs": [r.to_dict() for r in self.examples],
            "nondeterministic_inputs": [r.to_dict() for r in self.flaky],
            "changed_by": self.changed.to_dict() if self.changed is not None else None,
        }


@dataclass
class ReplayReport:
    """A replay of several functions between two sides (or on one side, ``same-rev``)."""

    mode: Literal["against", "same-rev", "since-context-change", "baseline"]
    old: Side | None
    new: Side
    repeat: int
    functions: list[FunctionReport]
    context_change: ContextChange | None = None
    budget_spent: bool = False
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def total(self, name: str) -> int:
        """A count summed over the functions (``replayed``, ``differing``, ...)."""
        return sum(f.counts()[name] for f in self.functions)

    @property
    def exit_code(self) -> int:
        """1 when an input behaves differently (a CI gate); for ``same-rev``, when one is non-deterministic."""
        if self.mode == "same-rev":
            return 1 if self.total("nondeterministic") else 0
        return 1 if self.total("differing") else 0

    def to_dict(self) -> dict[str, Any]:
        """The ``replay --json`` document."""
        return {
            "mode": self.mode,
            "old": self.old.to_dict() if self.old is not None else None,
            "new": self.new.to_dict(),
            "repeat": self.repeat,
            "context_change": self.context_change.to_dict() if self.context_change is not None else None,
            "functions": [f.to_dict() for f in self.functions],
            "totals": {
                name: self.total(name)
                for name in ("replayed", "equal", "differing", "nondeterministic", "errors", "not_replayable")
            }
            | {"excluded": sum(1 for f in self.functions if f.excluded)},
            "budget_spent": self.budget_spent,
            "notes": list(self.notes),
            "seconds": round(self.seconds, 3),
            "exit_code": self.exit_code,
        }


def limits_of(settings: BehaviorSection) -> Limits:
    """The runner limits of the configuration, with the budget starting now."""
    return Limits(
        python=settings.python,
        paths=settings.paths,
        timeout=settings.timeout,
        import_timeout=settings.import_timeout,
        deadline=time.monotonic() + settings.budget,
        budget=settings.budget,
    )


def run_side(
    side: Side,
    cases: Sequence[Case],
    limits: Limits,
    repeat: int,
    *,
    file: tuple[Path, str, str] | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Every case's outcomes at ``side``: ``repeat`` runs, each in its own process (all functions
    together) with hash seed 1, 2, ...; ``file`` is ``(path, module, qualname)`` of a generated module."""
    if file is not None:
        path, module, qualname = file
        jobs = [{"id": c.id, "target": qualname, "input": c.input} for c in cases]
        loaded: tuple[Path, str] | None = (path, module)
    else:
        jobs = [{"id": c.id, "target": c.function, "input": c.input} for c in cases]
        loaded = None
    runs: dict[str, list[dict[str, Any]]] = {c.id: [] for c in cases}
    for seed in range(1, repeat + 1):
        got = run_jobs(side, jobs, limits, seed=seed, file=loaded)
        for case in cases:
            runs[case.id].append(got.outcomes.get(case.id) or {"error": "no outcome"})
    return runs


def _trouble(runs: Sequence[dict[str, Any]], label: str) -> tuple[Verdict, str] | None:
    for outcome in runs:
        if "unbuildable" in outcome:
            return "not_rebuilt", f"cannot be rebuilt at {label}: {outcome['unbuildable']}"
    for outcome in runs:
        if "error" in outcome:
            return "error", f"{label}: {outcome['error']}"
    return None


def _stable(runs: Sequence[dict[str, Any]], rules: Rules) -> bool:
    return all(equal(runs[0], other, rules) for other in runs[1:])


def judge(
    case: Case,
    old: list[dict[str, Any]] | None,
    new: list[dict[str, Any]],
    rules: Rules,
    old_label: str,
    new_label: str,
) -> InputResult:
    """The verdict on one input from its runs on each side (``old`` is ``None`` for one side only)."""
    for runs, label in ((old or [], old_label), (new, new_label)):
        trouble = _trouble(runs, label)
        if trouble is not None:
            return InputResult(case, trouble[0], old or [], new, reason=trouble[1])
    if not (_stable(new, rules) and (old is None or _stable(old, rules))):
        return InputResult(case, "nondeterministic", old or [], new)
    if old is None:
        return InputResult(case, "equal", [], new)
    found = differences(old[0], new[0], rules)
    return InputResult(case, "differing" if found else "equal", old, new, found)


def tally(report: FunctionReport, result: InputResult, shown: int) -> None:
    """Count one input's verdict into its function's report (keeping the first ``shown`` examples)."""
    if result.verdict == "not_rebuilt":
        report.not_replayable[result.reason or "cannot be rebuilt"] += 1
        return
    if result.verdict == "error":
        report.errors[result.reason or "error"] += 1
        return
    report.replayed += 1
    if result.verdict == "equal":
        report.equal += 1
    elif result.verdict == "differing":
        report.differing += 1
        if len(report.examples) < shown:
            report.examples.append(result)
    else:
        report.nondeterministic += 1
        if len(report.flaky) < shown:
            report.flaky.append(result)


def select_cases(
    entries: Sequence[CorpusEntry], report: FunctionReport, *, max_inputs: int, corpus_from: str | None
) -> list[Case]:
    """The replayable inputs of one function (most recently seen first, at most ``max_inputs``);
    the others are counted in ``report`` by reason."""
    cases: list[Case] = []
    for entry in sorted(entries, key=lambda e: (e.last_seen, e.id), reverse=True):
        if corpus_from is not None and not any(r.startswith(corpus_from) for r in entry.revisions):
            continue
        if entry.input is None:
            report.not_replayable[entry.not_replayable or "no exact encoding"] += 1
        elif len(cases) < max_inputs:
            cases.append(Case.of(entry))
    return cases


@contextmanager
def _sides(
    root: Path, against: str | None, rev: str | None, against_name: str | None
) -> Iterator[tuple[Side | None, Side]]:
    with ExitStack() as stack:
        new = stack.enter_context(checkout(root, rev)) if rev is not None else working_tree(root)
        old = None
        if against is not None:
            label = f"{against_name} ({against[:10]})" if against_name and against_name != against else against[:10]
            old = stack.enter_context(checkout(root, against, label))
        yield old, new


def replay(
    store: Store,
    root: Path,
    functions: Sequence[str],
    *,
    settings: BehaviorSection,
    against: str | None = None,
    rev: str | None = None,
    corpus_from: str | None = None,
    all_functions: bool = False,
    same_rev: bool = False,
    since_context_change: bool = False,
    context_files: Sequence[str] = (),
    record: bool = True,
) -> ReplayReport:
    """Replay the corpus of ``functions`` (or all of them) against ``against`` (see the module docstring).

    Args:
        store: the store with the corpus (and the ledger, for who changed what).
        root: the repository.
        functions: ``module.qualname`` (or ``module:qualname``) names.
        settings: the ``behavior`` section.
        against: the old revision; not with ``same_rev``.
        rev: the new revision (default: the working tree as it is).
        corpus_from: only inputs seen at this revision (a commit id or its prefix, or a name git resolves).
        all_functions: every function with corpus inputs.
        same_rev: only look for non-deterministic inputs, on the new side.
        since_context_change: the functions AI-written after the newest change of an agent
            context file, against the revision before that change.
        context_files: the agent context files, globs on repository paths (``metrics.context_files``:
            one list for the metrics' change markers and for this).
        record: keep the per-function counts in the replay history.

    Raises:
        InputError: contradictory or missing options, a function named twice.
        NotFoundError: a revision names no commit.
        GitError: git failed.
    """
    from codewitness.behavior.changes import changed_by
    from codewitness.store.behavior import record_replay
    from codewitness.store.corpus import corpus_counts, corpus_entries

    started = time.monotonic()
    rules = Rules.from_config(settings)
    context = None
    notes: list[str] = []
    if same_rev and (against or since_context_change):
        raise InputError("--same-rev runs one revision: leave out --against and --since-context-change")
    if since_context_change:
        from codewitness.behavior.changes import ai_functions_since, last_context_change

        if against is not None:
            raise InputError("--since-context-change picks the revision to replay against itself: leave out --against")
        context = last_context_change(root, tuple(context_files)) if context_files else None
        if context is None:
            raise InputError(
                "no commit changes an agent context file (metrics.context_files: "
                + (", ".join(context_files[:4]) + (", ..." if len(context_files) > 4 else "") or "none")
                + ")"
            )
        against = context.parent
        picked = ai_functions_since(root, context.commit)
        known = {row["function"] for row in corpus_counts(store)}
        without = [f for f in picked if f not in known]
        if without:
            notes.append(
                f"{len(without)} AI-written function(s) since the change have no corpus inputs: "
                + ", ".join(without[:5])
            )
        functions = [f for f in picked if f in known]
        if not functions:
            notes.append("no function AI-written since the context change has corpus inputs to replay")
    elif not same_rev and against is None:
        raise InputError("say what to replay against: --against REV (or --same-rev, or --since-context-change)")
    names = [normalise(f) for f in functions]
    if all_functions:
        names = sorted({row["function"] for row in corpus_counts(store)} | set(names))
    elif not names and not since_context_change:
        raise InputError("name the functions to replay (module.qualname), or --all")
    if len(set(names)) != len(names):
        raise InputError("a function is named twice")
    against_commit = resolve_commit(root, against) if against is not None else None
    if rev is not None:
        resolve_commit(root, rev)
    corpus_commit = resolve_commit(root, corpus_from) if corpus_from is not None else None
    limits = limits_of(settings)
    reports: list[FunctionReport] = []
    repeat = settings.repeat
    with _sides(root, against_commit, rev, against) as (old, new):
        chosen: dict[str, list[Case]] = {}
        for name in names:
            report = FunctionReport(name)
            reports.append(report)
            pattern = next((p for p in settings.exclude if fnmatch.fnmatchcase(name, p.replace(":", "."))), None)
            if pattern is not None:
                report.excluded = f"behavior.exclude {pattern!r} (side effects): not run"
                continue
            chosen[name] = select_cases(
                corpus_entries(store, functions=[name]),
                report,
                max_inputs=settings.max_inputs,
                corpus_from=corpus_commit,
            )
            if not chosen[name] and not report.not_replayable:
                report.note = "no corpus inputs: sample it (sensor.sample_rate), record tests, or `corpus add`"
        cases = [case for group in chosen.values() for case in group]
        new_runs = run_side(new, cases, limits, repeat) if cases else {}
        old_runs = run_side(old, cases, limits, repeat) if cases and old is not None else None
        for report in reports:
            for case in chosen.get(report.function, []):
                result = judge(
                    case,
                    old_runs[case.id] if old_runs is not None else None,
                    new_runs[case.id],
                    rules,
                    old.label if old is not None else "",
                    new.label,
                )
                tally(report, result, settings.shown)
            if report.differing and against_commit is not None:
                report.changed = changed_by(store, root, report.function, old=against_commit, new=new.commit)
    mode: Literal["against", "same-rev", "since-context-change"] = (
        "same-rev" if same_rev else "since-context-change" if since_context_change else "against"
    )
    replayed = ReplayReport(
        mode=mode,
        old=old,
        new=new,
        repeat=repeat,
        functions=reports,
        context_change=context,
        budget_spent=any("budget" in reason for f in reports for reason in f.errors),
        seconds=time.monotonic() - started,
        notes=notes,
    )
    if record:
        record_replay(
            store,
            kind=mode,
            against=against_commit,
            revision=new.commit,
            functions=[{"function": f.function, **f.counts()} for f in reports if not f.excluded],
        )
    return replayed
