"""``codewitness store stats|prune|vacuum``: what the store holds, and keeping it within bounds.

* ``codewitness store stats`` -- rows, time range and size of every runtime table, the database's size;
* ``codewitness store prune`` -- applies the ``retention`` settings now (``codewitness ingest`` does
  too, unless ``retention.on_ingest = false``): old intervals rolled up, old events deleted;
* ``codewitness store vacuum`` -- gives the space of deleted rows back to the file system.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from codewitness.cli._common import emit_json, err, get_config, open_store, out, table

if TYPE_CHECKING:
    from codewitness.store.retention import PruneResult, StoreStats

store_app = typer.Typer(help="What the store holds, and keeping it within bounds (retention).", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]


def register(app: typer.Typer) -> None:
    """Add ``store`` and its subcommands."""
    app.add_typer(store_app, name="store")


def _size(n: int | None) -> str:
    if n is None:
        return "-"
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("kB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


@store_app.command("stats")
def stats_command(as_json: JsonOpt = False) -> None:
    """Rows, time range and size of every runtime table, and the database's size."""
    from codewitness.store.retention import stats

    with open_store() as store:
        found = stats(store)
    if as_json:
        emit_json(stats_json(found))
        return
    table(
        ["table", "rows", "oldest", "newest", "size"],
        [
            [
                t.name,
                f"{t.rows:,}",
                t.oldest.isoformat(timespec="seconds") if t.oldest else "-",
                t.newest.isoformat(timespec="seconds") if t.newest else "-",
                _size(t.bytes),
            ]
            for t in found.tables
        ],
        justify={"rows": "right", "size": "right"},
    )
    spans = ", ".join(
        f"{n:,} {'as sent' if span == 0 else f'per {_span(span)}'}"
        for span, n in sorted(found.aggregates_by_rollup.items())
    )
    out.print(f"intervals: {spans or 'none'}")
    out.print(f"database: {_size(found.bytes)} ({_size(found.free_bytes)} free) at {found.url}")


def _span(seconds: int) -> str:
    for unit, scale in (("d", 86_400), ("h", 3600), ("m", 60)):
        if seconds % scale == 0:
            return f"{seconds // scale}{unit}"
    return f"{seconds}s"


def stats_json(found: StoreStats) -> dict[str, Any]:
    """``store stats --json``."""
    return {
        "database": found.url,
        "bytes": found.bytes,
        "free_bytes": found.free_bytes,
        "tables": [
            {
                "table": t.name,
                "rows": t.rows,
                "oldest": t.oldest.isoformat() if t.oldest else None,
                "newest": t.newest.isoformat() if t.newest else None,
                "bytes": t.bytes,
            }
            for t in found.tables
        ],
        "intervals_by_rollup": {str(span): n for span, n in sorted(found.aggregates_by_rollup.items())},
    }


@store_app.command("prune")
def prune_command(as_json: JsonOpt = False) -> None:
    """Apply the retention settings now: roll old intervals up, delete events past their age."""
    from codewitness.store.retention import prune, retention_of

    retention = retention_of(get_config().config.retention)
    with open_store() as store:
        result = prune(store, retention)
    if as_json:
        emit_json(prune_json(result))
        return
    out.print(describe_prune(result))


def prune_json(result: PruneResult) -> dict[str, Any]:
    """What ``prune --json`` (and ``ingest --json``) says of a prune."""
    return {
        "merged": result.merged,
        "written": result.written,
        "captures_merged": result.captures_merged,
        "deleted": dict(sorted(result.deleted.items())),
    }


def describe_prune(result: PruneResult) -> str:
    """One line about a prune."""
    deleted = ", ".join(f"{n:,} from {name}" for name, n in sorted(result.deleted.items()) if n)
    rolled = (
        f"{result.merged:,} interval(s) merged into {result.written:,}" if result.merged else "no interval to merge"
    )
    if result.captures_merged:
        rolled += f", {result.captures_merged:,} exception capture(s) merged into newer ones"
    return f"pruned: {rolled}; {'deleted ' + deleted if deleted else 'nothing past its retention'}"


@store_app.command("vacuum")
def vacuum_command(as_json: JsonOpt = False) -> None:
    """Give the space of deleted rows back to the file system (SQLite rewrites the file)."""
    from codewitness.store.retention import vacuum

    with open_store() as store:
        if not as_json:
            err.print("vacuuming (SQLite rewrites the whole file; writers wait meanwhile)")
        before, after = vacuum(store)
    if as_json:
        emit_json({"bytes_before": before, "bytes_after": after})
        return
    out.print(f"vacuumed: {_size(before)} -> {_size(after)}")
