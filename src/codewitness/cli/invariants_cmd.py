"""``codewitness invariants`` and ``codewitness review ...``: runtime rules and the review queue."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from codewitness.cli._common import emit_json, err, get_config, open_store, out, styled, table
from codewitness.errors import ConfigError, InputError

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
    limit: Annotated[int | None, typer.Option("--limit", min=1, metavar="N", help="Show at most N rules.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Check the configured rules and list every rule with its pass and breach counts."""
    from codewitness._time import parse_since
    from codewitness.views.invariants import invariant_table

    configured = [c.rule for c in checked_config_rules()]
    with open_store() as store:
        found = invariant_table(store, configured, since=parse_since(since) if since else None)
    rows = found.rows if limit is None else found.rows[:limit]
    if as_json:
        emit_json(list(rows))
        return
    if not rows:
        err.print("no invariants: declare them with @codewitness.ensure / require / returns or [[invariants]]")
        return
    table(
        ["function", "rule", "check", "passed", "breached", "errors", "last breach", "source"],
        [
            [
                r["function"],
                r["rule"],
                f"{r['kind']} {r['expression']}",
                str(r["passed"]),
                str(r["breached"]),
                str(r["errors"]),
                r["last_breach"] or "",
                r["source"] + ("" if found.has_calls(r) else " (no calls yet)"),
            ]
            for r in rows
        ],
        justify={"passed": "right", "breached": "right", "errors": "right"},
        row_styles=["red" if r["breached"] else None for r in rows],
    )
    if len(rows) < len(found.rows):
        err.print(f"showing {len(rows)} of {len(found.rows)} rules (--limit)")


@review_app.command("list")
def review_list(
    status: Annotated[str, typer.Option("--status", help="open, ok, wrong or all.")] = "open",
    limit: Annotated[int, typer.Option("--limit", min=1, metavar="N", help="At most this many.")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """Review items waiting for a verdict (or those with one)."""
    from codewitness.views.review import review_queue

    with open_store() as store:
        queue = review_queue(store, status=status, limit=limit)
    if as_json:
        emit_json(list(queue.items))
        return
    if not queue.items:
        what = f"no {status} review items" if status != "all" else "the review queue is empty"
        err.print(f"{what}{_why_no_review(sum(queue.counts.values()))}")
        return
    table(
        ["id", "time (UTC)", "function", "origin", "verdict", "inputs"],
        [
            [
                item["id"][:12],
                item["time"][:19],
                item["function"],
                item["origin"],
                item["verdict"] or "open",
                _short(item["arguments"]),
            ]
            for item in queue.items
        ],
        no_wrap=("id", "time (UTC)"),
    )
    if len(queue.items) < queue.matching:
        err.print(f"showing {len(queue.items)} of {queue.matching} items (--limit)")


@review_app.command("next")
def review_next(as_json: JsonOpt = False) -> None:
    """Show the oldest open review item in full."""
    from codewitness.views.review import review_queue

    with open_store() as store:
        queue = review_queue(store, status="open", limit=1)
    if not queue.items:
        if as_json:
            emit_json(None)
        err.print(f"nothing to review{_why_no_review(sum(queue.counts.values()))}")
        return
    item = queue.items[0]
    if as_json:
        emit_json(item)
        return
    out.print(styled((item["id"], "bold"), f"  {item['function']}  ({item['origin']})  {item['time']}"))
    if item["generation_ids"] or item["models"]:
        # A commit trailer names the model but no generation: say who wrote it all the same.
        generations = ", ".join(item["generation_ids"]) or "no recorded generation"
        out.print(f"written by: {generations}  models: {', '.join(item['models']) or 'unknown'}")
    out.print("inputs:")
    out.print(json.dumps(item["arguments"], indent=2, default=str))
    out.print("output:")
    out.print(json.dumps(item["result"], indent=2, default=str))
    err.print(f"judge it: codewitness review mark {item['id'][:12]} ok|wrong [--note TEXT]")


@review_app.command("mark")
def review_mark(
    item: Annotated[str, typer.Argument(help="The review item id (or a unique prefix).")],
    verdict: Annotated[str, typer.Argument(help="ok or wrong.")],
    note: Annotated[str | None, typer.Option("--note", help="Why; kept with the verdict.")] = None,
    expect_json: Annotated[
        str | None,
        typer.Option(
            "--expect-json",
            metavar="JSON",
            help='With wrong: the correct result, as JSON ({"$": "decimal", "v": "9.99"} for non-JSON types).',
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Record a verdict; a call marked wrong becomes a regression case and a corpus input for replay."""
    from codewitness.behavior.corpus import expectation
    from codewitness.store.invariants import mark_review

    expect = None
    if expect_json is not None:
        try:
            expect = expectation(json.loads(expect_json))
        except ValueError as exc:
            raise InputError(f"--expect-json: not valid JSON ({exc})") from None
    with open_store() as store:
        marked = mark_review(store, item, verdict, note, expect=expect)  # type: ignore[arg-type]
    if as_json:
        emit_json(marked)
        return
    extra = " — kept as a regression case" if verdict == "wrong" else ""
    out.print(f"{marked['id'][:12]} ({marked['function']}): {verdict}{extra}")


def _why_no_review(stored: int) -> str:
    """Why the queue holds nothing to show (an empty answer says why): no rules, or nothing ingested."""
    if stored:
        return ""
    if not get_config().config.review:
        return (
            ": no [[review]] rules in the configuration; a rule (function, rate) sends a share of that function's"
            " calls here (docs/invariants.md, Review sampling)"
        )
    return ": the sensor samples the [[review]] functions' calls; run the program with it, then `codewitness ingest`"


def _short(value: Any) -> str:
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."
