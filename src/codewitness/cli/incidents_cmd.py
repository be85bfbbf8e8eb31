"""``codewitness incidents``: exceptions and broken invariants grouped into incidents, by origin of the code.

* ``codewitness incidents [--since 7d] [--origin ai]`` lists incidents, newest first;
* ``codewitness incidents show ID`` shows one: samples with inputs, the origin of every function on
  its stack, its blast radius, its tags;
* ``codewitness incidents tag ID --cause ai|human|unknown [--note ...] [--link URL]`` records a
  post-mortem's verdict;
* ``codewitness incidents stats --by month --by origin`` gives incidents per 1,000 calls over time.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from codewitness.cli._common import emit_json, err, open_store, out, styled, table
from codewitness.errors import UsageError

incidents_app = typer.Typer(
    help="Exceptions and broken invariants grouped into incidents, tagged with the origin of the code.",
    invoke_without_command=True,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]
SinceOpt = Annotated[str | None, typer.Option("--since", help="Only since then: 7d, 24h, 2026-11-01.")]


def register(app: typer.Typer) -> None:
    """Add ``incidents`` and its subcommands."""
    app.add_typer(incidents_app, name="incidents")


def _root() -> Path | None:
    from codewitness._git import repo_root
    from codewitness.errors import GitError

    try:
        return repo_root(Path.cwd())
    except GitError:
        return None


@incidents_app.callback()
def incidents(
    ctx: typer.Context,
    since: SinceOpt = None,
    origin: Annotated[
        str | None,
        typer.Option("--origin", metavar="ai|mixed|human|unknown", help="Only incidents in code of this origin."),
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, metavar="N", help="Show at most N incidents.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List incidents, newest first (or run a subcommand: show, tag, stats)."""
    if ctx.invoked_subcommand is not None:
        return
    from codewitness._time import parse_since
    from codewitness.views.incidents import list_incidents

    when = parse_since(since) if since else None
    with open_store() as store:
        found = list_incidents(store, since=when, origin=origin, limit=limit)
    if as_json:
        emit_json(found.to_dict())
        return
    if not found.incidents:
        err.print(found.note or "no incidents")
        return
    table(
        ["id", "function", "what", "origin", "count", "first seen", "last seen", "cause"],
        [
            [
                i.id,
                i.function,
                i.key if i.kind == "exception" else f"invariant {i.key}",
                i.origin if i.origin != "mixed" else f"mixed {i.ai_share:.0%}",
                f"{i.count:,}",
                f"{i.first_seen:%Y-%m-%d %H:%M}",
                f"{i.last_seen:%Y-%m-%d %H:%M}",
                i.tag.cause if i.tag else "-",
            ]
            for i in found.incidents
        ],
        justify={"count": "right"},
        no_wrap=("id", "count", "first seen", "last seen"),
    )
    if len(found.incidents) < found.total:
        err.print(f"showing {len(found.incidents)} of {found.total} incidents (--limit)")


def _short(value: Any, limit: int = 300) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[:limit] + " ..."


