"""``codewitness check``: the merge gate, for CI, pre-commit and agent hooks.

Exit codes: 0 no finding at or above ``--fail-on``; 1 findings at or above it (or an operational
error); 2 a usage error. In ``--hook`` mode the exit code is the hook's answer (2 = tell the agent).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from codewitness.cli._common import console, emit_json, get_config
from codewitness.errors import CodewitnessError, InputError, UsageError

if TYPE_CHECKING:
    from codewitness.checks.context import CheckContext
    from codewitness.checks.index import IndexClient
    from codewitness.checks.runner import Report
    from codewitness.config import CheckSection
    from codewitness.model import Generation

FAIL_LEVELS = ("info", "low", "medium", "high", "never")


def register(app: typer.Typer) -> None:
    """Add the ``check`` command."""
    app.command("check")(check)


def index_client(root: Path, settings: CheckSection, *, offline: bool, npm: bool) -> IndexClient:
    """The package index client configured for ``root`` (pip's and npm's own settings by default)."""
    from codewitness.checks.index import IndexCache, IndexClient, npm_registry_url, pip_index_url

    npm_url = (settings.npm_registry or npm_registry_url(root)) if npm else None
    return IndexClient(
        pypi_url=settings.index_url or pip_index_url(),
        npm_url=npm_url,
        cache=IndexCache(root / ".codewitness" / "cache" / "package-index.json", settings.cache_hours),
        offline=offline,
        timeout=settings.http_timeout,
    )


def run_gate(
    paths: list[Path] | None,
    *,
    families: tuple[str, ...],
    base: str | None,
    as_json: bool,
    sarif: Path | None,
    md: Path | None,
    fail_on: str | None,
    baseline: Path | None,
    write_baseline: Path | None,
    offline: bool,
    ai_only: bool = False,
    jobs: int = 0,
    provenance_since: str | None = None,
) -> None:
    """Run ``families`` and write the requested outputs; exits 1 when the gate fails."""
    import dataclasses

    from codewitness.checks.baseline import read_baseline
    from codewitness.checks.baseline import write_baseline as save_baseline
    from codewitness.checks.context import CheckContext
    from codewitness.checks.runner import run_checks

    loaded = get_config()
    settings = loaded.config.check
    if provenance_since:
        settings = dataclasses.replace(settings, provenance_since=provenance_since)
    threshold = fail_on or settings.fail_on
    if threshold not in FAIL_LEVELS:
        raise UsageError(f"--fail-on must be one of {', '.join(FAIL_LEVELS)}; got {threshold!r}")
    ctx = CheckContext.build(loaded.root, paths or [], base=base, settings=settings)
    if "deps" in families:
        ctx.index = index_client(
            loaded.root,
            settings,
            offline=offline,
            npm=any(f.path.name == "package.json" for f in ctx.manifests()),
        )
        ctx.generations = _recorded_generations(loaded.database_url, loaded.root, base, ctx)
    accepted = read_baseline(baseline) if baseline else frozenset()
    try:
        report = run_checks(
            ctx,
            families,
            baseline=accepted,
            ai_only=ai_only,
            jobs=jobs,
            result_cache=loaded.root / ".codewitness" / "cache" / "file-results.json",
            generations=_ledger_lookup(loaded.database_url, ctx),
        )
    finally:
        if ctx.index is not None and ctx.index.cache is not None:
            ctx.index.cache.save()
    if write_baseline:
        save_baseline(write_baseline, report.findings + report.baselined)
        console.print(
            f"baseline: {len(report.findings) + len(report.baselined)} finding(s) accepted in {write_baseline}"
        )
    _write_outputs(report, ctx, as_json=as_json, sarif=sarif, md=md)
    if report.failed(threshold) and not write_baseline:
        raise typer.Exit(1)


def _ledger_lookup(url: str, ctx: CheckContext) -> Callable[[Sequence[str]], dict[str, Generation]] | None:
    """Reads generations by id from the ledger, for the prompts behind findings on AI lines.

    ``None`` when there is no database (a check never creates one); one that cannot be read is
    noted as skipped, not fatal.
    """
    if url.startswith("sqlite:///") and not Path(url[len("sqlite:///") :]).is_file():
        return None

    def lookup(ids: Sequence[str]) -> dict[str, Generation]:
        from codewitness import ledger
        from codewitness.store import open_store

        try:
            store = open_store(url)
        except CodewitnessError as exc:
            ctx.skipped.append(("database", f"prompts of generations not read: {exc}"))
            return {}
        found: dict[str, Generation] = {}
        try:
            for gid in ids:
                try:
                    generation = ledger.get(store, gid)
                except CodewitnessError:
                    continue  # not recorded here (another clone's ledger, an imported note)
                if generation.id == gid:  # get() also answers a unique prefix; only the exact id counts
                    found[gid] = generation
        finally:
            store.close()
        return found

    return lookup


def _recorded_generations(url: str, root: Path, base: str | None, ctx: CheckContext) -> list[Generation]:
    """Generations recorded in the ledger (since the base commit's date), if a database exists.

    A check never creates a database; one that cannot be read is noted as skipped, not fatal.
    """
    if url.startswith("sqlite:///") and not Path(url[len("sqlite:///") :]).is_file():
        return []
    from datetime import datetime

    from codewitness import ledger
    from codewitness._git import run_git
    from codewitness.store import open_store

    since = None
    if base:
        stamp = run_git(["show", "-s", "--format=%cI", base], cwd=root, check=False).strip()
        since = datetime.fromisoformat(stamp) if stamp else None
    try:
        store = open_store(url)
    except CodewitnessError as exc:
        ctx.skipped.append(("database", f"recorded generations not read: {exc}"))
        return []
    try:
        return ledger.find(store, since=since)
    finally:
        store.close()


def _write_outputs(report: Report, ctx: CheckContext, *, as_json: bool, sarif: Path | None, md: Path | None) -> None:
    from codewitness.checks.markdown import to_markdown
    from codewitness.checks.sarif import to_sarif

    if sarif:
        _write(sarif, json.dumps(to_sarif(report.findings), indent=1) + "\n")
    if md:
        _write(md, to_markdown(report))
    if as_json:
        emit_json(
            {
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
        )
        return
    if report.families == ("deps",):
        _print_verdicts(ctx.verdicts)
    _print_human(report)


def _write(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror}") from None


def _print_verdicts(rows: list[dict[str, Any]]) -> None:
    """The package table `codewitness deps` prints: every package's verdict and the facts behind it."""
    from rich.table import Table

    if not rows:
        return
    table = Table()
    for header in ("package", "where", "verdict", "first upload", "versions", "status", "rank", "rules"):
        table.add_column(header, overflow="fold")
    colour = {"ok": "green", "problem": "red", "not checked": "yellow"}
    for row in sorted(rows, key=lambda r: (r["verdict"] == "ok", r["ecosystem"], r["name"].lower())):
        age = f"{row['age_days']} days ago" if row["age_days"] is not None else "?"
        table.add_row(
            f"{row['ecosystem']}:{row['name']}",
            row["where"],
            f"[{colour[row['verdict']]}]{row['verdict']}[/]",
            age if row["state"] == "exists" else row["state"],
            str(row["versions"] if row["versions"] is not None else "?"),
            row["status"],
            str(row["popularity_rank"] or ""),
            " ".join(row["rules"]),
        )
    console.print(table)


def _print_human(report: Report) -> None:
    from rich.markup import escape

    colour = {"high": "red", "medium": "yellow", "low": "cyan", "info": "dim"}
    for f in report.findings:
        ai = " [magenta](AI)[/magenta]" if f.ai_authored else ""
        where = f" in {escape(f.qualname)}()" if f.qualname else ""
        console.print(
            f"{escape(f.path)}:{f.line}{where}: [{colour[f.level]}]{f.level}[/] {f.rule_id} {escape(f.message)}{ai}"
        )
        for g in f.generations:
            console.print(f"    written by {escape(g.label())}", highlight=False)
    counts = report.counts()
    summary = ", ".join(f"{counts[s]} {s}" for s in ("high", "medium", "low", "info") if s in counts)
    accepted = f" ({len(report.baselined)} accepted by the baseline)" if report.baselined else ""
    console.print(f"{summary or '[green]no findings[/green]'} in {report.files} file(s){accepted}")
    if report.in_tests:
        console.print(f"{report.in_tests} finding(s) in test code not reported (check.test_paths, check.skip_in_tests)")
    if report.undecided:
        modules = sorted(report.undecided, key=lambda m: (-report.undecided[m], m))
        shown = ", ".join(f"{m} ({report.undecided[m]})" for m in modules[:5]) + (", ..." if len(modules) > 5 else "")
        console.print(
            f"[yellow]{sum(report.undecided.values())} name(s) undecided[/yellow]: their modules make names "
            f"dynamically and have no stub: {escape(shown)}"
        )
    for where, why in report.skipped:
        console.print(f"[yellow]skipped[/yellow] {escape(where)}: {escape(why)}")
    not_checked = sum(1 for f in report.findings if f.rule_id == "CW107")
    if not_checked:
        console.print(
            f"[yellow]{not_checked} package(s) were not checked[/yellow] (index unreachable or offline without a "
            "cached answer): this is not a clean result"
        )


def run_hook(agent: str, offline: bool) -> None:
    """Answer one agent hook payload read from stdin (see :mod:`codewitness.checks.hook`)."""
    from codewitness.checks.hook import answer_claude, answer_cursor, parse_payload
    from codewitness.checks.popular import load_popular

    answerers = {"claude": answer_claude, "cursor": answer_cursor}
    if agent not in answerers:
        raise UsageError(f"--hook supports {', '.join(answerers)}; got {agent!r}")
    try:
        payload = parse_payload(sys.stdin.read())
        roots = payload.get("workspace_roots")
        start = payload.get("cwd") or (roots[0] if isinstance(roots, list) and roots else None)
        root = get_config(Path(start) if isinstance(start, str) and start else None).root
        settings = get_config(root).config.check
        client = index_client(root, settings, offline=offline, npm=True)
        answer = answerers[agent](payload, root, client, load_popular(root), settings.new_package_days)
        if client.cache is not None:
            client.cache.save()
    except CodewitnessError as exc:
        # Exit 1: a non-blocking hook error. Exit 2 would hand our own failure to the agent as its fault.
        print(f"codewitness: error: {exc}", file=sys.stderr)
        raise typer.Exit(1) from None
    if answer.stdout:
        sys.stdout.write(answer.stdout + "\n")
    if answer.stderr:
        print(answer.stderr, file=sys.stderr)
    raise typer.Exit(answer.exit_code)


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
        typer.Option("--hook", help="Agent hook mode: read a hook payload on stdin (supported: claude)."),
    ] = None,
    provenance_since: Annotated[
        str | None,
        typer.Option(
            "--provenance-since",
            help="Commits CW401 judges: adoption (first note or config), base, or a revision "
            "(default: check.provenance_since).",
        ),
    ] = None,
) -> None:
    """Check code for hallucinated packages and APIs, AI-typical flaws, provenance and complexity drift."""
    if hook:
        run_hook(hook, offline)
        return
    from codewitness.checks.runner import FAMILIES

    families = tuple(only) if only else FAMILIES
    unknown = [f for f in families if f not in FAMILIES]
    if unknown:
        raise UsageError(
            f"--only: unknown famil{'ies' if len(unknown) > 1 else 'y'} {', '.join(unknown)}; "
            f"choose from {', '.join(FAMILIES)}"
        )
    run_gate(
        paths,
        families=families,
        base=base,
        as_json=as_json,
        sarif=sarif,
        md=md,
        fail_on=fail_on,
        baseline=baseline,
        write_baseline=write_baseline,
        offline=offline,
        ai_only=ai_only,
        jobs=jobs,
        provenance_since=provenance_since,
    )
