"""``codewitness invariants`` and ``codewitness review ...``: runtime rules and the review queue."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from codewitness.cli._common import console, emit_json, get_config, open_store
from codewitness.errors import ConfigError

review_app = typer.Typer(help="Sampled calls of high-stakes functions, for a person to judge.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]


def register(app: typer.Typer) -> None:
    """Add ``invariants`` and ``review``."""
    app.command("invariants")(invariants)
    app.add_typer(review_app, name="review")


def checked_config_rules() -> list[Any]:
    """The configuration's ``[[invariants]]``, compiled; any bad one is a ConfigError (exit 2)."""
    from codewitness.invariants import compile_config_rules

    rules, problems = compile_config_rules(get_config().config.invariants)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ConfigError(problems[0] + more)
    return rules


def invariants(
    since: Annotated[str | None, typer.Option("--since", help="Only counts since then: 7d, 24h, 2026-11-01.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Check the configured rules and list every rule with its pass and breach counts."""
    from codewitness._time import parse_since
    from codewitness.store.invariants import rule_counts

    configured = checked_config_rules()
    with open_store() as store:
        counted = rule_counts(store, since=parse_since(since) if since else None)
    seen = {(r["function"], r["rule"]) for r in counted}
    rows = list(counted)
    for config_rule in configured:
        rule = config_rule.rule
        if not any(r["rule"] == rule.name for r in counted):
            rows.append(
                {
                    "function": rule.function,
                    "rule": rule.name,
                    "kind": rule.kind,
                    "expression": rule.text,
                    "source": "config",
                    "passed": 0,
                    "breached": 0,
                    "errors": 0,
                    "last_breach": None,
                }
            )
    if as_json:
        emit_json(rows)
        return
    if not rows:
        console.print("no invariants: declare them with @codewitness.ensure / require / returns or [[invariants]]")
        return
    from rich.table import Table

    table = Table("function", "rule", "check", "passed", "breached", "errors", "last breach", "source")
    for r in rows:
        style = "red" if r["breached"] else None
        table.add_row(
            r["function"],
            r["rule"],
            f"{r['kind']} {r['expression']}",
            str(r["passed"]),
            str(r["breached"]),
            str(r["errors"]),
            r["last_breach"] or "",
            r["source"] + ("" if (r["function"], r["rule"]) in seen else " (no calls yet)"),
            style=style,
        )
    console.print(table)


@review_app.command("list")
def review_list(
    status: Annotated[str, typer.Option("--status", help="open, ok, wrong or all.")] = "open",
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many.")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """Review items waiting for a verdict (or those with one)."""
    from codewitness.errors import InputError
    from codewitness.store.invariants import review_items

    if status not in ("open", "ok", "wrong", "all"):
        raise InputError(f"--status is one of open, ok, wrong, all; not {status!r}")
    with open_store() as store:
        items = review_items(store, status=status, limit=limit)  # type: ignore[arg-type]
    if as_json:
        emit_json(items)
        return
    if not items:
        console.print(f"no {status} review items" if status != "all" else "the review queue is empty")
        return
    from rich.table import Table

    table = Table("id", "time (UTC)", "function", "origin", "verdict", "inputs")
    for item in items:
        table.add_row(
            item["id"][:12],
            item["time"][:19],
            item["function"],
            item["origin"],
            item["verdict"] or "open",
            _short(item["arguments"]),
        )
    console.print(table)


@review_app.command("next")
def review_next(as_json: JsonOpt = False) -> None:
    """Show the oldest open review item in full."""
    from codewitness.store.invariants import review_items

    with open_store() as store:
        items = review_items(store, status="open", limit=1)
    if not items:
        if as_json:
            emit_json(None)
        console.print("nothing to review")
        return
    item = items[0]
    if as_json:
        emit_json(item)
        return
    console.print(f"[bold]{item['id']}[/bold]  {item['function']}  ({item['origin']})  {item['time']}")
    if item["generation_ids"]:
        console.print(f"written by: {', '.join(item['generation_ids'])}  models: {', '.join(item['models'])}")
    console.print("inputs:", markup=False)
    console.print(json.dumps(item["arguments"], indent=2, default=str), markup=False)
    console.print("output:", markup=False)
    console.print(json.dumps(item["result"], indent=2, default=str), markup=False)
    console.print(f"judge it: codewitness review mark {item['id'][:12]} ok|wrong [--note TEXT]")


@review_app.command("mark")
def review_mark(
    item: Annotated[str, typer.Argument(help="The review item id (or a unique prefix).")],
    verdict: Annotated[str, typer.Argument(help="ok or wrong.")],
    note: Annotated[str | None, typer.Option("--note", help="Why; kept with the verdict.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Record a verdict; a call marked wrong becomes a regression case for replay."""
    from codewitness.store.invariants import mark_review

    with open_store() as store:
        marked = mark_review(store, item, verdict, note)  # type: ignore[arg-type]
    if as_json:
        emit_json(marked)
        return
    extra = " — kept as a regression case" if verdict == "wrong" else ""
    console.print(f"{marked['id'][:12]} ({marked['function']}): {verdict}{extra}")


def _short(value: Any) -> str:
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."
