"""``codewitness init / uninstall / hook / status / notes``: capture from coding agents.

* ``init [--agents claude,cursor,codex,gemini]`` installs agent hooks, git hooks, notes refspecs;
* ``uninstall`` reverses exactly what ``init`` did;
* ``hook AGENT`` is what agent hooks run (reads the payload on stdin; always exits 0);
* ``status`` shows the AI lines captured but not yet committed;
* ``notes show [REV]`` prints a commit's attribution note; ``notes remap OLD NEW`` carries a
  note to a commit that replaced another by hand; ``notes consolidate`` writes notes on commits a
  forge made (squash and rebase merges, merge commits) from the branch's notes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from codewitness.cli._common import emit_json, err, get_config, out, styled, table


def register(app: typer.Typer) -> None:
    """Add the capture commands."""
    app.command("init")(init)
    app.command("uninstall")(uninstall)
    app.command("hook")(hook)
    app.command("status")(status)
    notes = typer.Typer(help="Read and repair codewitness git notes.", no_args_is_help=True)
    notes.command("show")(notes_show)
    notes.command("remap")(notes_remap)
    notes.command("consolidate")(notes_consolidate)
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
        out.print(f"  changed  {item}")
    for note in data["notes"]:
        out.print(styled("  ", ("note", "yellow"), f"     {note}"))
    if not data["changed"]:
        out.print("  nothing to change")


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
        out.print(f"codewitness capture installed for: {', '.join(chosen)}")
    _print_report(report, as_json)


def uninstall(
    as_json: Annotated[bool, typer.Option("--json", help="Print what changed as JSON on stdout.")] = False,
) -> None:
    """Remove exactly what `codewitness init` added (captured data in .codewitness/ is kept)."""
    from codewitness.capture.setup import uninstall as _uninstall

    report = _uninstall(_root())
    if not as_json:
        out.print("codewitness capture removed (.codewitness/ data kept)")
    _print_report(report, as_json)


def hook(agent: Annotated[str, typer.Argument(help="claude, cursor, codex or gemini.")]) -> None:
    """Capture one agent hook payload from stdin (never fails the agent; problems go to .codewitness/log)."""
    from codewitness.capture.hook import main as hook_main

    hook_main([agent])


def status(
    limit: Annotated[int | None, typer.Option("--limit", min=1, metavar="N", help="Show at most N files.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
) -> None:
    """Show AI lines captured from agents and not yet committed, per file."""
    from codewitness.views.pending import pending_status

    found = pending_status(_root())
    if as_json:
        data = found.to_dict()
        if limit is not None:
            data["pending"] = data["pending"][:limit]
        emit_json(data)
        return
    out.print(f"hooks installed for: {', '.join(found.installed_agents) or 'none (run `codewitness init`)'}")
    if not found.files:
        out.print("no uncommitted AI lines")
        return
    shown = found.files if limit is None else found.files[:limit]
    table(
        ["file", "ai lines", "mixed", "edits", "agents", "models"],
        [
            [
                f["path"],
                str(f["ai_lines"]),
                str(f["mixed_lines"]),
                str(f["edits"]),
                ", ".join(f["agents"]),
                ", ".join(f["models"]),
            ]
            for f in shown
        ],
        justify={"ai lines": "right", "mixed": "right", "edits": "right"},
    )
    if len(shown) < len(found.files):
        err.print(f"showing {len(shown)} of {len(found.files)} files (--limit)")


def notes_show(
    rev: Annotated[str, typer.Argument(help="The commit (default HEAD).")] = "HEAD",
    as_json: Annotated[bool, typer.Option("--json", help="Print the note as JSON on stdout.")] = False,
) -> None:
    """Print the attribution note of one commit."""
    import json

    from codewitness.attribution.notes import NoteError, find_note, parse_note
    from codewitness.errors import NotFoundError

    found = find_note(_root(), rev)
    if found is None:
        raise NotFoundError(
            f"commit {rev} has no codewitness note (was `codewitness init` run before it? "
            "`codewitness doctor` checks that notes are fetched)"
        )
    ref, text = found
    try:
        note = parse_note(text)
    except NoteError as exc:
        raise NoteError(f"{exc}; remove it with `git notes --ref {ref} remove {rev}`") from None
    if as_json:
        emit_json(json.loads(note.to_json()))
        return
    rows = [
        [
            path,
            ",".join(f"{a}" if a == b else f"{a}-{b}" for a, b in entry.spans),
            entry.origin,
            entry.agent or "",
            entry.model or "",
            " ".join(entry.generation_ids),
        ]
        for path, entries in sorted(note.files.items())
        for entry in entries
    ]
    table(["file", "lines", "origin", "agent", "model", "generations"], rows)
    d = note.delta
    out.print(f"AI lines written {d.ai_written}, kept {d.ai_kept}, edited by a human {d.ai_edited}; human {d.human}")


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
    out.print(f"note carried to {new}: {d.ai_kept} ai, {d.ai_edited} mixed, {d.human} human lines")


def notes_consolidate(
    merged: Annotated[
        str, typer.Option("--merged", metavar="REV", help="The commit the forge made on main (or the newest of them).")
    ] = "HEAD",
    pr_head: Annotated[
        str | None,
        typer.Option(
            "--pr-head",
            metavar="REV",
            help="The pull request's head commit (default: found from the message, forge refs or notes).",
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            metavar="REV",
            help="Consolidate every commit main gained after REV (a push's 'before'; all zeros: none).",
        ),
    ] = None,
    remote: Annotated[str, typer.Option("--remote", help="The remote of --fetch and --push.")] = "origin",
    fetch: Annotated[
        bool,
        typer.Option(
            "--fetch", help="Fetch the remote's notes first, and a pull request's forge ref when it is missing."
        ),
    ] = False,
    push: Annotated[
        bool, typer.Option("--push", help="Push the notes to the remote afterwards (merging, retrying on a race).")
    ] = False,
    db: Annotated[
        str | None, typer.Option("--db", help="Also link the landed commits to their generations in this ledger.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print what was done as JSON on stdout.")] = False,
) -> None:
    """Write notes on commits a forge made (squash, rebase, merge) from the pull request's notes."""
    from codewitness.attribution.consolidate import consolidate

    report = consolidate(
        _root(), merged, pr_head=pr_head, since=since, remote=remote, fetch=fetch, push=push, store_url=db
    )
    if as_json:
        emit_json(report.to_dict())
        return
    if report.consolidated:
        table(
            ["commit", "how", "from", "found by", "ai", "mixed", "human"],
            [
                [
                    c.commit[:12],
                    c.how + (f" {c.pull_request}" if c.pull_request else ""),
                    c.source[:12],
                    c.found_by,
                    str(c.note.delta.ai_kept),
                    str(c.note.delta.ai_edited),
                    str(c.note.delta.human),
                ]
                for c in report.consolidated
            ],
            justify={"ai": "right", "mixed": "right", "human": "right"},
        )
    else:
        out.print("no notes written")
    for commit, why in report.skipped:
        err.print(f"{commit[:12]}: skipped, {why}")
    if report.shared is not None:
        err.print(report.shared)
    elif report.consolidated:
        err.print(f"share them: git push {remote} refs/notes/codewitness (or --push)")
