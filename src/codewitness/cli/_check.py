"""``codewitness check``'s body, and its fast path: a plain run needs neither Typer nor Rich.

The merge gate runs in CI on every push and in agents' hooks after every edit, so its fixed cost
counts. :func:`codewitness.cli.main` calls :func:`run` directly when :func:`fast_args` recognises
the arguments; :mod:`codewitness.cli.check_cmd` (Typer) calls the same :func:`run` for everything
else. :func:`fast_args` accepts only what it fully understands and answers ``None`` for anything
else (``--help``, ``--hook``, an unknown or repeated option, ``--``, a value that starts with
``-``, a ``--jobs`` other than 0, 1 or 2), which Typer then parses and reports as usual. Rich is
loaded only for human output (:mod:`codewitness.cli._common` makes its consoles on first use).

Example:
    >>> fast_args(["check", "--json", "--only", "deps", "src"])
    CheckArgs(paths=(PosixPath('src'),), base=None, as_json=True, sarif=None, md=None, fail_on=None, baseline=None, \
write_baseline=None, only=('deps',), offline=False, ai_only=False, jobs=0, provenance_since=None, record=False, \
root_db=None)
    >>> fast_args(["check", "--help"]) is None
    True
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codewitness.cli import _base
from codewitness.errors import CodewitnessError, InputError, UsageError

if TYPE_CHECKING:
    from codewitness.checks.gate import GateRun

__all__ = ["CheckArgs", "fast_args", "finish", "run"]


@dataclass(frozen=True)
class CheckArgs:
    """The arguments of one ``check`` run (``root_db`` is the root ``codewitness --db``)."""

    paths: tuple[Path, ...] = ()
    base: str | None = None
    as_json: bool = False
    sarif: Path | None = None
    md: Path | None = None
    fail_on: str | None = None
    baseline: Path | None = None
    write_baseline: Path | None = None
    only: tuple[str, ...] = ()
    offline: bool = False
    ai_only: bool = False
    jobs: int = 0
    provenance_since: str | None = None
    record: bool = False
    root_db: str | None = None


#: The flags of ``check`` and the field each sets.
_FLAGS = {"--json": "as_json", "--offline": "offline", "--ai-only": "ai_only", "--record": "record"}
#: The options of ``check`` that take one value, and the field each sets (``--only`` may be repeated).
_VALUES = {
    "--base": "base",
    "--sarif": "sarif",
    "--md": "md",
    "--fail-on": "fail_on",
    "--baseline": "baseline",
    "--write-baseline": "write_baseline",
    "--only": "only",
    "--jobs": "jobs",
    "--provenance-since": "provenance_since",
}
_PATHS = frozenset({"sarif", "md", "baseline", "write_baseline"})


def _value(args: Sequence[str], i: int) -> tuple[str, str, int] | None:
    """The option at ``args[i]`` that takes a value (``--name V`` or ``--name=V``), its value and the next index."""
    token = args[i]
    name, eq, value = token.partition("=")
    if name not in _VALUES and name != "--db":
        return None
    if eq:
        after = i + 1
    elif i + 1 < len(args):
        value, after = args[i + 1], i + 2
    else:
        return None
    return (name, value, after) if value and not value.startswith("-") else None


def fast_args(argv: Sequence[str]) -> CheckArgs | None:
    """The arguments of a plain ``[--db URL] check [PATH ...] [OPTIONS]`` (no ``--hook``, no help).

    ``None`` for anything else, including every form this parser is not sure of: Typer decides those.
    """
    i = 0
    root_db: str | None = None
    while i < len(argv) and argv[i] != "check":
        got = _value(argv, i)
        if got is None or got[0] != "--db" or root_db is not None:
            return None
        root_db, i = got[1], got[2]
    if i >= len(argv):
        return None
    i += 1
    paths: list[Path] = []
    only: list[str] = []
    seen: dict[str, Any] = {}
    while i < len(argv):
        token = argv[i]
        if token in _FLAGS:
            if _FLAGS[token] in seen:
                return None
            seen[_FLAGS[token]] = True
            i += 1
            continue
        if token.startswith("-"):
            got = _value(argv, i)
            if got is None or got[0] == "--db":
                return None
            field, value, i = _VALUES[got[0]], got[1], got[2]
            if field == "only":
                only.append(value)
                continue
            if field in seen:
                return None
            if field == "jobs":
                if value not in ("0", "1", "2"):
                    return None
                seen[field] = int(value)
            else:
                seen[field] = Path(value) if field in _PATHS else value
            continue
        if not token:
            return None
        paths.append(Path(token))
        i += 1
    return CheckArgs(paths=tuple(paths), only=tuple(only), root_db=root_db, **seen)


def run(args: CheckArgs) -> int:
    """Run the gate and write what ``args`` ask for; returns the exit code (1 when the gate fails).

    Raises:
        UsageError: ``--only`` names an unknown family, or ``--fail-on`` an unknown level.
        CodewitnessError: the configuration, git or a baseline file cannot be read.
    """
    from codewitness.checks.runner import FAMILIES

    _base.database_override = args.root_db  # this run's own (None clears an earlier run's, in one process)
    families = args.only or FAMILIES
    unknown = [f for f in families if f not in FAMILIES]
    if unknown:
        raise UsageError(
            f"--only: unknown famil{'ies' if len(unknown) > 1 else 'y'} {', '.join(unknown)}; "
            f"choose from {', '.join(FAMILIES)}"
        )
    from codewitness.checks.gate import run_gate

    gate_run = run_gate(
        list(args.paths) or None,
        families=families,
        base=args.base,
        fail_on=args.fail_on,
        baseline=args.baseline,
        write_baseline=args.write_baseline,
        offline=args.offline,
        ai_only=args.ai_only,
        jobs=args.jobs,
        provenance_since=args.provenance_since,
    )
    return 1 if finish(gate_run, as_json=args.as_json, sarif=args.sarif, md=args.md, record=args.record) else 0


def finish(run: GateRun, *, as_json: bool, sarif: Path | None, md: Path | None, record: bool = False) -> bool:
    """Render a run of :func:`codewitness.checks.gate.run_gate`, write the outputs asked for; True when it failed."""
    if run.baseline_written is not None:
        from codewitness.cli._common import err

        accepted = len(run.report.findings) + len(run.report.baselined)
        err.print(f"baseline: {accepted} finding(s) accepted in {run.baseline_written}")
    _write_outputs(run, as_json=as_json, sarif=sarif, md=md)
    if record:
        _record(run)
    return run.failed


def _write_outputs(run: GateRun, *, as_json: bool, sarif: Path | None, md: Path | None) -> None:
    if sarif:
        from codewitness.checks.sarif import to_sarif

        _write(sarif, json.dumps(to_sarif(run.report.findings), indent=1) + "\n")
    if md:
        from codewitness.checks.markdown import to_markdown

        _write(md, to_markdown(run.report))
    if as_json:
        from codewitness.views.gate import gate_json

        _base.emit_json(gate_json(run))
        return
    if run.report.families == ("deps",):
        _print_verdicts(run.context.verdicts)
    _print_human(run)


def _record(run: GateRun) -> None:
    """Keep the run in the store, for the dashboard's Checks page."""
    from codewitness._git import resolve
    from codewitness.cli._common import err, open_store
    from codewitness.store.gate_runs import record_gate_run
    from codewitness.views.gate import gate_json

    try:
        revision = resolve(run.context.root, "HEAD")
    except CodewitnessError:
        revision = None
    with open_store() as store:
        run_id = record_gate_run(store, dict(gate_json(run)), revision=revision, source="codewitness check")
    err.print(f"gate run {run_id[:12]} recorded (codewitness serve shows it under Checks)")


