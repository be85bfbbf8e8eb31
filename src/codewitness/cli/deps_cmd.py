"""``codewitness deps``: the dependency checks alone, and ``deps refresh-popular``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from codewitness.cli._common import get_config, out
from codewitness.errors import UsageError

deps_app = typer.Typer(
    name="deps",
    help="Check declared and imported packages against the package index (the CW1xx rules).",
    invoke_without_command=True,
    no_args_is_help=False,
)


def register(app: typer.Typer) -> None:
    """Add the ``deps`` command group."""
    app.add_typer(deps_app, name="deps")


@deps_app.callback()
def deps(
    ctx: typer.Context,
    path: Annotated[
        list[Path] | None, typer.Option("--path", "-p", help="File or folder to check (repeatable).")
    ] = None,
    base: Annotated[
        str | None, typer.Option("--base", help="Only packages and imports added since this revision.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
    sarif: Annotated[Path | None, typer.Option("--sarif", help="Write SARIF 2.1.0 to this file.")] = None,
    md: Annotated[Path | None, typer.Option("--md", help="Write a markdown report.")] = None,
    fail_on: Annotated[str | None, typer.Option("--fail-on", help="Lowest severity that fails.")] = None,
    offline: Annotated[bool, typer.Option("--offline", help="Use cached package-index answers only.")] = False,
) -> None:
    """Check dependencies: existence, age, versions, status, typosquats, vulnerabilities, imports."""
    if ctx.invoked_subcommand is not None:
        return
    from codewitness.checks.gate import run_gate
    from codewitness.cli.check_cmd import finish

    run = run_gate(
        path, families=("deps",), base=base, fail_on=fail_on, baseline=None, write_baseline=None, offline=offline
    )
    finish(run, as_json=as_json, sarif=sarif, md=md)


@deps_app.command("refresh-popular")
def refresh_popular(
    url: Annotated[str | None, typer.Option("--url", help="Ranking URL (default: check.popular_url).")] = None,
) -> None:
    """Fetch a fresh ranking of popular PyPI projects (top-pypi-packages JSON shape) for typosquat checks."""
    from codewitness.checks.popular import fetch_ranking, refreshed_path, write_snapshot

    loaded = get_config()
    source = url or loaded.config.check.popular_url
    if not source:
        raise UsageError("no ranking URL: pass --url or set check.popular_url")
    names = fetch_ranking(source, timeout=max(loaded.config.check.http_timeout, 30.0))
    target = refreshed_path(loaded.root)
    write_snapshot(target, names, source)
    out.print(f"{len(names)} popular names from {source} written to {target}")
