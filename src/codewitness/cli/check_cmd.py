"""``codewitness check``: the merge gate, for CI, pre-commit and agent hooks.

The command's body is :func:`codewitness.cli._check.run`, which :func:`codewitness.cli.main` also
calls without Typer for a plain run. Exit codes: 0 no finding at or above ``--fail-on``; 1 findings
at or above it (or an operational error); 2 a usage error. In ``--hook`` mode the exit code is the
hook's answer (2 = tell the agent).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from codewitness.cli._common import get_config
from codewitness.errors import CodewitnessError, UsageError

if TYPE_CHECKING:
    from codewitness.checks.gate import GateRun


def register(app: typer.Typer) -> None:
    """Add the ``check`` command."""
    app.command("check")(check)


def finish(run: GateRun, *, as_json: bool, sarif: Path | None, md: Path | None, record: bool = False) -> None:
    """Render a run of :func:`codewitness.checks.gate.run_gate`, write the outputs asked for; exit 1 when it fails."""
    from codewitness.cli._check import finish as write

    if write(run, as_json=as_json, sarif=sarif, md=md, record=record):
        raise typer.Exit(1)


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
    from codewitness.cli import _base
    from codewitness.cli._check import CheckArgs, run

    code = run(
        CheckArgs(
            paths=tuple(paths or ()),
            base=base,
            as_json=as_json,
            sarif=sarif,
            md=md,
            fail_on=fail_on,
            baseline=baseline,
            write_baseline=write_baseline,
            only=tuple(only or ()),
            offline=offline,
            ai_only=ai_only,
            jobs=jobs,
            provenance_since=provenance_since,
            record=record,
            root_db=_base.database_override,  # the root --db, as Typer's callback set it
        )
    )
    if code:
        raise typer.Exit(code)
