"""``codewitness check``: the merge gate, for CI, pre-commit and agent hooks.

Exit codes: 0 no finding at or above ``--fail-on``; 1 findings at or above it (or an operational
error); 2 a usage error. In ``--hook`` mode the exit code is the hook's answer (2 = tell the agent).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from codewitness.cli._common import emit_json, err, get_config, out, styled, table
from codewitness.errors import CodewitnessError, InputError, UsageError

if TYPE_CHECKING:
    from codewitness.checks.gate import GateRun


def register(app: typer.Typer) -> None:
    """Add the ``check`` command."""
    app.command("check")(check)


def finish(run: GateRun, *, as_json: bool, sarif: Path | None, md: Path | None, record: bool = False) -> None:
    """Render a run of :func:`codewitness.checks.gate.run_gate`, write the outputs asked for; exit 1 when it fails."""
    if run.baseline_written is not None:
        accepted = len(run.report.findings) + len(run.report.baselined)
        err.print(f"baseline: {accepted} finding(s) accepted in {run.baseline_written}")
    _write_outputs(run, as_json=as_json, sarif=sarif, md=md)
    if record:
        _record(run)
    if run.failed:
        raise typer.Exit(1)


def _write_outputs(run: GateRun, *, as_json: bool, sarif: Path | None, md: Path | None) -> None:
    from codewitness.checks.markdown import to_markdown
    from codewitness.checks.sarif import to_sarif
    from codewitness.views.gate import gate_json

    if sarif:
        _write(sarif, json.dumps(to_sarif(run.report.findings), indent=1) + "\n")
    if md:
        _write(md, to_markdown(run.report))
    if as_json:
        emit_json(gate_json(run))
        return
    if run.report.families == ("deps",):
        _print_verdicts(run.context.verdicts)
    _print_human(run)


def _record(run: GateRun) -> None:
    """Keep the run in the store, for the dashboard's Checks page."""
    from codewitness._git import resolve
    from codewitness.cli._common import open_store
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


def run_hook(agent: str, offline: bool, fail_on: str | None = None) -> None:
    """Answer one agent hook payload read from stdin (see :mod:`codewitness.checks.hook`)."""
    from codewitness.capture import AGENT_MODULES
    from codewitness.checks.gate import FAIL_LEVELS, index_client
    from codewitness.checks.hook import answer, parse_payload
    from codewitness.checks.popular import load_popular

    if agent not in AGENT_MODULES:
        raise UsageError(f"--hook supports {', '.join(AGENT_MODULES)}; got {agent!r}")
    if fail_on is not None and fail_on not in FAIL_LEVELS:
        raise UsageError(f"--fail-on must be one of {', '.join(FAIL_LEVELS)}; got {fail_on!r}")
    try:
        payload = parse_payload(sys.stdin.read())
        roots = payload.get("workspace_roots")
        start = payload.get("cwd") or (roots[0] if isinstance(roots, list) and roots else None)
        root = get_config(Path(start) if isinstance(start, str) and start else None).root
        settings = get_config(root).config.check
        client = index_client(root, settings, offline=offline, npm=True)
        answer_ = answer(
            agent,
            payload,
            root,
            client,
            load_popular(root),
            settings.new_package_days,
            fail_on=fail_on or settings.fail_on,
        )
        if client.cache is not None:
            client.cache.save()
    except CodewitnessError as exc:
        # Exit 1: a non-blocking hook error. Exit 2 would hand our own failure to the agent as its fault.
        print(f"codewitness: error: {exc}", file=sys.stderr)
        raise typer.Exit(1) from None
    if answer_.stdout:
        sys.stdout.write(answer_.stdout + "\n")
    if answer_.stderr:
        print(answer_.stderr, file=sys.stderr)
    raise typer.Exit(answer_.exit_code)


def check(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Files or folders to check (default: the project).")
    ] = None,
    base: Annotated[str | None, typer.Option("--base", help="Only report lines changed since this revision.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
    sarif: Annotated[Path | None, typer.Option("--sarif", help="Write SARIF 2.1.0 to this file.")] = None,
    md: Annotated[Path | None, typer.Option("--md", help="Write a markdown report (for a PR comment).")] = None,
    fail_on: Annotated[
        str | None,
        typer.Option(
            "--fail-on",
            help="Lowest severity that fails: info, low, medium, high, never (default: check.fail_on).",
        ),
    ] = None,
    baseline: Annotated[
        Path | None, typer.Option("--baseline", help="Accept the findings listed in this file.")
    ] = None,
    write_baseline: Annotated[
        Path | None,
        typer.Option("--write-baseline", help="Write all current findings to this baseline file and exit 0."),
    ] = None,
    only: Annotated[
        list[str] | None,
        typer.Option("--only", help="Run only these families: deps, apis, security, provenance, complexity."),
    ] = None,
    offline: Annotated[bool, typer.Option("--offline", help="Use cached package-index answers only.")] = False,
    ai_only: Annotated[
        bool, typer.Option("--ai-only", help="Report only findings on lines attribution says an agent wrote.")
    ] = False,
    jobs: Annotated[
        int,
        typer.Option(
            "--jobs",
            min=0,
            max=2,
            help="Processes for the per-file rules: 1, 2, or 0 = auto (2 on a large tree when a CPU is idle).",
        ),
    ] = 0,
    hook: Annotated[
        str | None,
        typer.Option(
            "--hook",
            metavar="AGENT",
            help="Agent hook mode: read one after-edit hook payload on stdin and answer as the agent expects"
            " (claude, cursor, codex, gemini).",
        ),
    ] = None,
    provenance_since: Annotated[
        str | None,
        typer.Option(
            "--provenance-since",
            help="Commits CW401 judges: adoption (first note or config), base, or a revision "
            "(default: check.provenance_since).",
        ),
    ] = None,
    record: Annotated[
        bool, typer.Option("--record", help="Keep this run in the store (the dashboard's Checks page).")
    ] = False,
) -> None:
    """Check code for hallucinated packages and APIs, AI-typical flaws, provenance and complexity drift."""
    if hook:
        run_hook(hook, offline, fail_on)
        return
    from codewitness.checks.runner import FAMILIES

    families = tuple(only) if only else FAMILIES
    unknown = [f for f in families if f not in FAMILIES]
    if unknown:
        raise UsageError(
            f"--only: unknown famil{'ies' if len(unknown) > 1 else 'y'} {', '.join(unknown)}; "
            f"choose from {', '.join(FAMILIES)}"
        )
    from codewitness.checks.gate import run_gate

    run = run_gate(
        paths,
        families=families,
        base=base,
        fail_on=fail_on,
        baseline=baseline,
        write_baseline=write_baseline,
        offline=offline,
        ai_only=ai_only,
        jobs=jobs,
        provenance_since=provenance_since,
    )
    finish(run, as_json=as_json, sarif=sarif, md=md, record=record)
