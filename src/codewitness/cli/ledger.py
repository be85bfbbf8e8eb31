"""``codewitness record``, ``generations ...`` and ``prompts ...``: the generation ledger."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from codewitness.cli._common import emit_json, err, open_store, out, plain, styled, table
from codewitness.errors import InputError
from codewitness.model import Generation, utcnow

generations_app = typer.Typer(help="List, show, export and import recorded generations.", no_args_is_help=True)
prompts_app = typer.Typer(help="Named prompts and their versions.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]


def register(app: typer.Typer) -> None:
    """Add ``record``, ``generations`` and ``prompts``."""
    app.command("record")(record)
    app.add_typer(generations_app, name="generations")
    app.add_typer(prompts_app, name="prompts")


# -- record --------------------------------------------------------------------------------------


def _read_text(path: Path, what: str) -> str:
    try:
        data = sys.stdin.buffer.read() if str(path) == "-" else path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{what} file {path} does not exist") from None
    except IsADirectoryError:
        raise InputError(f"{what} file {path} is a folder, not a file") from None
    except OSError as exc:
        raise InputError(f"cannot read {what} file {path}: {exc.strerror}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{what} file {path} is not UTF-8 text (byte {exc.start}); convert it to UTF-8") from None


def _parse_param(text: str) -> tuple[str, Any]:
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise InputError(f"bad --param {text!r}: use KEY=VALUE, e.g. --param temperature=0.2")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw  # a bare word is a string: --param stop=END
    if isinstance(value, float) and value != value:
        raise InputError(f"bad --param {text!r}: NaN is not a value")
    return key, value


def record(
    model: Annotated[str, typer.Option("--model", help="The exact model string the provider reported.")],
    output_file: Annotated[Path, typer.Option("--output-file", help="File with the raw output ('-' for stdin).")],
    prompt_file: Annotated[Path, typer.Option("--prompt-file", help="File with the prompt text ('-' for stdin).")],
    agent: Annotated[str, typer.Option("--agent", help="Who produced it: api, claude-code, cursor, ...")] = "api",
    param: Annotated[
        list[str] | None, typer.Option("--param", help="A parameter KEY=VALUE (JSON value or word); repeatable.")
    ] = None,
    prompt_name: Annotated[str | None, typer.Option("--prompt-name", help="The managed prompt's name.")] = None,
    prompt_version: Annotated[
        str | None, typer.Option("--prompt-version", help="Your label for this prompt version (e.g. v3).")
    ] = None,
    file: Annotated[
        list[str] | None, typer.Option("--file", help="A range path:START-END the output went to; repeatable.")
    ] = None,
    request_id: Annotated[str | None, typer.Option("--request-id", help="The provider's request id.")] = None,
    session: Annotated[str | None, typer.Option("--session", help="Session or conversation id.")] = None,
    input_tokens: Annotated[int | None, typer.Option("--input-tokens", min=0, help="Prompt tokens.")] = None,
    output_tokens: Annotated[int | None, typer.Option("--output-tokens", min=0, help="Completion tokens.")] = None,
    latency_ms: Annotated[float | None, typer.Option("--latency-ms", min=0, help="Request latency.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Record one generation; prints its id (the same id for the same content)."""
    from codewitness.capture import api

    if str(prompt_file) == "-" and str(output_file) == "-":
        raise InputError("only one of --prompt-file and --output-file can be '-' (stdin)")
    params = dict(_parse_param(p) for p in param or ())
    ranges = api.file_ranges(file or ())
    prompt = _read_text(prompt_file, "prompt")
    output = _read_text(output_file, "output")
    now = utcnow()
    with open_store() as store:
        stored = api.record(
            store,
            model=model,
            prompt=prompt,
            output=output,
            agent=agent,
            params=params,
            prompt_name=prompt_name,
            prompt_version=prompt_version,
            files=ranges,
            session_id=session,
            request_id=request_id,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            latency_ms=latency_ms,
            created_at=now,
        )
    if as_json:
        emit_json(stored.to_dict())
    else:
        typer.echo(stored.id)
        if stored.created_at != now:
            err.print(f"already recorded on {stored.created_at:%Y-%m-%d %H:%M} UTC", style="dim")


# -- generations ---------------------------------------------------------------------------------


