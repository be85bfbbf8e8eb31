"""``codewitness run``, ``ingest`` and ``runtime``: the runtime sensor from the command line.

* ``codewitness run [options] -- python app.py`` (or ``-- python -m pkg``) starts the program
  with the sensor on, without changing its code (like ``opentelemetry-instrument``).
* ``codewitness ingest`` loads the spool folder into the store; running it twice adds nothing.
* ``codewitness runtime`` shows calls, errors, latency quantiles and recent exceptions per
  function, AI-written code beside human code.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from codewitness.cli._common import emit_json, err, get_config, open_store, out, styled, table
from codewitness.config import env_name
from codewitness.errors import InputError

if TYPE_CHECKING:
    from codewitness.config import LoadedConfig
    from codewitness.views.runtime import RuntimeView

_BOOTSTRAP = Path(__file__).resolve().parent.parent / "_bootstrap"

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]


def register(app: typer.Typer) -> None:
    """Add ``run``, ``ingest`` and ``runtime``."""
    app.command("run", context_settings={"ignore_unknown_options": True})(run)
    app.command("ingest")(ingest)
    app.command("runtime")(runtime)


def _default_service(command: list[str]) -> str:
    args = command[1:]
    if "-m" in args and args.index("-m") + 1 < len(args):
        return args[args.index("-m") + 1]
    scripts = [a for a in args if not a.startswith("-")]
    return Path(scripts[0]).stem if scripts else Path(command[0]).name


def run(
    command: Annotated[list[str], typer.Argument(help="The program to run, after --: python app.py | python -m pkg")],
    service: Annotated[str | None, typer.Option("--service", help="Service name (default: script or module).")] = None,
    manifest: Annotated[Path | None, typer.Option("--manifest", help="Manifest of AI-written functions.")] = None,
    include: Annotated[
        list[str] | None,
        typer.Option("--include", help="Also instrument module.qualname globs (repeatable)."),
    ] = None,
    exclude: Annotated[list[str] | None, typer.Option("--exclude", help="Never instrument these globs.")] = None,
    interval: Annotated[float | None, typer.Option("--interval", help="Seconds per interval.", min=0.05)] = None,
    spool_dir: Annotated[str | None, typer.Option("--spool-dir", help="Spool folder for records.")] = None,
    endpoint: Annotated[str | None, typer.Option("--endpoint", help="HTTP endpoint for batches.")] = None,
    otel: Annotated[bool | None, typer.Option("--otel/--no-otel", help="Export through OpenTelemetry.")] = None,
    sample_rate: Annotated[
        float | None,
        typer.Option("--sample-rate", help="Share of calls sampled for replay.", min=0.0, max=1.0),
    ] = None,
) -> None:
    """Run a Python program with the runtime sensor on (no code change)."""
    if not command:
        raise InputError("nothing to run: codewitness run -- python app.py")
    executable = shutil.which(command[0])
    if executable is None:
        raise InputError(f"cannot find {command[0]!r} on PATH")
    if spool_dir is not None and not spool_dir.strip():
        raise InputError(
            "--spool-dir is empty: give a folder (default .codewitness/spool);"
            ' sensor.spool_dir = "" in the configuration turns the spool off'
        )
    loaded = get_config()  # a broken configuration is reported here, not inside the application
    from codewitness.cli.invariants_cmd import checked_config_rules

    checked_config_rules()  # so is a bad [[invariants]] expression: refused before the app starts
    configured = loaded.config.sensor.spool_dir
    if spool_dir or configured:
        _state_dir_for(Path(spool_dir).resolve() if spool_dir else loaded.path(configured).absolute())
    watched = manifest.resolve() if manifest else loaded.path(loaded.config.sensor.manifest)
    _say_what_is_watched(loaded, watched, include)
    settings: dict[str, Any] = {
        "service": service or _default_service(command),
        "manifest": str(manifest.resolve()) if manifest else None,
        "include": json.dumps(include) if include else None,  # a JSON array: a glob may hold a comma
        "exclude": json.dumps(exclude) if exclude else None,
        "interval": interval,
        "spool_dir": str(Path(spool_dir).resolve()) if spool_dir else None,
        "endpoint": endpoint,
        "otel": None if otel is None else ("true" if otel else "false"),
        "sample_rate": sample_rate,
    }
    env = dict(os.environ)
    env["CODEWITNESS_RUN_SAID_WATCHED"] = "1"  # the sensor need not say again what it watches
    for key, value in settings.items():
        if value is not None:
            env[env_name(f"sensor.{key}")] = str(value)
    command = _through_runner(executable, command, env)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_BOOTSTRAP), env.get("PYTHONPATH", "")) if p)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(executable, command, env)  # noqa: S606 - replacing this process with the user's program is the point


def _say_what_is_watched(loaded: LoadedConfig, manifest: Path, include: list[str] | None) -> None:
    """Warn before the program starts when the sensor would watch nothing (an empty answer says why)."""
    from codewitness.model import Manifest

    patterns = list(include or ()) + list(loaded.config.sensor.include)
    rules = len(loaded.config.invariants) + len(loaded.config.review)
    if not manifest.is_file():
        problem = f"no manifest at {manifest}"
    else:
        try:
            listed = Manifest.from_json(manifest.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise InputError(
                f"the manifest {manifest} cannot be read ({exc}); rebuild it: codewitness manifest build"
            ) from None
        if listed.watched:
            return
        problem = f"the manifest {manifest} lists no function to watch"
    if patterns:
        err.print(f"codewitness: {problem}: watching only what {', '.join(patterns)} select(s)", style="yellow")
        return
    also = f" (only the functions of {rules} [[invariants]]/[[review]] rule(s))" if rules else ""
    err.print(
        f"codewitness: {problem}: no AI-written function will be watched{also}. Build it first with "
        "`codewitness manifest build` (from anywhere in the project), or select functions with --include 'pkg.*'",
        style="yellow",
    )


def _state_dir_for(spool: Path) -> None:
    """Make the ``.codewitness/`` folder the spool will live in (kept out of git), before the app runs."""
    from codewitness._statedir import STATE_DIR, make_dirs

    state = next((p for p in (spool, *spool.parents) if p.name == STATE_DIR), None)
    if state is not None:
        make_dirs(state)


# Options of the ``python`` command line that take the next argument as their value.
_VALUE_OPTIONS = frozenset("WX")
_LONG_VALUE_OPTIONS = frozenset({"--check-hash-based-pycs"})


def _script_index(args: list[str]) -> int | None:
    """Where the script is in a ``python`` command line's arguments; ``None`` for ``-c``, ``-m``,
    standard input, or a line that only asks for help or the version."""
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            return i + 1 if i + 1 < len(args) else None
        if arg == "-" or not arg.startswith("-"):
            return None if arg == "-" else i
        if arg.startswith("--"):
            if arg.startswith(("--help", "--version")):
                return None
            i += 2 if arg in _LONG_VALUE_OPTIONS else 1
            continue
        for j, flag in enumerate(arg[1:]):
            if flag in "cmh?V":
                return None
            if flag in _VALUE_OPTIONS:
                i += 1 if j == len(arg) - 2 else 0  # ``-W error`` takes the next argument; ``-Werror`` not
                break
        i += 1
    return None


def _through_runner(executable: str, command: list[str], env: dict[str, str]) -> list[str]:
    """``python [options] app.py args`` becomes ``python [options] -m codewitness.sensor._script
    app.py args``, so that the script's own functions are watched too (the interpreter runs a script
    file outside any import). Anything else, or an interpreter that cannot import codewitness, is
    left as it is."""
    if not re.fullmatch(r"python(\d+(\.\d+)*)?[a-z]?(\.exe)?", Path(command[0]).name):
        return command
    index = _script_index(command[1:])
    if index is None:
        return command
    script = Path(command[1 + index])
    if not script.is_file() or zipfile.is_zipfile(script):
        return command
    probe = "import importlib.util, sys; sys.exit(importlib.util.find_spec('codewitness') is None)"
    try:
        found = subprocess.run([executable, "-c", probe], env=env, capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.SubprocessError):
        return command
    if found.returncode != 0:
        return command  # the sitecustomize says why, and the program runs uninstrumented
    return [*command[: 1 + index], "-m", "codewitness.sensor._script", *command[1 + index :]]


def ingest(
    spool: Annotated[Path | None, typer.Option("--spool", help="Spool folder (default: sensor.spool_dir).")] = None,
    keep: Annotated[
        bool | None,
        typer.Option("--keep/--no-keep", help="Keep the stored segments (default: retention.keep_spool)."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Load the sensor's spool folder into the store (idempotent: twice adds nothing), delete the
    segments stored that their sensor has finished with, and apply the retention settings."""
    from rich.progress import Progress

    from codewitness.cli.store_cmd import describe_prune, prune_json
    from codewitness.ingest import ingest_spool
    from codewitness.store.retention import prune, retention_of

    loaded = get_config()
    config = loaded.config
    configured = config.sensor.spool_dir
    if spool is None and not configured:
        raise InputError(
            "sensor.spool_dir is empty, so the sensor writes no spool to ingest; give --spool FOLDER, or set "
            "sensor.endpoint to send records to `codewitness serve` instead"
        )
    folder = spool or loaded.path(configured)
    if not folder.is_dir():
        raise InputError(
            f"no spool folder at {folder}: nothing was recorded yet. Run the program with the sensor "
            "(`codewitness run -- python app.py`, after `codewitness manifest build`), then ingest again"
        )
    retention = retention_of(config.retention) if config.retention.on_ingest else None
    delete = not (config.retention.keep_spool if keep is None else keep)
    with open_store() as store, Progress(console=err, transient=True, disable=as_json) as progress:
        task = progress.add_task("ingesting", total=None)
        total, segments = ingest_spool(store, folder, on_segment=lambda _records: progress.advance(task), delete=delete)
        pruned = prune(store, retention) if retention is not None else None
    result = {
        "spool": str(folder),
        "segments": segments,
        "inserted": total.inserted,
        "by_kind": total.by_kind,
        "duplicates": total.duplicates,
        "bad": total.bad,
        "bad_reasons": total.reasons,
        "deleted_segments": total.deleted,
        "rejected_segments": total.rejected,
        "pruned": prune_json(pruned) if pruned is not None else None,
    }
    if as_json:
        emit_json(result)
        return
    kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(total.by_kind.items())) or "nothing new"
    out.print(f"ingested {segments} segment(s) from {folder}: {kinds}")
    if not segments:
        err.print(
            "the spool holds no records: the sensor writes one batch per sensor.interval (10 s) and at exit; "
            "was a function watched? (`codewitness run` warns when the manifest lists none)"
        )
    if total.duplicates:
        out.print(f"{total.duplicates} record(s) were already in the store")
    if total.deleted:
        out.print(f"deleted {total.deleted} stored segment(s) (retention.keep_spool keeps them)")
    if pruned is not None and (pruned.merged or pruned.captures_merged or any(pruned.deleted.values())):
        out.print(describe_prune(pruned))
    if total.bad:
        err.print(f"{total.bad} record(s) skipped: {_reasons(total.reasons)}", style="yellow")
    if total.rejected:
        err.print(f"kept {total.rejected} segment(s) with skipped records as {folder}/rejected-*.jsonl", style="yellow")


