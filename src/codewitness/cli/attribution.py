"""``codewitness blame``, ``report``, ``manifest build``, ``import`` and ``export``: who wrote the code.

Exit codes: 0 success; 1 git/store errors or a missing revision; 2 bad options or input files.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from codewitness.cli._common import database_url, emit_json, err, get_config, open_store, out, styled, warn

if TYPE_CHECKING:
    from codewitness.attribution.cache import AttributionCache

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]
RevOpt = Annotated[str, typer.Option("--rev", help="The revision to attribute.")]
NoCacheOpt = Annotated[
    bool, typer.Option("--no-cache", help="Do not read or write the attribution cache in the store.")
]
DbOpt = Annotated[str | None, typer.Option("--db", help="Database URL of the cache (default: configured store).")]


def register(app: typer.Typer) -> None:
    """Add ``blame``, ``report``, ``manifest``, ``import`` and ``export`` (``metrics_cmd`` adds ``export otel``)."""
    app.command("blame")(blame)
    app.command("function")(function)
    app.command("report")(report)
    # Groups made for this tree, so another tree built in the process gets its own.
    manifest_app = typer.Typer(help="The AI-attributed functions the runtime sensor reads.", no_args_is_help=True)
    manifest_app.command("build")(manifest_build)
    import_app = typer.Typer(help="Import attribution records of other tools.", no_args_is_help=True)
    import_app.command("git-ai")(import_gitai)
    import_app.command("agent-trace")(import_agent_trace)
    export_app = typer.Typer(
        help="Export codewitness records in other tools' formats (git-ai, Agent Trace, OpenTelemetry).",
        no_args_is_help=True,
    )
    export_app.command("git-ai")(export_gitai)
    export_app.command("agent-trace")(export_agent_trace)
    app.add_typer(manifest_app, name="manifest")
    app.add_typer(import_app, name="import")
    app.add_typer(export_app, name="export")


@contextmanager
def _cache(no_cache: bool, db: str | None) -> Iterator[AttributionCache | None]:
    if no_cache:
        yield None
        return
    from codewitness.attribution._litecache import open_cache

    with open_cache(database_url(db)) as cache:
        yield cache


def _warn(warnings: dict[str, int]) -> None:
    for message, count in sorted(warnings.items()):
        warn(message, count)


@contextmanager
def _progress(label: str, enabled: bool) -> Iterator[Callable[[int, int], None] | None]:
    if not enabled:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def blame(
    file: Annotated[Path, typer.Argument(help="The file to attribute.")],
    rev: RevOpt = "HEAD",
    as_json: JsonOpt = False,
    no_cache: NoCacheOpt = False,
    db: DbOpt = None,
) -> None:
    """Per line: origin, confidence, evidence, agent, model, generation, commit, author."""
    from codewitness.cli._blame import BlameArgs, run

    run(BlameArgs(file=file, rev=rev, as_json=as_json, no_cache=no_cache, db=db))


def function(
    target: Annotated[str, typer.Argument(help="module.qualname, or path:LINE of a line inside the function.")],
    rev: RevOpt = "HEAD",
    as_json: JsonOpt = False,
    no_cache: NoCacheOpt = False,
    db: DbOpt = None,
) -> None:
    """One function: who wrote it (generations, prompt, model), how it runs, its exceptions and breaches."""
    from codewitness._git import repo_root
    from codewitness.errors import GitError
    from codewitness.views.function import function_context, parse_target

    try:
        root: Path | None = repo_root(Path.cwd())
    except GitError:
        root = None  # a store read outside the repository: the origin comes from the runtime records
    wanted = parse_target(target)
    if root is not None and isinstance(wanted, tuple):
        from codewitness.attribution.blame import relative_path

        target = f"{relative_path(root, wanted[0])}:{wanted[1]}"
    with open_store(db) as store, _cache(no_cache, db) as cache:
        ctx = function_context(store, target, root=root, rev=rev, cache=cache)
    if as_json:
        emit_json(ctx.to_dict())
        return
    where = f"{ctx.path}:{ctx.start_line}-{ctx.end_line}" if ctx.path and ctx.start_line else ctx.path or "?"
    out.print(styled((ctx.qualname, "bold"), f"  {where}"))
    o = ctx.origin
    if o is not None:
        source = f"at {ctx.revision[:12]}" if ctx.revision else "as the sensor's manifest said"
        out.print(
            f"origin ({source}): {o.ai_share:.0%} AI-written, {o.human_edit_share:.0%} edited by a person; "
            f"models: {', '.join(o.models) or '-'}; agents: {', '.join(o.agents) or '-'}"
        )
    for g in ctx.generations:
        prompt = f"prompt {g.prompt_name}@{g.prompt_version}" if g.prompt_name else f"prompt {g.prompt_hash[:12]}"
        out.print(f"  {g.id}  {g.agent} · {g.model} · {prompt} · {g.created_at:%Y-%m-%d %H:%M} UTC")
    unrecorded = [gid for gid in (o.generation_ids if o else ()) if gid not in {g.id for g in ctx.generations}]
    if unrecorded:
        out.print(f"  not in this ledger: {', '.join(unrecorded)}")
    r = ctx.runtime
    if r is None:
        err.print("no runtime facts for it: run the app with the sensor, then `codewitness ingest`")
        return
    out.print(
        f"runtime: {r['calls']:,} calls, {r['errors']:,} errors ({r['error_rate']:.2%}), "
        f"p50 {r['p50_ms']:.3f} ms, p95 {r['p95_ms']:.3f} ms, p99 {r['p99_ms']:.3f} ms; "
        f"services: {', '.join(r['services']) or '-'}"
    )
    for e in ctx.exceptions:
        message = e["message"].replace("\n", "\\n")
        out.print(styled((e["type"], "red"), f" at {e['time']}: {message}"))
        out.print(f"    inputs: {json.dumps(e['arguments'], ensure_ascii=False, default=str)[:400]}")
    if r["breach_count"]:
        out.print(f"invariant breaches: {r['breach_count']}")
    for b in ctx.breaches:
        out.print(
            styled((f"invariant {b['rule']}", "magenta"), f" broken at {b['time']}: {b['kind']} {b['expression']}")
        )
        out.print(f"    inputs: {json.dumps(b['arguments'], ensure_ascii=False, default=str)[:400]}")


def report(
    paths: Annotated[list[str] | None, typer.Argument(help="Files or folders to include (default all).")] = None,
    rev: RevOpt = "HEAD",
    as_json: JsonOpt = False,
    as_md: Annotated[bool, typer.Option("--md", help="Print Markdown on stdout.")] = False,
    html: Annotated[Path | None, typer.Option("--html", help="Write an HTML report to this file.")] = None,
    coverage: Annotated[
        Path | None, typer.Option("--coverage", help="coverage.py data file (default: .coverage if present).")
    ] = None,
    top: Annotated[int, typer.Option("--top", min=1, help="Rows of long tables to show.")] = 25,
    no_cache: NoCacheOpt = False,
    db: DbOpt = None,
) -> None:
    """AI share by repository, package, module, function, agent and model; risk ranking; blast radius."""
    from codewitness._git import repo_root
    from codewitness.attribution.blame import relative_path
    from codewitness.attribution.report import build_report
    from codewitness.errors import UsageError

    if sum([as_json, as_md]) > 1:
        raise UsageError("choose one of --json and --md")
    root = repo_root(Path.cwd())
    selected = [relative_path(root, p) if Path(p).exists() else p for p in paths or ()]
    selected = [p for p in selected if p not in ("", ".")]
    with _cache(no_cache, db) as cache, _progress("attributing", sys.stderr.isatty()) as tick:
        result = build_report(root, rev, paths=selected, cache=cache, coverage_file=coverage, progress=tick)
    if html is not None:
        html.write_text(result.to_html(top), encoding="utf-8")
        err.print(f"wrote {html}")
    if as_json:
        emit_json(result.to_dict())
    elif as_md or html is None:
        sys.stdout.write(result.to_markdown(top))
    _warn(result.warnings)
    totals = result.to_dict()["totals"]
    if not (totals["ai"] or totals["mixed"]):
        _why_no_ai(root, rev, ", ".join(selected))


def _why_no_ai(root: Path, rev: str, scope: str = "") -> None:
    """Say on stderr why an answer holds no AI-written code, and what to run (an empty answer says why)."""
    from codewitness.attribution.evidence import census

    err.print(styled(("note:", "yellow"), " " + census(root, rev).explain(rev, scope=scope)))


def manifest_build(
    min_share: Annotated[
        float,
        typer.Option(
            "--min-share",
            help="Smallest AI share the sensor watches by default (every function with AI lines is listed).",
        ),
    ] = 0.0,
    output: Annotated[
        Path | None,
        typer.Option(
            "-o",
            "--output",
            help="Where to write the manifest (default: sensor.manifest under the project root, where the sensor"
            " reads it).",
        ),
    ] = None,
    rev: RevOpt = "HEAD",
    no_cache: NoCacheOpt = False,
    db: DbOpt = None,
) -> None:
    """Write the AI-attributed functions at a revision for the runtime sensor."""
    from codewitness._git import repo_root
    from codewitness.attribution.manifest import build_manifest, write_manifest

    root = repo_root(Path.cwd())
    if output is None:
        output = get_config(root).path(get_config(root).config.sensor.manifest)
    with _cache(no_cache, db) as cache, _progress("attributing", sys.stderr.isatty()) as tick:
        manifest = build_manifest(root, rev, min_share=min_share, cache=cache, progress=tick)
    write_manifest(manifest, output)
    watched = len(manifest.watched)
    out.print(
        f"wrote {output}: {len(manifest.functions)} functions with AI-written lines at {manifest.revision}"
        + (f" ({watched} watched: AI share >= {min_share:g})" if watched != len(manifest.functions) else "")
    )
    if not manifest.functions:
        _why_no_ai(root, rev)
        err.print("until the manifest lists functions, `codewitness run` watches only what --include selects")
    elif not watched:
        err.print(f"no function has an AI share of at least {min_share:g}: the sensor watches none by default")


def _summary(
    verb: str, result_imported: int, skipped: int, reasons: dict[str, int], *, data_on_stdout: bool = False
) -> None:
    """What an import or export did: on stdout, or on stderr when stdout carries the exported data."""
    (err if data_on_stdout else out).print(
        f"{verb} {result_imported} records" + (f", skipped {skipped}" if skipped else "")
    )
    _warn(reasons)


def import_gitai(
    ref: Annotated[str, typer.Option("--ref", help="The notes ref holding git-ai notes.")] = "refs/notes/ai",
) -> None:
    """Copy git-ai notes into codewitness's import notes (evidence 'import')."""
    from codewitness.attribution.interop import import_gitai as run

    result = run(Path.cwd(), ref=ref)
    _summary("imported", result.imported, result.skipped, result.reasons)