@generations_app.command("list")
def generations_list(
    model: Annotated[str | None, typer.Option("--model", help="Only this exact model string.")] = None,
    agent: Annotated[str | None, typer.Option("--agent", help="Only this agent.")] = None,
    since: Annotated[str | None, typer.Option("--since", help="Only since then: 7d, 24h, or 2026-11-01.")] = None,
    file: Annotated[str | None, typer.Option("--file", help="Only those touching this file or folder.")] = None,
    prompt: Annotated[str | None, typer.Option("--prompt", help="Only this prompt NAME or NAME@VERSION.")] = None,
    session: Annotated[str | None, typer.Option("--session", help="Only this session.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many.")] = 100,
    as_json: JsonOpt = False,
) -> None:
    """List recorded generations, newest first."""
    from codewitness import ledger
    from codewitness._time import parse_since

    when = parse_since(since) if since else None
    with open_store() as store:
        found = ledger.find(
            store, model=model, agent=agent, since=when, file=file, prompt=prompt, session=session, limit=limit
        )
    if as_json:
        emit_json([g.to_dict() for g in found])
        return
    if not found:
        given = [
            f"{flag} {value}"
            for flag, value in (
                ("--model", model),
                ("--agent", agent),
                ("--since", since),
                ("--file", file),
                ("--prompt", prompt),
                ("--session", session),
            )
            if value
        ]
        if given:
            err.print(f"no generations match {' '.join(given)} (without them: codewitness generations list)")
        else:
            err.print(
                "no generations recorded yet: agent hooks record them at each commit after `codewitness init`, "
                "pipelines with `codewitness record` or codewitness.record_generation()"
            )
        return
    rows = []
    for g in found:
        prompt_ref = f"{g.prompt_name}@{g.prompt_version}" if g.prompt_name else g.prompt_hash[:10]
        files = ", ".join(str(r) for r in g.files[:3]) + (" ..." if len(g.files) > 3 else "")
        rows.append([g.id, f"{g.created_at:%Y-%m-%d %H:%M:%S}", g.agent, g.model, prompt_ref, files])
    table(["id", "when (UTC)", "agent", "model", "prompt", "files"], rows, no_wrap=("id", "when (UTC)"))
    more = " (the --limit; there may be more)" if len(found) == limit else ""
    err.print(f"{len(found)} generation(s){more}")


@generations_app.command("show")
def generations_show(
    generation: Annotated[str, typer.Argument(help="A generation id or a unique prefix of one.")],
    as_json: JsonOpt = False,
) -> None:
    """Show one generation: prompt, parameters and raw output."""
    from codewitness import ledger

    with open_store() as store:
        g = ledger.get(store, generation)
    if as_json:
        emit_json(g.to_dict())
        return
    out.print(styled((g.id, "bold"), f"  {g.agent} · {g.model} · {g.created_at:%Y-%m-%d %H:%M:%S} UTC"))
    details = {
        "session": g.session_id,
        "request": g.request_id,
        "tool call": g.tool_call_id,
        "prompt": f"{g.prompt_name}@{g.prompt_version}" if g.prompt_name else None,
        "prompt hash": g.prompt_hash,
        "tokens in/out": f"{g.input_tokens}/{g.output_tokens}" if g.input_tokens or g.output_tokens else None,
        "latency": f"{g.latency_ms:.0f} ms" if g.latency_ms is not None else None,
        "files": ", ".join(str(r) for r in g.files) or None,
        "params": json.dumps(dict(g.params), sort_keys=True) if g.params else None,
    }
    for key, value in details.items():
        if value:
            out.print(f"  {key:>13}: {value}")
    _section("prompt", g.prompt)
    _section("output", g.output)


def _section(title: str, text: str) -> None:
    """A titled block of text: a panel on a terminal, plain lines elsewhere."""
    if plain():
        out.print(f"--- {title}")
        out.print(text if text.endswith("\n") else text + "\n", end="")
        return
    from rich.panel import Panel
    from rich.text import Text

    out.print(Panel(Text(text), title=title, title_align="left"))


@generations_app.command("fate")
def generations_fate(
    generation: Annotated[str, typer.Argument(help="A generation id (or a unique prefix of a recorded one).")],
    rev: Annotated[str, typer.Option("--rev", help="The revision to read the fate at.")] = "HEAD",
    as_json: JsonOpt = False,
) -> None:
    """What became of a generation's lines: kept, edited by a person, deleted; and the commits."""
    from codewitness import ledger
    from codewitness._git import repo_root
    from codewitness.errors import NotFoundError
    from codewitness.views.generations import generation_fate

    root = repo_root(Path.cwd())
    with open_store() as store:
        try:
            recorded: Generation | None = ledger.get(store, generation)
        except NotFoundError:
            if not (generation.startswith("gen_") and len(generation) == 24):
                raise
            recorded = None  # not in this ledger (captured elsewhere): the notes still know it
    gid = recorded.id if recorded else generation
    fate = generation_fate(root, gid, rev, generation=recorded)
    if as_json:
        emit_json(fate.to_dict())
        return
    who = " · ".join(x for x in (fate.agent, fate.model) if x)
    out.print(styled((fate.id, "bold"), f"  {who}" if who else "", "" if recorded else "  (not in this ledger)"))
    if not fate.written:
        err.print(
            f"no commit up to {rev} credits lines to {fate.id} "
            "(are the notes fetched? git fetch origin 'refs/notes/*:refs/notes/*')"
        )
        return
    out.print(
        f"wrote {fate.written} line(s): {fate.kept} kept, {fate.edited} edited by a person before commit, "
        f"{fate.deleted} deleted or rewritten since (at {fate.revision[:12]})"
    )
    table(
        ["file", "written", "kept", "edited", "deleted"],
        [[f.path, str(f.written), str(f.kept), str(f.edited), str(f.deleted)] for f in fate.files],
        justify=dict.fromkeys(("written", "kept", "edited", "deleted"), "right"),
    )
    for c in fate.commits:
        out.print(f"{c.commit[:12]} {c.time:%Y-%m-%d} {c.author}: {c.subject} ({c.lines} line(s))")


