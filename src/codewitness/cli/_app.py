"""The Typer application: the root options, every verb group, and help without type noise.

:func:`run_app` builds the part of the command tree a run names (all of it for help), gives every
parameter a plain metavar (``TEXT``, ``PATH``, ``INTEGER``; nothing for a flag, so help never shows
``<bool>`` or ``<list[str]>``) and runs it.
"""

from __future__ import annotations

import copy
import importlib
from pathlib import Path
from typing import Annotated, Any, get_args, get_origin

import typer

from codewitness._version import __version__
from codewitness.cli import _base

__all__ = ["COMMANDS", "GROUPS", "build_app", "run_app"]

#: The modules under ``codewitness.cli`` whose ``register(app)`` adds commands, in help order.
GROUPS: tuple[str, ...] = (
    "demo",
    "ledger",
    "attribution",
    "sensor_cmd",
    "invariants_cmd",
    "config_cmd",
    "check_cmd",
    "deps_cmd",
    "capture_cmd",
    "serve_cmd",
    "incidents_cmd",
    "mcp_cmd",
    "doctor_cmd",
    "metrics_cmd",
    "store_cmd",
    "insights_cmd",
    "behavior_cmd",
)

#: Each top-level command and the modules that add it (and its subcommands). A run names one
#: command, so only its modules are imported and only its part of the tree is built: the other
#: sixteen cost a tenth of a second at every start, which the merge gate in CI and the agents'
#: hooks pay on each call. ``tests/cli/test_help.py`` checks this against what GROUPS register.
COMMANDS: dict[str, tuple[str, ...]] = {
    "demo": ("demo",),
    **dict.fromkeys(("record", "generations", "prompts"), ("ledger",)),
    **dict.fromkeys(("blame", "function", "report", "manifest", "import"), ("attribution",)),
    "export": ("attribution", "metrics_cmd"),
    **dict.fromkeys(("run", "ingest", "runtime"), ("sensor_cmd",)),
    **dict.fromkeys(("invariants", "review"), ("invariants_cmd",)),
    "config": ("config_cmd",),
    "check": ("check_cmd",),
    "deps": ("deps_cmd",),
    **dict.fromkeys(("init", "uninstall", "hook", "status", "notes"), ("capture_cmd",)),
    **dict.fromkeys(("serve", "token"), ("serve_cmd",)),
    "incidents": ("incidents_cmd",),
    "mcp": ("mcp_cmd",),
    "doctor": ("doctor_cmd",),
    **dict.fromkeys(("metrics", "alerts"), ("metrics_cmd",)),
    "store": ("store_cmd",),
    "insights": ("insights_cmd",),
    **dict.fromkeys(
        ("replay", "gen-tests", "diff-behavior", "flaky", "corpus", "baseline", "drift"), ("behavior_cmd",)
    ),
}

_HELP_NAMES = ("-h", "--help")
_ROOT_VALUE_OPTIONS = ("--db",)  # the root options that take a value


def _version(value: bool) -> None:
    if value:
        typer.echo(f"codewitness {__version__}")
        raise typer.Exit(0)


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
    _base.database_override = db


def build_app(groups: tuple[str, ...] = GROUPS) -> typer.Typer:
    """The command tree with the root options and the commands the modules ``groups`` add."""
    app = typer.Typer(
        name="codewitness",
        help="Observability for AI-generated code: who wrote it, is it safe, what does it do.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
        context_settings={"help_option_names": list(_HELP_NAMES)},
    )
    app.callback()(_root)
    for name in groups:
        importlib.import_module(f"codewitness.cli.{name}").register(app)
    return app


def _groups_for(args: list[str]) -> tuple[str, ...]:
    """The modules a run on ``args`` needs: the named command's, or all (help, a mistyped name)."""
    i = 0
    while i < len(args):
        token = args[i]
        if token in _ROOT_VALUE_OPTIONS:
            i += 2
        elif token.startswith(tuple(f"{name}=" for name in _ROOT_VALUE_OPTIONS)):
            i += 1
        elif token.startswith("-"):
            return GROUPS  # --help, --version, or a mistake the whole tree reports
        else:
            return COMMANDS.get(token, GROUPS)
    return GROUPS


