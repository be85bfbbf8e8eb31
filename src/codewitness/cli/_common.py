"""What every command shares: where output goes, how it looks, config and store access.

Output follows the tools people pipe (git, ruff, pytest):

* results -- tables, reports, ``--json`` -- go to **stdout** (:data:`out`, :func:`emit_json`,
  :func:`table`); progress bars, warnings and notes go to **stderr** (:data:`err`, :func:`warn`);
* when stdout is not a terminal, nothing is wrapped or coloured and a table is one row per line
  (columns aligned, a cell's line breaks written as ``\\n``);
* data is never read as Rich markup or emoji: both consoles have markup and emoji off, and style
  comes from ``style=`` and :class:`rich.text.Text` parts, so ``[bold]`` or ``path:100:`` in a
  function name prints as it is.

Rich is loaded when a console or a styled text is first used (:data:`out` and :data:`err` are made on
first access), so a command that only writes JSON -- ``codewitness check --json`` in CI -- never loads it.

Example:
    >>> table(["function", "calls"], [["shop.pricing.total", "401"]], justify={"calls": "right"})  # doctest: +SKIP
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from codewitness.cli._base import database_url, emit_json, warn
from codewitness.config import LoadedConfig, load_config

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

    from codewitness.store import Store

__all__ = ["database_url", "emit_json", "err", "get_config", "open_store", "out", "plain", "styled", "table", "warn"]

#: Results (stdout). Never wraps a line; no colour when stdout is not a terminal.
out: Console
#: Progress, warnings and notes (stderr), so that stdout stays the answer.
err: Console


def _console(name: str) -> Console:
    """:data:`out` or :data:`err`, made (and Rich loaded) on first use."""
    console = globals().get(name)
    if console is None:
        from rich.console import Console

        console = Console(stderr=name == "err", highlight=False, soft_wrap=True, markup=False, emoji=False)
        globals()[name] = console
    return console


def __getattr__(name: str) -> Any:
    if name in ("out", "err"):
        return _console(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


Justify = Literal["left", "right"]


def plain() -> bool:
    """Whether stdout is not a terminal: rows for a pipe or a file, not a layout for a person."""
    return not _console("out").is_terminal


def styled(*parts: str | tuple[str, str]) -> Text:
    """Text from parts, each a string (data, printed as it is) or ``(text, style)``."""
    from rich.text import Text

    return Text.assemble(*parts)


def _cell(value: str | Text) -> str:
    text = value if isinstance(value, str) else value.plain
    return text.replace("\r", "\\r").replace("\n", "\\n").replace("\t", "\\t")


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[str | Text]],
    *,
    justify: Mapping[str, Justify] | None = None,
    row_styles: Sequence[str | None] | None = None,
    no_wrap: Iterable[str] = (),
) -> None:
    """Print a table of results on stdout.

    On a terminal it is a Rich table fitted to the window; anywhere else (a pipe, a file) it is
    a header line and one line per row, columns aligned with two spaces, never wrapped or coloured.

    Args:
        headers: column titles.
        rows: cell texts; a :class:`~rich.text.Text` cell keeps its style on a terminal.
        justify: ``"right"`` for numeric columns (by header).
        row_styles: one style (or ``None``) per row, for a terminal.
        no_wrap: columns a terminal table must not wrap (ids, numbers).
    """
    justify = justify or {}
    rows = [list(r) for r in rows]
    if plain():
        cells = [list(headers), *([_cell(c) for c in r] for r in rows)]
        widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
        last = len(headers) - 1
        for r in cells:
            parts = [
                c.rjust(widths[i]) if justify.get(headers[i]) == "right" else (c if i == last else c.ljust(widths[i]))
                for i, c in enumerate(r)
            ]
            sys.stdout.write("  ".join(parts).rstrip() + "\n")
        return
    from rich.table import Table
    from rich.text import Text

    keep = set(no_wrap)
    grid = Table(box=None, pad_edge=False, header_style="bold")
    for header in headers:
        grid.add_column(header, justify=justify.get(header, "left"), no_wrap=header in keep, overflow="fold")
    for index, row in enumerate(rows):
        style = row_styles[index] if row_styles is not None else None
        grid.add_row(*(c if isinstance(c, Text) else Text(c) for c in row), style=style)
    _console("out").print(grid)


def get_config(start: Path | None = None) -> LoadedConfig:
    """The effective configuration for the project around ``start`` (or the current folder)."""
    return load_config(start)


def open_store(db: str | None = None, start: Path | None = None) -> Store:
    """Open (and migrate) the configured store, or ``db`` when given."""
    from codewitness.store import open_store as _open

    return _open(database_url(db, start))
