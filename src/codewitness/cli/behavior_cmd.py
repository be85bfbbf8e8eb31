"""``codewitness replay``, ``corpus``, ``baseline``, ``drift``, ``gen-tests``, ``diff-behavior``, ``flaky``:
did the behaviour of a function change?

* ``replay [FUNCTION ...|--all] --against REV`` replays captured inputs at REV and at the working
  tree (or ``--rev``) and exits 1 when an input behaves differently; ``--same-rev`` looks for
  non-deterministic inputs only; ``--since-context-change`` replays what agents wrote after the
  newest change of their context files;
* ``corpus list | show | add | prune`` works the inputs replays are made of;
* ``baseline pin | check | list | show | delete`` pins outcomes and alarms on drift from them;
* ``drift check`` regenerates a module from each version of a prompt and replays a baseline on it;
* ``gen-tests`` writes pytest files from baselines and reviewed cases; ``diff-behavior`` searches
  for an input on which two revisions differ; ``flaky`` lists functions with non-deterministic inputs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from codewitness.cli._common import emit_json, err, get_config, open_store, out, plain, styled, table, warn
from codewitness.errors import InputError

if TYPE_CHECKING:
    from codewitness.behavior.replay import FunctionReport, ReplayReport

corpus_app = typer.Typer(help="The inputs replays are made of, per function.", no_args_is_help=True)
baseline_app = typer.Typer(help="Pinned outcomes of the corpus; alarms on drift from them.", no_args_is_help=True)
drift_app = typer.Typer(help="Behaviour across the versions of a code-generation prompt.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]
MdOpt = Annotated[bool, typer.Option("--md", help="Print Markdown for a pull-request comment on stdout.")]
RevOpt = Annotated[
    str | None, typer.Option("--rev", metavar="REV", help="Run this revision instead of the working tree.")
]


def register(app: typer.Typer) -> None:
    """Add the behaviour commands."""
    app.command("replay")(replay)
    app.add_typer(corpus_app, name="corpus")
    app.add_typer(baseline_app, name="baseline")
    app.add_typer(drift_app, name="drift")
    app.command("gen-tests")(gen_tests)
    app.command("diff-behavior")(diff_behavior)
    app.command("flaky")(flaky)


def _root() -> Path:
    from codewitness._git import repo_root

    return repo_root(Path.cwd())


# -- rendering a replay --------------------------------------------------------------------------


def _counts(f: FunctionReport) -> str:
    parts = [f"replayed {f.replayed}: {f.equal} equal, {f.differing} differing, {f.nondeterministic} non-deterministic"]
    if f.error_count:
        parts.append(f"{f.error_count} error(s)")
    if f.not_replayable_count:
        parts.append(f"{f.not_replayable_count} not replayable")
    return "; ".join(parts)


def _render(report: ReplayReport, title: str) -> None:
    from codewitness.behavior.values import outcome_text

    old_label = report.old.label if report.old is not None else "pinned"
    out.print(styled((title, "bold")))
    for f in report.functions:
        if f.excluded:
            out.print(styled((f.function, "bold"), f"  excluded: {f.excluded}"))
            continue
        style = "red" if f.differing else "yellow" if f.nondeterministic else "green"
        out.print(styled((f.function, "bold"), "  ", (_counts(f), style)))
        if f.note:
            out.print(f"  {f.note}")
        for reason, n in sorted(f.not_replayable.items()):
            out.print(f"  not replayable ({n}): {reason}")
        for reason, n in sorted(f.errors.items()):
            out.print(f"  error ({n}): {reason}")
        for example in f.examples:
            from codewitness.behavior.replay import input_text

            out.print(styled(("  differs: ", "red"), input_text(example.case.input)))
            if example.old:
                out.print(f"    {old_label}: {outcome_text(example.old[0])}")
            out.print(f"    {report.new.label}: {outcome_text(example.new[0])}")
            for d in example.differences[:5]:
                out.print(f"    {d.path}: {d.old} -> {d.new}")
        for example in f.flaky:
            from codewitness.behavior.replay import input_text

            runs = example.new if any(not _same(example.new[0], o) for o in example.new) else example.old
            shown = " | ".join(outcome_text(o, 80) for o in runs)
            out.print(styled(("  non-deterministic: ", "yellow"), f"{input_text(example.case.input)}  runs: {shown}"))
        changed = f.changed
        if changed is not None and (changed.generations or changed.human_lines or changed.uncommitted):
            who = ", ".join(g.text() for g in changed.generations) or "no AI generation"
            out.print(
                f"  changed by: {who}; a person edited it: {'yes' if changed.human_edited else 'no'}"
                + (f"; commits {', '.join(c[:10] for c in changed.commits)}" if changed.commits else "")
                + ("; uncommitted changes in the working tree" if changed.uncommitted else "")
            )
    for note in report.notes:
        err.print(note)
    totals = {k: report.total(k) for k in ("replayed", "differing", "nondeterministic", "errors", "not_replayable")}
    err.print(
        f"{len(report.functions)} function(s): {totals['replayed']} input(s) replayed, {totals['differing']} differing,"
        f" {totals['nondeterministic']} non-deterministic, {totals['errors']} error(s), "
        f"{totals['not_replayable']} not replayable ({report.seconds:.1f} s)"
        + ("; the budget ran out (behavior.budget)" if report.budget_spent else "")
    )


def _same(a: Any, b: Any) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def replay(
    functions: Annotated[
        list[str] | None, typer.Argument(help="Functions: module.qualname or module:qualname.")
    ] = None,
    all_functions: Annotated[bool, typer.Option("--all", help="Every function with corpus inputs.")] = False,
    against: Annotated[
        str | None, typer.Option("--against", metavar="REV", help="The revision to compare with.")
    ] = None,
    rev: RevOpt = None,
    corpus_from: Annotated[
        str | None, typer.Option("--corpus-from", metavar="REV", help="Only inputs captured running this revision.")
    ] = None,
    same_rev: Annotated[
        bool, typer.Option("--same-rev", help="Only look for non-deterministic inputs (exit 1 when one is found).")
    ] = False,
    since_context_change: Annotated[
        bool,
        typer.Option(
            "--since-context-change",
            help="Replay what agents wrote since their context files last changed, against the revision before.",
        ),
    ] = False,
    as_json: JsonOpt = False,
    as_md: MdOpt = False,
) -> None:
    """Replay captured inputs against another revision; exit 1 when an input behaves differently."""
    from codewitness.behavior.markdown import to_markdown
    from codewitness.behavior.replay import replay as run_replay

    if as_json and as_md:
        raise InputError("choose one of --json and --md")
    config = get_config().config
    settings = config.behavior
    root = _root()
    with open_store() as store:
        report = run_replay(
            store,
            root,
            functions or [],
            settings=settings,
            against=against,
            rev=rev,
            corpus_from=corpus_from,
            all_functions=all_functions,
            same_rev=same_rev,
            since_context_change=since_context_change,
            context_files=config.metrics.context_files,
        )
    if as_json:
        emit_json(report.to_dict())
    elif as_md:
        out.print(to_markdown(report), end="")
    else:
        if report.old is not None:
            title = f"replay: {report.old.label} -> {report.new.label} ({report.repeat} run(s) per input and side)"
        else:
            title = f"replay --same-rev: {report.new.label} ({report.repeat} run(s) per input)"
        if report.context_change is not None:
            c = report.context_change
            title += f"; context change {c.commit[:10]} ({', '.join(c.files)}): {c.subject}"
        _render(report, title)
    raise typer.Exit(report.exit_code)


# -- corpus --------------------------------------------------------------------------------------


@corpus_app.command("list")
def corpus_list(as_json: JsonOpt = False) -> None:
    """Functions with corpus inputs: entries, replayable ones, sightings, sources."""
    from codewitness.views.behavior import corpus_table

    with open_store() as store:
        rows = corpus_table(store)
    if as_json:
        emit_json(rows)
        return
    if not rows:
        err.print(
            "the corpus is empty: turn sampling on (sensor.sample_rate), run tests with --codewitness-record,"
            " mark review items wrong, or `codewitness corpus add`"
        )
        return
    table(
        ["function", "entries", "replayable", "seen", "non-deterministic", "sources", "last seen (UTC)"],
        [
            [
                r["function"],
                str(r["entries"]),
                str(r["replayable"]),
                str(r["seen"]),
                str(r["nondeterministic"]),
                ", ".join(f"{k} {v}" for k, v in sorted(r["sources"].items())),
                (r["last_seen"] or "")[:19],
            ]
            for r in rows
        ],
        justify={"entries": "right", "replayable": "right", "seen": "right", "non-deterministic": "right"},
    )


@corpus_app.command("show")
def corpus_show(
    function: Annotated[str, typer.Argument(help="The function: module.qualname or module:qualname.")],
    limit: Annotated[int, typer.Option("--limit", min=1, metavar="N", help="Show at most N entries.")] = 20,
    as_json: JsonOpt = False,
) -> None:
    """One function's inputs, newest first: shape, inputs as Python, or why not replayable."""
    from codewitness.behavior.replay import normalise
    from codewitness.views.behavior import corpus_detail

    with open_store() as store:
        detail = corpus_detail(store, normalise(function), limit=limit)
    if as_json:
        emit_json(detail)
        return
    if not detail["entries"]:
        err.print(f"no corpus inputs for {detail['function']} (`codewitness corpus list` shows the functions)")
        return
    out.print(
        styled((detail["function"], "bold"), f"  {detail['entries']} input(s), {detail['replayable']} replayable")
    )
    for shape, n in detail["by_shape"].items():
        out.print(f"  shape {shape}: {n}")
    for reason, n in detail["not_replayable"].items():
        out.print(f"  not replayable ({n}): {reason}")
    table(
        ["id", "source", "seen", "inputs", "observed / expected"],
        [
            [
                item["id"][:12],
                item["source"],
                str(item["seen"]),
                item["inputs"] or f"(not replayable: {item['not_replayable']})",
                (f"expect {_expect_text(item['expect'])}" if item["expect"] else item["observed"] or ""),
            ]
            for item in detail["items"]
        ],
        justify={"seen": "right"},
        no_wrap=("id",),
    )
    if len(detail["items"]) < detail["entries"]:
        err.print(f"showing {len(detail['items'])} of {detail['entries']} entries (--limit)")