_LABELS: dict[Any, str] = {str: "TEXT", int: "INTEGER", float: "FLOAT", Path: "PATH"}
#: The same labels by the parameter type's name, for Typer releases whose parameters keep no annotation.
_TYPE_LABELS = {"str": "TEXT", "text": "TEXT", "int": "INTEGER", "integer": "INTEGER", "int range": "INTEGER"}
_TYPE_LABELS |= {"float": "FLOAT", "float range": "FLOAT", "path": "PATH"}


class _HelpContext:
    """What a command needs to make its ``--help`` option ahead of time."""

    def __init__(self) -> None:
        self.help_option_names = list(_HELP_NAMES)


def _label(param: Any) -> str:
    if param.param_type_name == "argument":
        return str(param.name).upper()
    annotation = getattr(getattr(param, "type_descriptor", None), "annotation", None)
    if get_origin(annotation) is list:
        (annotation,) = get_args(annotation)
    if annotation in _LABELS:
        return _LABELS[annotation]
    name = str(getattr(getattr(param, "type", None), "name", "value"))
    return _TYPE_LABELS.get(name, name.upper())


def _no_type(ctx: Any = None) -> None:
    return None


def _no_metavar(param: Any = None, ctx: Any = None) -> str:
    return ""


def _plain_metavars(command: Any) -> None:
    """Give every parameter of ``command`` and its subcommands a plain metavar (flags: none, arguments: no type)."""
    params = list(command.params)
    if hasattr(command, "get_help_option"):
        helper = command.get_help_option(_HelpContext())
        if helper is not None:
            params.append(helper)
    for param in params:
        if param.metavar is None:
            flag = getattr(param, "is_flag", False) or getattr(param, "count", False)
            param.metavar = "" if flag else _label(param)
        if param.param_type_name == "argument":
            # Typer shows an argument's Python type (``<list[str]>``) beside its name, and offers no
            # setting for it; the name and the help say what it is.
            param.display_type_rich = _no_type
            # Typer before 0.29 asks the argument's type instead; types are shared (str's is one
            # object for every parameter), so the argument gets a copy that shows nothing.
            if getattr(param, "type", None) is not None and not hasattr(param, "type_descriptor"):
                param.type = copy.copy(param.type)
                param.type.get_metavar = _no_metavar
    for sub in getattr(command, "commands", {}).values():
        _plain_metavars(sub)


def run_app(args: list[str]) -> None:
    """Run the command line on ``args`` (ends with ``SystemExit``, as Typer does).

    A usage mistake (an unknown option, a value of the wrong type, a missing argument) becomes one
    :class:`~codewitness.errors.UsageError` line naming the command's help, not the framework's box.

    Raises:
        UsageError: the command line is malformed.
        CodewitnessError: the framework refused the command for another reason (exit code kept).
    """
    from codewitness.errors import CodewitnessError, UsageError

    command = typer.main.get_command(build_app(_groups_for(args)))
    _plain_metavars(command)
    try:
        # Not standalone: the framework raises instead of printing its multi-line error box.
        result = command.main(args=args, prog_name="codewitness", standalone_mode=False)
    except CodewitnessError:
        raise
    except Exception as exc:
        # Click's exceptions, known by name: Typer releases differ in where click lives (its own copy or click).
        kinds = {cls.__name__ for cls in type(exc).__mro__}
        if "NoArgsIsHelpError" in kinds:
            raise SystemExit(2) from None  # a group named alone: its help is already printed
        if "UsageError" in kinds:
            context = getattr(exc, "ctx", None)
            where = getattr(context, "command_path", None) or "codewitness"
            raise UsageError(f"{_one_line(exc.format_message())} (see `{where} --help`)") from None  # type: ignore[attr-defined]
        if "ClickException" in kinds:
            error = CodewitnessError(_one_line(exc.format_message()))  # type: ignore[attr-defined]
            error.exit_code = int(getattr(exc, "exit_code", 1))
            raise error from None
        if "Abort" in kinds:
            raise CodewitnessError("aborted") from None
        raise
    # Commands return nothing; an int is the code of a ``typer.Exit``.
    raise SystemExit(result if isinstance(result, int) else 0)


def _one_line(text: str) -> str:
    return " ".join(text.split())
