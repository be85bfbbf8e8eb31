"""``codewitness blame``, ``report``, ``manifest build``, ``import`` and ``export``: who wrote the code.

Exit codes: 0 success; 1 git/store errors or a missing revision; 2 bad options or input files.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from codewitness.cli._common import console, emit_json, open_store

if TYPE_CHECKING:
    from codewitness.attribution.cache import AttributionCache

manifest_app = typer.Typer(help="The AI-attributed functions the runtime sensor reads.", no_args_is_help=True)
import_app = typer.Typer(help="Import attribution records of other tools.", no_args_is_help=True)
export_app = typer.Typer(help="Export codewitness notes in other tools' formats.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]
RevOpt = Annotated[str, typer.Option("--rev", help="The revision to attribute.")]
NoCacheOpt = Annotated[
    bool, typer.Option("--no-cache", help="Do not read or write the attribution cache in the store.")
]
DbOpt = Annotated[str | None, typer.Option("--db", help="Database URL of the cache (default: configured store).")]


def register(app: typer.Typer) -> None:
    """Add ``blame``, ``report``, ``manifest``, ``import`` and ``export``."""
    app.command("blame")(blame)
    app.command("report")(report)
    app.add_typer(manifest_app, name="manifest")
    app.add_typer(import_app, name="import")
    app.add_typer(export_app, name="export")
    manifest_app.command("build")(manifest_build)
    import_app.command("git-ai")(import_gitai)
    import_app.command("agent-trace")(import_agent_trace)
    export_app.command("git-ai")(export_gitai)
    export_app.command("agent-trace")(export_agent_trace)


@contextmanager
def _cache(no_cache: bool, db: str | None) -> Iterator[AttributionCache | None]:
    if no_cache:
        yield None
        return
    from codewitness.attribution.storecache import store_cache

    store = open_store(db)
    try:
        yield store_cache(store)
    finally:
        store.close()


def _warn(warnings: dict[str, int]) -> None:
    for message, count in sorted(warnings.items()):
        console.print(f"[yellow]warning:[/yellow] {message}" + (f" ({count}x)" if count > 1 else ""))


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
        console=console,
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
    from rich.markup import escape

    from codewitness._git import repo_root
    from codewitness.attribution.blame import Attributor, relative_path

    start = file.parent if file.parent.exists() else Path.cwd()
    root = repo_root(start)
    path = relative_path(root, file)
    with _cache(no_cache, db) as cache, Attributor(root, rev, cache=cache) as engine:
        result = engine.attribute_path(path)
        warnings = dict(engine.warnings)
    if as_json:
        emit_json(
            {
                "path": path,
                "revision": engine.commit,
                "skipped": result.skipped,
                "lines": [
                    {
                        "line": ln.line,
                        "origin": ln.origin.kind,
                        "confidence": ln.origin.confidence,
                        "evidence": ln.origin.evidence,
                        "agent": ln.origin.agent,
                        "model": ln.origin.model,
                        "session": ln.origin.session_id,
                        "generations": list(ln.origin.generation_ids),
                        "commit": ln.commit,
                        "author": ln.author,
                        "text": ln.text,
                    }
                    for ln in result.lines
                ],
                "warnings": warnings,
            }
        )
    else:
        if result.skipped:
            console.print(f"{path}: {result.skipped} file, nothing to attribute")
        # One row per line, like `git blame`: fixed columns, then the code, never wrapped.
        colours = {"ai": "magenta", "mixed": "yellow", "human": "green", "unknown": "dim"}
        width = len(str(len(result.lines)))
        for ln in result.lines:
            o = ln.origin
            who = "/".join(x for x in (o.agent, o.model) if x) or "-"
            gen = o.generation_ids[0] if o.generation_ids else "-"
            author = ln.author.split(" <")[0]
            console.print(
                f"{ln.line:>{width}} [{colours[o.kind]}]{o.kind:<7}[/] {o.confidence:.2f} {o.evidence:<7} "
                f"{escape(who[:28]):<28} {gen[:16]:<16} {ln.commit[:8]} {escape(author[:16]):<16}"
                f" | {escape(ln.text)}",
                overflow="ignore",
                crop=False,
            )
    _warn(warnings)


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
        console.print(f"wrote {html}")
    if as_json:
        emit_json(result.to_dict())
    elif as_md:
        sys.stdout.write(result.to_markdown(top))
    elif html is None:
        console.print(result.to_markdown(top), markup=False)
    _warn(result.warnings)


def manifest_build(
    min_share: Annotated[
        float,
        typer.Option(
            "--min-share",
            help="Smallest AI share the sensor watches by default (every function with AI lines is listed).",
        ),
    ] = 0.0,
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the manifest.")] = Path(
        ".codewitness/manifest.json"
    ),
    rev: RevOpt = "HEAD",
    no_cache: NoCacheOpt = False,
    db: DbOpt = None,
) -> None:
    """Write the AI-attributed functions at a revision for the runtime sensor."""
    from codewitness._git import repo_root
    from codewitness.attribution.manifest import build_manifest, write_manifest

    root = repo_root(Path.cwd())
    with _cache(no_cache, db) as cache, _progress("attributing", sys.stderr.isatty()) as tick:
        manifest = build_manifest(root, rev, min_share=min_share, cache=cache, progress=tick)
    write_manifest(manifest, output)
    watched = len(manifest.watched)
    console.print(
        f"wrote {output}: {len(manifest.functions)} functions with AI-written lines at {manifest.revision}"
        + (f" ({watched} watched: AI share >= {min_share:g})" if watched != len(manifest.functions) else "")
    )


def _summary(verb: str, result_imported: int, skipped: int, reasons: dict[str, int]) -> None:
    console.print(f"{verb} {result_imported} records" + (f", skipped {skipped}" if skipped else ""))
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
    _summary("exported", result.imported, result.skipped, result.reasons)