def _reasons(reasons: dict[str, int], shown: int = 3) -> str:
    """The commonest reasons, one line: ``2 calls: not an integer ...; 1 missing field 'start'``."""
    ranked = sorted(reasons.items(), key=lambda item: (-item[1], item[0]))
    text = "; ".join(f"{n} {reason}" for reason, n in ranked[:shown])
    rest = sum(n for _, n in ranked[shown:])
    return text + (f"; {rest} for other reasons" if rest else "")


def runtime(
    function: Annotated[
        str | None, typer.Option("--function", "-f", help="A module.qualname or a glob (shop.pricing.*).")
    ] = None,
    since: Annotated[str | None, typer.Option("--since", help="Only since then: 1h, 7d, or 2026-11-01.")] = None,
    service: Annotated[
        str | None, typer.Option("--service", help="Only this service (by default every service's facts are summed).")
    ] = None,
    revision: Annotated[str | None, typer.Option("--revision", help="Only facts of this revision of the code.")] = None,
    sort: Annotated[
        str,
        typer.Option(
            "--sort", metavar="calls|errors|p95", help="Largest first by this (default: AI-written first, then calls)."
        ),
    ] = "origin",
    limit: Annotated[
        int | None, typer.Option("--top", "--limit", metavar="N", min=1, help="Show only the first N functions.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Calls, errors, latency and recent exceptions per function, AI-written beside human code."""
    from codewitness._time import parse_since
    from codewitness.views.runtime import runtime_view

    when = parse_since(since) if since else None
    with open_store() as store:
        view = runtime_view(
            store, function=function, since=when, service=service, revision=revision, sort=sort, limit=limit
        )
    if view.skipped:  # on stderr, with --json too
        count = sum(view.skipped.values())
        err.print(f"{count} stored interval(s) left out: {_reasons(dict(view.skipped))}", style="yellow")
    if as_json:
        emit_json(list(view.functions))
        return
    if not view.functions:
        scope = " ".join(
            f"{name} {value}"
            for name, value in (
                ("--function", function),
                ("--service", service),
                ("--revision", revision),
                ("--since", since),
            )
            if value
        )
        err.print(
            f"no runtime facts{' for ' + scope if scope else ' yet'}: "
            "run the app with the sensor (codewitness run -- python app.py), then `codewitness ingest`"
        )
        return
    _print_view(view)
    if len(view.functions) < view.total:
        err.print(f"showing {len(view.functions)} of {view.total} functions (--top/--limit)")


def _one_line(text: str) -> str:
    return text.replace("\r", "\\r").replace("\n", "\\n")


#: Unwatched functions named one per line under the table; the rest are counted.
_UNWATCHED_SHOWN = 10


def _print_view(view: RuntimeView) -> None:
    rows = []
    for s in view.functions:
        rows.append(
            [
                s["function"],
                s["origin"] if s["origin"] != "mixed" else f"mixed {s['ai_share']:.0%}",
                f"{s['calls']:,}",
                f"{s['errors']:,} ({s['error_rate']:.1%})" if s["errors"] else "0",
                f"{s['p50_ms']:.3f}",
                f"{s['p95_ms']:.3f}",
                f"{s['p99_ms']:.3f}",
            ]
        )
    numeric = ("calls", "errors", "p50 ms", "p95 ms", "p99 ms")
    table(
        ["function", "origin", *numeric],
        rows,
        justify=dict.fromkeys(numeric, "right"),
        no_wrap=("origin", *numeric),
    )
    if view.models:
        out.print("written by: " + ", ".join(f"{m} ({n} functions)" for m, n in view.models.items()))
    for group in view.groups:
        out.print(f"{group.label}: {group.calls:,} calls, {group.errors:,} errors ({group.error_rate:.2%})")
    unwatched = [s for s in view.functions if "unwatched" in s]
    for s in unwatched[:_UNWATCHED_SHOWN]:
        u = s["unwatched"]
        out.print(
            styled(
                (f"unwatched: {u['reason']}", "yellow"),
                f" {s['function']} since {u['time']}: {u['calls']:,} calls at {u['mean_ns']:,} ns each in the"
                " interval before; its calls since are not counted",
            )
        )
    if unwatched:
        more = len(unwatched) - _UNWATCHED_SHOWN
        err.print(
            (f"and {more} more unwatched function(s) (--json lists them); " if more > 0 else "")
            + "sensor.keep keeps a function watched, sensor.unwatch_cheap_calls = 0 every one"
        )
    for s in view.functions:
        written = f"    written by: {', '.join(s['generation_ids'])}" if s["generation_ids"] else None
        for e in s["exceptions"]:
            out.print(styled((e["type"], "red"), f" in {s['function']} at {e['time']}: {_one_line(e['message'])}"))
            out.print(f"    inputs: {_shorten(e['arguments'], 400)}")
            if written:
                out.print(written)
        for b in s["breaches"]:
            out.print(
                styled(
                    (f"invariant {b['rule']}", "magenta"),
                    f" broken in {s['function']} at {b['time']}: {b['kind']} {_one_line(b['expression'])}",
                )
            )
            result = json.dumps(b["result"], ensure_ascii=False, default=str)[:200]
            out.print(f"    inputs: {_shorten(b['arguments'], 400)}  result: {result}")
            if written:
                out.print(written)


def _shorten(value: Any, limit: int) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[:limit] + " ..."