@incidents_app.command("show")
def show(
    incident: Annotated[str, typer.Argument(help="The incident id (inc_...), or a unique prefix of it.")],
    as_json: JsonOpt = False,
) -> None:
    """One incident: samples with their inputs, the origin of every function on its stack, reach, tags."""
    from codewitness.attribution.storecache import store_cache
    from codewitness.views.incidents import incident_detail

    root = _root()
    with open_store() as store:
        detail = incident_detail(store, incident, root=root, cache=store_cache(store) if root else None)
    if as_json:
        emit_json(detail.to_dict())
        return
    i = detail.incident
    what = i.key if i.kind == "exception" else f"invariant {i.key}"
    out.print(styled((i.id, "bold"), f"  {what} in {i.function}"))
    out.print(
        f"{i.count:,} times ({i.events:,} captured) from {i.first_seen:%Y-%m-%d %H:%M}"
        f" to {i.last_seen:%Y-%m-%d %H:%M} UTC; "
        f"revisions: {', '.join(i.revisions) or '-'}; services: {', '.join(i.services)}"
    )
    out.print(
        f"origin of {i.function}: {i.origin} ({i.ai_share:.0%} AI); generations: {', '.join(i.generation_ids) or '-'};"
        f" models: {', '.join(i.models) or '-'}"
    )
    if detail.stack:
        out.print("stack (innermost last):")
        for frame in detail.stack:
            where = f"{frame['path'] or frame['file']}:{frame['line']}"
            gens = f" {', '.join(frame['generation_ids'])}" if frame["generation_ids"] else ""
            out.print(f"  {where} in {frame['qualname'] or frame['function']}  [{frame['origin']}{gens}]")
    for sample in detail.samples:
        out.print(styled((sample["time"], "dim"), f"  {sample['message'] or ''}"))
        result = f"  result: {_short(sample['result'], 120)}" if sample["result"] is not None else ""
        out.print(f"    inputs: {_short(sample['arguments'])}{result}")
        flow = sample.get("flow")
        if flow:
            params = f" {_short(flow.get('path_params'), 120)}" if flow.get("path_params") else ""
            out.print(f"    request: {flow.get('method') or ''} {flow.get('route') or '(no route)'}{params}".rstrip())
            for statement in flow.get("statements") or ():
                ms = (statement.get("duration_ns") or 0) / 1e6
                out.print(f"      {statement.get('system')}: {statement.get('statement')}  ({ms:.2f} ms)")
    if detail.reach is not None:
        out.print(f"reached from: {', '.join(detail.reach.entry_points) or 'no entry point found'}")
    for tag in detail.tags:
        link = f"  {tag.link}" if tag.link else ""
        out.print(f"tagged {tag.cause} at {tag.tagged_at:%Y-%m-%d %H:%M}: {tag.note or ''}{link}")
    if detail.note:
        err.print(detail.note)


@incidents_app.command("tag")
def tag(
    incident: Annotated[str, typer.Argument(help="The incident id (inc_...), or a unique prefix of it.")],
    cause: Annotated[str, typer.Option("--cause", metavar="ai|human|unknown", help="What caused it.")],
    note: Annotated[str | None, typer.Option("--note", help="What happened, for the post-mortem.")] = None,
    link: Annotated[str | None, typer.Option("--link", metavar="URL", help="The post-mortem or ticket.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Record what caused an incident (the newest tag is the one shown)."""
    from codewitness.store.incidents import add_tag
    from codewitness.views.incidents import find_incident

    with open_store() as store:
        found = find_incident(store, incident)
        recorded = add_tag(store, found.id, cause=cause, note=note, link=link)
    if as_json:
        emit_json(
            {
                "incident": found.id,
                "cause": recorded.cause,
                "note": recorded.note,
                "link": recorded.link,
                "tagged_at": recorded.tagged_at.isoformat(),
            }
        )
        return
    out.print(f"{found.id} tagged {recorded.cause}")


@incidents_app.command("stats")
def stats(
    by: Annotated[
        list[str] | None,
        typer.Option("--by", metavar="month|origin", help="Group by month and/or origin (repeatable; default both)."),
    ] = None,
    since: SinceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Incidents per 1,000 calls, by month and origin: how often AI-written code fails beside human code."""
    from codewitness._time import parse_since
    from codewitness.views.incidents import incident_stats

    groups = set(by or ("month", "origin"))
    unknown = groups - {"month", "origin"}
    if unknown:
        raise UsageError(f"--by is month or origin; not {', '.join(sorted(unknown))}")
    with open_store() as store:
        found = incident_stats(
            store, since=parse_since(since) if since else None, by_month="month" in groups, by_origin="origin" in groups
        )
    if as_json:
        emit_json(found.to_dict())
        return
    if not found.rows:
        err.print(found.note or "no incidents")
        return
    table(
        ["month", "origin", "incidents", "occurrences", "calls", "per 1k calls"],
        [
            [
                r["period"],
                r["origin"],
                str(r["incidents"]),
                f"{r['occurrences']:,}",
                f"{r['calls']:,}",
                "-" if r["per_1k_calls"] is None else f"{r['per_1k_calls']:.3f}",
            ]
            for r in found.rows
        ],
        justify={k: "right" for k in ("incidents", "occurrences", "calls", "per 1k calls")},
    )