def _write(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror}") from None


def _print_verdicts(rows: list[dict[str, Any]]) -> None:
    """The package table `codewitness deps` prints: every package's verdict and the facts behind it."""
    from codewitness.cli._common import styled, table

    if not rows:
        return
    colour = {"ok": "green", "problem": "red", "not checked": "yellow"}
    cells = []
    for row in sorted(rows, key=lambda r: (r["verdict"] == "ok", r["ecosystem"], r["name"].lower())):
        age = f"{row['age_days']} days ago" if row["age_days"] is not None else "?"
        cells.append(
            [
                f"{row['ecosystem']}:{row['name']}",
                row["where"],
                styled((row["verdict"], colour[row["verdict"]])),
                age if row["state"] == "exists" else row["state"],
                str(row["versions"] if row["versions"] is not None else "?"),
                row["status"],
                str(row["popularity_rank"] or ""),
                " ".join(row["rules"]),
            ]
        )
    table(["package", "where", "verdict", "first upload", "versions", "status", "rank", "rules"], cells)


def _print_human(run: GateRun) -> None:
    from codewitness.cli._common import err, out, styled
    from codewitness.views.gate import gate_summary

    colour = {"high": "red", "medium": "yellow", "low": "cyan", "info": "dim"}
    for f in run.report.findings:
        where = f" in {f.qualname}()" if f.qualname else ""
        out.print(
            styled(
                f"{f.path}:{f.line}{where}: ",
                (f.level, colour[f.level]),
                f" {f.rule_id} {f.message}",
                (" (AI)", "magenta") if f.ai_authored else "",
            )
        )
        for g in f.generations:
            out.print(f"    written by {g.label()}")
    summary = gate_summary(run)
    counted = ", ".join(f"{n} {severity}" for severity, n in summary.counts)
    accepted = f" ({summary.baselined} accepted by the baseline)" if summary.baselined else ""
    out.print(styled(counted or ("no findings", "green"), f" in {summary.files} file(s){accepted}"))
    if summary.in_tests:
        err.print(f"{summary.in_tests} finding(s) in test code not reported (check.test_paths, check.skip_in_tests)")
    if summary.undecided:
        more = ", ..." if len(summary.undecided) > 5 else ""
        shown = ", ".join(f"{m} ({n})" for m, n in summary.undecided[:5]) + more
        err.print(
            styled(
                (f"{sum(n for _, n in summary.undecided)} name(s) undecided", "yellow"),
                f": their modules make names dynamically and have no stub: {shown}",
            )
        )
    for where, why in summary.skipped:
        err.print(styled(("skipped", "yellow"), f" {where}: {why}"))
    if summary.not_checked:
        err.print(
            styled(
                (f"{summary.not_checked} package(s) were not checked", "yellow"),
                " (index unreachable or offline without a cached answer): this is not a clean result",
            )
        )