@generations_app.command("export")
def generations_export(
    fmt: Annotated[str, typer.Option("--format", help="Export format (jsonl).")] = "jsonl",
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Write here instead of stdout.")] = None,
) -> None:
    """Export the whole ledger (prompt versions, then generations) as JSON Lines."""
    from codewitness import ledger

    if fmt != "jsonl":
        raise InputError(f"unknown export format {fmt!r}; supported: jsonl")
    with open_store() as store:
        if output is None:
            count = ledger.export_jsonl(store, sys.stdout)
        else:
            with output.open("w", encoding="utf-8") as handle:
                count = ledger.export_jsonl(store, handle)
    (err if output is None else out).print(f"exported {count} record(s)" + (f" to {output}" if output else ""))


@generations_app.command("import")
def generations_import(
    source: Annotated[Path, typer.Argument(help="A JSON Lines file from `generations export` ('-' for stdin).")],
) -> None:
    """Import an exported ledger; ids and prompt versions are kept, duplicates skipped."""
    from codewitness import ledger

    text = _read_text(source, "import")
    with open_store() as store:
        result = ledger.import_jsonl(store, text.splitlines())
    out.print(
        f"imported {result.added} generation(s), {result.already_present} already present, "
        f"{result.prompt_versions_added} prompt version(s) added"
    )


# -- prompts -------------------------------------------------------------------------------------


@prompts_app.command("list")
def prompts_list(
    limit: Annotated[int | None, typer.Option("--limit", min=1, metavar="N", help="At most this many.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Every prompt name with its latest version and use count."""
    from codewitness.views.prompts import prompt_list

    with open_store() as store:
        everything = prompt_list(store)
    names = everything if limit is None else everything[:limit]
    if as_json:
        emit_json([p.to_dict() for p in names])
        return
    if not names:
        err.print("no named prompts recorded (record with --prompt-name)")
        return
    table(
        ["name", "versions", "last change (UTC)", "generations"],
        [[p.name, str(p.latest_version), f"{p.changed_at:%Y-%m-%d %H:%M}", str(p.generations)] for p in names],
        justify={"versions": "right", "generations": "right"},
    )
    if len(names) < len(everything):
        err.print(f"showing {len(names)} of {len(everything)} prompts (--limit)")


@prompts_app.command("history")
def prompts_history(
    name: Annotated[str, typer.Argument(help="The prompt name.")],
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, metavar="N", help="Only the N latest versions.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """The versions of a prompt: when each appeared and how often it was used."""
    from codewitness.views.prompts import PromptHistory, prompt_versions

    with open_store() as store:
        history = prompt_versions(store, name)
    shown = history if limit is None else PromptHistory(history.name, history.versions[-limit:])
    if as_json:
        data = shown.to_dict()
        data["changes"] = history.changes
        emit_json(data)
        return
    table(
        ["version", "label", "first seen (UTC)", "generations", "hash"],
        [
            [str(v.version), v.label or "", f"{v.created_at:%Y-%m-%d %H:%M}", str(v.uses), v.prompt_hash[:12]]
            for v in shown.versions
        ],
        justify={"version": "right", "generations": "right"},
    )
    out.print(f"{name}: {len(history.versions)} version(s), changed {history.changes} time(s)")


@prompts_app.command("show")
def prompts_show(
    ref: Annotated[str, typer.Argument(help="NAME@VERSION (number or label), or NAME for the latest.")],
    as_json: JsonOpt = False,
) -> None:
    """Print one prompt version's text (on stdout)."""
    from codewitness import ledger

    with open_store() as store:
        v = ledger.resolve_prompt(store, ref)
    if as_json:
        from codewitness.views.prompts import prompt_text

        emit_json(prompt_text(v))
        return
    err.print(styled((v.ref, "bold"), (f" ({v.label})" if v.label else "") + f" · {v.uses} generation(s)"))
    sys.stdout.write(v.text if v.text.endswith("\n") else v.text + "\n")


@prompts_app.command("diff")
def prompts_diff(
    old: Annotated[str, typer.Argument(help="NAME@A")],
    new: Annotated[str, typer.Argument(help="NAME@B")],
) -> None:
    """A unified diff between two prompt versions (on stdout)."""
    from codewitness import ledger

    with open_store() as store:
        text = ledger.prompt_diff(store, old, new)
    if text:
        sys.stdout.write(text)
    else:
        err.print("the two versions have the same text")
