"""``codewitness init / uninstall / hook / status / notes``: capture from coding agents.

* ``init [--agents claude,cursor,codex,gemini]`` installs agent hooks, git hooks, notes refspecs;
* ``uninstall`` reverses exactly what ``init`` did;
* ``hook AGENT`` is what agent hooks run (reads the payload on stdin; always exits 0);
* ``status`` shows the AI lines captured but not yet committed;
* ``notes show [REV]`` prints a commit's attribution note; ``notes remap OLD NEW`` carries a
  note to a commit that replaced another (cherry-pick, squash merge).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from codewitness.cli._common import console, emit_json, get_config


def register(app: typer.Typer) -> None:
    """Add the capture commands."""
    app.command("init")(init)
    app.command("uninstall")(uninstall)
    app.command("hook")(hook)
    app.command("status")(status)
    notes = typer.Typer(help="Read and repair codewitness git notes.", no_args_is_help=True)
    notes.command("show")(notes_show)
    notes.command("remap")(notes_remap)
    app.add_typer(notes, name="notes")


def _root() -> Path:
    from codewitness._git import repo_root

    return repo_root(Path.cwd())


def _print_report(report: object, as_json: bool) -> None:
    from dataclasses import asdict

    data = asdict(report)  # type: ignore[call-overload]
    if as_json:
        emit_json(data)
        return
    for item in data["changed"]:
        console.print(f"  changed  {item}")
    for note in data["notes"]:
        console.print(f"  [yellow]note[/yellow]     {note}")
    if not data["changed"]:
        console.print("  nothing to change")


def init(
    agents: Annotated[
        str | None,
        typer.Option("--agents", help="Comma-separated agents to hook (default: capture.agents from the config)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print what changed as JSON on stdout.")] = False,
) -> None:
    """Install agent hooks, git hooks and notes refspecs in this repository."""
    from codewitness.capture.setup import install

    root = _root()
    if agents:
        chosen = [a.strip() for a in agents.split(",") if a.strip()]
    else:
        chosen = list(get_config(root).config.capture.agents)
    report = install(root, chosen)
    if not as_json:
        console.print(f"codewitness capture installed for: {', '.join(chosen)}")
    _print_report(report, as_json)


def uninstall(
    as_json: Annotated[bool, typer.Option("--json", help="Print what changed as JSON on stdout.")] = False,
) -> None:
    """Remove exactly what `codewitness init` added (captured data in .codewitness/ is kept)."""
    from codewitness.capture.setup import uninstall as _uninstall

    report = _uninstall(_root())
    if not as_json:
        console.print("codewitness capture removed (.codewitness/ data kept)")
    _print_report(report, as_json)


def hook(agent: Annotated[str, typer.Argument(help="claude, cursor, codex or gemini.")]) -> None:
    """Capture one agent hook payload from stdin (never fails the agent; problems go to .codewitness/log)."""
    from codewitness.capture.hook import main as hook_main

    hook_main([agent])


def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
) -> None:
    """Show AI lines captured from agents and not yet committed, per file."""
    from codewitness.capture.commit import pending_labels
    from codewitness.capture.journal import Journal
    from codewitness.capture.setup import installed_agents

    root = _root()
    with Journal.open(root / ".codewitness") as journal:
        labels = pending_labels(root, journal)
        edits = journal.edits()
    rows = []
    for path, file_labels in sorted(labels.items()):
        mine = [e for e in edits if e.path == path]
        rows.append(
            {
                "path": path,
                "ai_lines": sum(1 for label in file_labels if label.kind == "ai"),
                "mixed_lines": sum(1 for label in file_labels if label.kind == "mixed"),
                "edits": len(mine),
                "agents": sorted({e.agent for e in mine}),
                "models": sorted({e.model for e in mine if e.model}),
            }
        )
    agents = installed_agents(root)
    if as_json:
        emit_json({"root": str(root), "installed_agents": agents, "pending": rows})
        return
    from rich.table import Table

    console.print(f"hooks installed for: {', '.join(agents) or 'none (run `codewitness init`)'}")
    if not rows:
        console.print("no uncommitted AI lines")
        return
    table = Table("file", "ai lines", "mixed", "edits", "agents", "models")
    for row in rows:
        table.add_row(
            str(row["path"]), str(row["ai_lines"]), str(row["mixed_lines"]), str(row["edits"]),
            ", ".join(row["agents"]), ", ".join(row["models"]),  # type: ignore[arg-type]
        )
    console.print(table)


def notes_show(
    rev: Annotated[str, typer.Argument(help="The commit (default HEAD).")] = "HEAD",
    as_json: Annotated[bool, typer.Option("--json", help="Print the note as JSON on stdout.")] = False,
) -> None:
    """Print the attribution note of one commit."""
    import json

    from codewitness.attribution.notes import read_note
    from codewitness.errors import NotFoundError

    note = read_note(_root(), rev)
    if note is None:
        raise NotFoundError(f"commit {rev} has no codewitness note (was `codewitness init` run before it?)")
    if as_json:
        emit_json(json.loads(note.to_json()))
        return
    from rich.table import Table

    table = Table("file", "lines", "origin", "agent", "model", "generations")
    for path, entries in sorted(note.files.items()):
        for entry in entries:
            table.add_row(
                path, ",".join(f"{a}" if a == b else f"{a}-{b}" for a, b in entry.spans), entry.origin,
                entry.agent or "", entry.model or "", " ".join(entry.generation_ids),
            )
    console.print(table)
    d = note.delta
    console.print(
        f"AI lines written {d.ai_written}, kept {d.ai_kept}, edited by a human {d.ai_edited}; human {d.human}"
    )


def notes_remap(
    old: Annotated[str, typer.Argument(help="The commit that has the note.")],
    new: Annotated[str, typer.Argument(help="The commit that replaced it (cherry-pick, squash, rebase).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the new note as JSON on stdout.")] = False,
) -> None:
    """Carry the note of OLD onto NEW, following the lines that did not change."""
    import json

    from codewitness.capture.commit import remap
    from codewitness.errors import NotFoundError

    note = remap(_root(), old, new)
    if note is None:
        raise NotFoundError(f"commit {old} has no codewitness note to carry")
    if as_json:
        emit_json(json.loads(note.to_json()))
        return
    d = note.delta
    console.print(f"note carried to {new}: {d.ai_kept} ai, {d.ai_edited} mixed, {d.human} human lines")