def _expect_text(expect: Any) -> str:
    from codewitness.behavior.values import outcome_text

    return outcome_text(expect, 80)


def _json_arg(text: str, option: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise InputError(f"{option}: not valid JSON ({exc})") from None


@corpus_app.command("add")
def corpus_add(
    function: Annotated[str, typer.Argument(help="The function: module.qualname or module:qualname.")],
    args_json: Annotated[
        str,
        typer.Option(
            "--args-json",
            metavar="JSON",
            help='Arguments by name: {"amount": {"$": "decimal", "v": "19.99"}, "qty": 3}.',
        ),
    ],
    expect_json: Annotated[
        str | None, typer.Option("--expect-json", metavar="JSON", help="The expected return value (same form).")
    ] = None,
    note: Annotated[str | None, typer.Option("--note", help="Why this input matters.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Add an input (and optionally its expected result) to a function's corpus."""
    from codewitness.behavior.corpus import add_user_entry

    with open_store() as store:
        entry = add_user_entry(
            store,
            function,
            _json_arg(args_json, "--args-json"),
            expect=_json_arg(expect_json, "--expect-json") if expect_json is not None else None,
            note=note,
        )
    if as_json:
        emit_json(entry.to_dict())
        return
    out.print(f"{entry.id[:12]} ({entry.function}): added" + (" with an expected result" if entry.expect else ""))


@corpus_app.command("prune")
def corpus_prune(
    functions: Annotated[list[str] | None, typer.Argument(help="Only these functions.")] = None,
    older_than: Annotated[
        str | None, typer.Option("--older-than", metavar="AGE", help="Entries last seen before then: 30d, 2026-11-01.")
    ] = None,
    keep_per_shape: Annotated[
        int | None, typer.Option("--keep-per-shape", min=1, metavar="N", help="Keep the N newest of each input shape.")
    ] = None,
    not_replayable: Annotated[bool, typer.Option("--not-replayable", help="Entries that cannot be replayed.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Delete sampled entries (people's entries stay)."""
    from codewitness._time import parse_since
    from codewitness.behavior.replay import normalise
    from codewitness.store.corpus import prune

    with open_store() as store:
        deleted = prune(
            store,
            functions=[normalise(f) for f in functions] if functions else None,
            older_than=parse_since(older_than) if older_than else None,
            keep_per_shape=keep_per_shape,
            not_replayable=not_replayable,
        )
    if as_json:
        emit_json({"deleted": deleted})
        return
    out.print(f"deleted {deleted} corpus entr{'y' if deleted == 1 else 'ies'}")


# -- baselines -----------------------------------------------------------------------------------


@baseline_app.command("pin")
def baseline_pin(
    name: Annotated[str, typer.Argument(help="The baseline's name (never reused while it exists).")],
    functions: Annotated[list[str] | None, typer.Argument(help="Functions (default: all with corpus inputs).")] = None,
    rev: RevOpt = None,
    note: Annotated[str | None, typer.Option("--note", help="Why this baseline.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Pin the outcomes of the corpus at the working tree (or --rev) under NAME."""
    from codewitness.behavior.baseline import pin

    with open_store() as store:
        result = pin(store, _root(), name, functions or [], settings=get_config().config.behavior, rev=rev, note=note)
    if as_json:
        emit_json(result.to_dict())
        return
    b = result.baseline
    where = (b["revision"] or "?")[:10] + (" with uncommitted changes to Python files" if b["dirty"] else "")
    out.print(f"pinned {b['name']}: {b['cases']} input(s) of {len(b['functions'])} function(s) at {where}")
    for reason, n in sorted(result.skipped.items()):
        out.print(f"  left out ({n}): {reason}")


@baseline_app.command("check")
def baseline_check(
    name: Annotated[str, typer.Argument(help="The baseline.")],
    threshold: Annotated[
        str | None,
        typer.Option("--threshold", metavar="SHARE", help="Alarm above this share of differing inputs: 2% or 0.02."),
    ] = None,
    rev: RevOpt = None,
    as_json: JsonOpt = False,
    as_md: MdOpt = False,
) -> None:
    """Replay the pinned inputs; exit 1 and fire an alert (rule baseline) when too many differ."""
    from codewitness.behavior.baseline import check, parse_threshold
    from codewitness.behavior.markdown import check_markdown

    if as_json and as_md:
        raise InputError("choose one of --json and --md")
    limit = parse_threshold(threshold) if threshold is not None else None
    config = get_config().config
    skip = {"stdout": "--json: the alert is in the JSON document"} if as_json else None
    if as_md:
        skip = {"stdout": "--md: standard output holds the comment"}
    with open_store() as store:
        result = check(
            store,
            _root(),
            name,
            settings=config.behavior,
            threshold=limit,
            rev=rev,
            alerts=config.alerts,
            skip_channels=skip,
        )
    if as_json:
        emit_json(result.to_dict())
    elif as_md:
        out.print(check_markdown(result), end="")
    else:
        verdict = "ALARM" if result.alarm else "ok"
        _render(
            result.report,
            f"baseline {name} (pinned at {(result.baseline['revision'] or '?')[:10]}) -> {result.report.new.label}: "
            f"{verdict}, {result.report.total('differing')} of {result.compared} input(s) differ "
            f"({result.share:.1%}; threshold {result.threshold:.1%})",
        )
        if result.compared == 0:
            err.print("nothing could be compared: that is an alarm too (see the errors above)")
        alert = result.alert
        if alert.alert is not None:
            state = "fired" if alert.new else f"still firing since {alert.alert.fired_at:%Y-%m-%d %H:%M}"
            err.print(f"alert {alert.alert.id} {state} (`codewitness alerts list`)")
        for cleared in alert.cleared:
            err.print(f"alert {cleared.id} cleared: within the threshold again")
    for delivery in result.alert.deliveries:
        if not delivery.ok:
            warn(f"alert {delivery.alert_id} not delivered by {delivery.channel}: {delivery.error}")
    raise typer.Exit(result.exit_code)


@baseline_app.command("list")
def baseline_list(as_json: JsonOpt = False) -> None:
    """Baselines, newest first, with their latest check."""
    from codewitness.views.behavior import baseline_table

    with open_store() as store:
        rows = baseline_table(store)
    if as_json:
        emit_json(rows)
        return
    if not rows:
        err.print("no baselines: `codewitness baseline pin NAME` pins the corpus's outcomes")
        return
    table(
        ["name", "pinned (UTC)", "revision", "functions", "cases", "last check"],
        [
            [
                r["name"],
                r["created_at"][:19],
                (r["revision"] or "")[:10] + (" +dirty" if r["dirty"] else ""),
                str(len(r["functions"])),
                str(r["cases"]),
                _check_text(r["last_check"]),
            ]
            for r in rows
        ],
        justify={"functions": "right", "cases": "right"},
    )


def _check_text(check: dict[str, Any] | None) -> str:
    if check is None:
        return "never checked"
    verdict = "ALARM" if check["alarm"] else "ok"
    return f"{verdict} {check['differing']}/{check['compared']} differ ({check['checked_at'][:19]})"


@baseline_app.command("show")
def baseline_show(
    name: Annotated[str, typer.Argument(help="The baseline.")],
    as_json: JsonOpt = False,
) -> None:
    """One baseline: its inputs and pinned outcomes per function, and its check history."""
    from codewitness.views.behavior import baseline_detail

    with open_store() as store:
        detail = baseline_detail(store, name)
    if as_json:
        emit_json(detail)
        return
    out.print(
        styled(
            (detail["name"], "bold"),
            f"  pinned {detail['created_at'][:19]} at {(detail['revision'] or '?')[:10]}"
            + (" (with uncommitted changes)" if detail["dirty"] else "")
            + f"; {detail['cases']} input(s)",
        )
    )
    for reason, n in sorted(detail["skipped"].items()):
        out.print(f"  left out ({n}): {reason}")
    for function, cases in detail["by_function"].items():
        out.print(styled((function, "bold")))
        for case in cases:
            out.print(f"  {case['inputs']}  ->  {case['outcome']}")
    if detail["checks"]:
        out.print(styled(("checks", "bold")))
        table(
            ["time (UTC)", "revision", "compared", "differing", "share", "threshold", "verdict"],
            [
                [
                    c["checked_at"][:19],
                    (c["revision"] or "")[:10] + (" +dirty" if c["dirty"] else ""),
                    str(c["compared"]),
                    str(c["differing"]),
                    f"{c['share']:.1%}",
                    f"{c['threshold']:.1%}",
                    "ALARM" if c["alarm"] else "ok",
                ]
                for c in detail["checks"]
            ],
            justify={"compared": "right", "differing": "right", "share": "right", "threshold": "right"},
        )


@baseline_app.command("delete")
def baseline_delete(
    name: Annotated[str, typer.Argument(help="The baseline.")],
    as_json: JsonOpt = False,
) -> None:
    """Delete a baseline with its cases and check history."""
    from codewitness.store.behavior import delete_baseline

    with open_store() as store:
        cases = delete_baseline(store, name)
    if as_json:
        emit_json({"deleted": name, "cases": cases})
        return
    out.print(f"deleted baseline {name} ({cases} case(s))")


# -- the rest ------------------------------------------------------------------------------------


def flaky(
    since: Annotated[str | None, typer.Option("--since", help="Only replays since then: 30d, 2026-11-01.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Functions whose replays found non-deterministic inputs, over time."""
    from codewitness._time import parse_since
    from codewitness.views.behavior import flakiness_table

    with open_store() as store:
        rows = flakiness_table(store, since=parse_since(since) if since else None)
    if as_json:
        emit_json(rows)
        return
    if not rows:
        err.print("no replays yet: `codewitness replay --same-rev FUNCTION` looks for non-deterministic inputs")
        return
    table(
        ["function", "replays", "inputs replayed", "non-deterministic", "last replay (UTC)"],
        [
            [r["function"], str(r["runs"]), str(r["replayed"]), str(r["nondeterministic"]), r["last_run"][:19]]
            for r in rows
        ],
        justify={"replays": "right", "inputs replayed": "right", "non-deterministic": "right"},
        row_styles=["yellow" if r["nondeterministic"] and not plain() else None for r in rows],
    )


@drift_app.command("check")
def drift_check(
    prompt: Annotated[
        str, typer.Option("--prompt", metavar="NAME[@V]", help="The prompt (its latest version by default).")
    ],
    generate: Annotated[
        str,
        typer.Option(
            "--generate",
            metavar="CMD",
            help="The generator command: {prompt} is a file with the prompt's text, {output} the module to write.",
        ),
    ],
    function: Annotated[str, typer.Option("--function", metavar="MODULE:QUALNAME", help="The function in the output.")],
    baseline: Annotated[
        str, typer.Option("--baseline", metavar="NAME", help="The baseline whose inputs are replayed.")
    ],
    all_versions: Annotated[
        bool, typer.Option("--all-versions", help="Every version of the prompt, in order; name the first that changed.")
    ] = False,
    model: Annotated[
        str, typer.Option("--model", help="The model the generator uses, recorded with each generation.")
    ] = "unknown",
    threshold: Annotated[
        str, typer.Option("--threshold", metavar="SHARE", help="A version changed when more than this share differs.")
    ] = "0",
    timeout: Annotated[
        float, typer.Option("--timeout", min=1, metavar="SECONDS", help="The longest one generation may take.")
    ] = 600.0,
    as_json: JsonOpt = False,
) -> None:
    """Regenerate the module from a prompt version (or all) and replay a baseline on it; exit 1 on a change."""
    from codewitness.behavior.baseline import parse_threshold
    from codewitness.behavior.drift import drift_check as run_check

    with open_store() as store:
        report = run_check(
            store,
            _root(),
            prompt=prompt,
            generate=generate,
            function=function,
            baseline=baseline,
            settings=get_config().config.behavior,
            all_versions=all_versions,
            model=model,
            threshold=parse_threshold(threshold),
            generator_timeout=timeout,
        )
    if as_json:
        emit_json(report.to_dict())
        raise typer.Exit(report.exit_code)
    table(
        ["version", "generation", "compared", "equal", "differing", "share", "verdict"],
        [
            [
                f"{report.prompt}@{v.version}" + (f" ({v.label})" if v.label else ""),
                v.generation_id or "",
                str(v.report.equal + v.report.differing),
                str(v.report.equal),
                str(v.report.differing),
                f"{v.share():.1%}",
                v.error or ("CHANGED" if report.changed(v) else "same"),
            ]
            for v in report.versions
        ],
        justify={"compared": "right", "equal": "right", "differing": "right", "share": "right"},
    )
    first = report.first_changed
    if first is not None:
        changed = next(v for v in report.versions if v.version == first)
        out.print(styled((f"behaviour changed first at {report.prompt}@{first}", "bold red")))
        from codewitness.behavior.replay import input_text
        from codewitness.behavior.values import outcome_text

        for example in changed.report.examples:
            out.print(f"  input: {input_text(example.case.input)}")
            out.print(f"    baseline {baseline}: {outcome_text(example.old[0])}")
            out.print(f"    {report.prompt}@{first}: {outcome_text(example.new[0])}")
    else:
        err.print(f"no version of {report.prompt} changed the behaviour of {report.function} on baseline {baseline}")
    raise typer.Exit(report.exit_code)


def gen_tests(
    functions: Annotated[list[str] | None, typer.Argument(help="Functions (default: every one with cases).")] = None,
    output: Annotated[Path, typer.Option("-o", "--output", metavar="FILE", help="The test file to write.")] = Path(
        "tests/test_codewitness_regressions.py"
    ),
    baselines: Annotated[
        list[str] | None, typer.Option("--baseline", metavar="NAME", help="Only these baselines (repeatable).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Write a pytest file of real inputs and the outcomes they must have (baselines, reviewed cases)."""
    from codewitness._files import write_atomically
    from codewitness.behavior.gentests import generate

    command = (
        "codewitness gen-tests"
        + "".join(f" {f}" for f in functions or [])
        + "".join(f" --baseline {b}" for b in baselines or [])
        + f" -o {output.as_posix()}"
    )
    with open_store() as store:
        written = generate(
            store, functions or [], settings=get_config().config.behavior, baselines=baselines or [], command=command
        )
    write_atomically(output, written.text)
    if as_json:
        emit_json({"output": str(output), **written.to_dict()})
        return
    out.print(f"wrote {output}: {written.cases} case(s) of {len(written.functions)} function(s)")
    for reason, n in sorted(written.skipped.items()):
        err.print(f"left out ({n}): {reason}")


def diff_behavior(
    function: Annotated[str, typer.Argument(help="The function: module.qualname or module:qualname.")],
    against: Annotated[str, typer.Option("--against", metavar="REV", help="The revision to compare with.")],
    rev: RevOpt = None,
    max_examples: Annotated[
        int, typer.Option("--max-examples", min=1, metavar="N", help="How many inputs to try at most.")
    ] = 200,
    seed: Annotated[int, typer.Option("--seed", metavar="N", help="The search's random seed.")] = 0,
    as_json: JsonOpt = False,
) -> None:
    """Search (Hypothesis) for an input on which the two revisions differ; print it minimised; exit 1 if found."""
    from codewitness.behavior.search import search

    with open_store() as store:
        found = search(
            store,
            _root(),
            function,
            against=against,
            settings=get_config().config.behavior,
            rev=rev,
            max_examples=max_examples,
            seed=seed,
        )
    if as_json:
        emit_json(found.to_dict())
        raise typer.Exit(1 if found.found else 0)
    if not found.found:
        err.print(
            f"{found.function}: {found.old_label} and {found.new_label} agreed on all {found.tried} input(s) tried"
            + (f" ({found.errors} could not run)" if found.errors else "")
            + (f" ({found.nondeterministic} non-deterministic)" if found.nondeterministic else "")
        )
        raise typer.Exit(0)
    from codewitness.behavior.values import outcome_text

    out.print(styled((f"{found.function} differs on:", "bold red"), f" {found.input_text}"))
    out.print(f"  {found.old_label}: {outcome_text(found.old)}")
    out.print(f"  {found.new_label}: {outcome_text(found.new)}")
    for d in found.differences[:5]:
        out.print(f"  {d.path}: {d.old} -> {d.new}")
    err.print(f"{found.tried} input(s) tried; the one shown is minimised")
    raise typer.Exit(1)