def import_agent_trace(
    files: Annotated[
        list[Path] | None, typer.Argument(help="Agent Trace .jsonl files (default: .agent-trace/*.jsonl).")
    ] = None,
) -> None:
    """Import Agent Trace records onto the commits they name."""
    from codewitness.attribution.interop import import_agent_trace as run

    result = run(Path.cwd(), files or ())
    _summary("imported", result.imported, result.skipped, result.reasons)


def export_gitai(
    ref: Annotated[str, typer.Option("--ref", help="The notes ref to write.")] = "refs/notes/ai",
    force: Annotated[bool, typer.Option("--force", help="Replace git-ai notes that already exist.")] = False,
) -> None:
    """Write a git-ai note for every commit that has a codewitness note."""
    from codewitness.attribution.interop import export_gitai as run

    result = run(Path.cwd(), ref=ref, force=force)
    _summary("exported", result.imported, result.skipped, result.reasons)


def export_agent_trace(
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Write .jsonl here (default stdout).")] = None,
) -> None:
    """Print (or write) one Agent Trace record per commit that has a codewitness note."""
    from codewitness.attribution.interop import export_agent_trace as run

    records, result = run(Path.cwd())
    text = "".join(r.to_json() + "\n" for r in records)
    if output is None:
        sys.stdout.write(text)
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
    _summary("exported", result.imported, result.skipped, result.reasons, data_on_stdout=output is None)
