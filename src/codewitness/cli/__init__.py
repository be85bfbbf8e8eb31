"""The ``codewitness`` command line (Typer + Rich).

Human output goes to stderr, machine output (``--json``, ``--sarif``) to stdout. Exit codes:

====  =========================================================================
0     success
1     findings, a failed check, or an operational error (git, database, not found)
2     a usage error: bad option, malformed input file or value, bad configuration
====  =========================================================================

A user mistake prints one line ``codewitness: error: ...`` and never a traceback.
Each verb group lives in its own module with a ``register(app)`` function; :data:`GROUPS`
lists them in help order.
"""

from __future__ import annotations

import importlib
import sys
from typing import Annotated

import typer

from codewitness._version import __version__
from codewitness.cli import _common
from codewitness.errors import CodewitnessError

__all__ = ["GROUPS", "app", "main"]

#: The modules under ``codewitness.cli`` whose ``register(app)`` adds commands, in help order.
GROUPS: tuple[str, ...] = (
    "demo",
    "ledger",
    "attribution",
    "sensor_cmd",
    "config_cmd",
    "check_cmd",
    "deps_cmd",
    "capture_cmd",
)

app = typer.Typer(
    name="codewitness",
    help="Observability for AI-generated code: who wrote it, is it safe, what does it do.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"codewitness {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit."),
    ] = False,
    db: Annotated[
        str | None,
        typer.Option("--db", metavar="URL", help="Database URL for this run (overrides config and CODEWITNESS_DB)."),
    ] = None,
) -> None:
    """Observability for AI-generated code."""
    _common.database_override = db


for _name in GROUPS:
    importlib.import_module(f"codewitness.cli.{_name}").register(app)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (also used by ``python -m codewitness``)."""
    try:
        app(args=argv, prog_name="codewitness")
    except CodewitnessError as exc:
        print(f"codewitness: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except SystemExit as exc:
        # Typer's standalone mode ends every run with SystemExit (usage errors: 2).
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except BrokenPipeError:
        return 0
    return 0
