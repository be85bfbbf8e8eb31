"""``codewitness doctor``: check that this clone captures, shares and keeps attribution; ``--fix`` repairs.

Exit codes: 0 nothing failed (warnings, or every failure fixed); 1 a check failed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from codewitness.cli._common import emit_json, err, out, styled, table


def register(app: typer.Typer) -> None:
    """Add ``doctor``."""
    app.command("doctor")(doctor)


_STYLE = {"ok": "green", "fixed": "cyan", "warn": "yellow", "fail": "red"}


def doctor(
    fix: Annotated[
        bool, typer.Option("--fix", help="Install git hooks and notes refspecs, fetch and merge notes.")
    ] = False,
    offline: Annotated[bool, typer.Option("--offline", help="Do not ask the remotes which notes they have.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the checks as JSON on stdout.")] = False,
) -> None:
    """Check hooks, notes refspecs, fetched and reachable notes, the pending journal and the hook log."""
    from codewitness._git import repo_root
    from codewitness.capture.doctor import diagnose

    report = diagnose(repo_root(Path.cwd()), fix=fix, network=not offline)
    if as_json:
        emit_json(report.to_dict())
    else:
        table(
            ["check", "status", "detail"],
            [[c.name, styled((c.status, _STYLE[c.status])), c.detail] for c in report.checks],
        )
        for check in report.checks:
            if check.fix and check.status in ("warn", "fail"):
                err.print(f"{check.name}: {check.fix}")
        if report.healthy:
            out.print("healthy" if all(c.status == "ok" for c in report.checks) else "no check failed")
    if not report.healthy:
        raise typer.Exit(1)
