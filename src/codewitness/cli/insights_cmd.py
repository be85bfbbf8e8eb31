"""``codewitness insights``: what got slower, chattier or flakier in the running code, by origin.

* ``codewitness insights [--since 7d] [--kind n_plus_one] [--origin ai] [--all]`` lists N+1 queries,
  chatty calls, functions slower or failing more at their newest revision, routes that slow down
  under load -- each with its function, origin and evidence;
* ``codewitness insights ack ID [--note ...]`` marks one as seen (hidden from then on).
"""

from __future__ import annotations

from typing import Annotated

import typer

from codewitness.cli._common import emit_json, err, open_store, out, styled, table

insights_app = typer.Typer(
    help="N+1 queries, chatty calls, slowdowns and error jumps after a change, routes that slow under load.",
    invoke_without_command=True,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]
SinceOpt = Annotated[str | None, typer.Option("--since", help="Only facts since then: 7d, 24h, 2026-11-01.")]


def register(app: typer.Typer) -> None:
    """Add ``insights`` and its subcommands."""
    app.add_typer(insights_app, name="insights")


@insights_app.callback()
def insights(
    ctx: typer.Context,
    since: SinceOpt = None,
    kind: Annotated[
        list[str] | None,
        typer.Option(
            "--kind",
            metavar="n_plus_one|chatty|slower|error_jump|scaling",
            help="Only insights of this kind (repeatable).",
        ),
    ] = None,
    origin: Annotated[
        str | None,
        typer.Option("--origin", metavar="ai|mixed|human|unknown|any", help="Only about code of this origin."),
    ] = None,
    show_all: Annotated[bool, typer.Option("--all", help="Also the acknowledged ones.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """List insights (or run a subcommand: ack)."""
    if ctx.invoked_subcommand is not None:
        return
    from codewitness._time import parse_since
    from codewitness.views.insights import insights as find

    with open_store() as store:
        found = find(
            store,
            since=parse_since(since) if since else None,
            kinds=kind,
            origin=origin,
            include_acknowledged=show_all,
        )
    if as_json:
        emit_json(found.to_dict())
        return
    if not found.insights:
        err.print(found.note or "no insights")
        return
    table(
        ["id", "kind", "origin", "what"],
        [
            [
                i.id,
                i.kind + (" (ack)" if i.acknowledged else ""),
                i.origin if i.origin != "mixed" else f"mixed {i.ai_share:.0%}",
                i.title,
            ]
            for i in found.insights
        ],
        no_wrap=("id", "kind"),
    )
    for i in found.insights:
        if i.kind in ("n_plus_one", "chatty"):
            out.print(styled((i.id, "dim"), f"  {i.evidence['statement']}"))
        elif i.generation_ids:
            out.print(styled((i.id, "dim"), f"  generations: {', '.join(i.generation_ids)}"))
    if found.acknowledged_hidden:
        err.print(f"{found.acknowledged_hidden} acknowledged insight(s) hidden (--all shows them)")


@insights_app.command("ack")
def ack(
    insight: Annotated[str, typer.Argument(help="The insight id (ins_...), or a unique prefix of it.")],
    note: Annotated[str | None, typer.Option("--note", help="Why, or what will be done about it.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Mark an insight as seen: it is hidden from the list from then on (--all shows it)."""
    from codewitness.views.insights import acknowledge_insight

    with open_store() as store:
        found = acknowledge_insight(store, insight, note=note)
    if as_json:
        emit_json(found.to_dict())
        return
    out.print(f"{found.id} acknowledged: {found.title}")
