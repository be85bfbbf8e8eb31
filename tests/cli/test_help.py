"""Every command's --help: plain metavars, never Python types such as <bool> or <list[str]>."""

from __future__ import annotations

import re
from typing import Any

import pytest
import typer

from codewitness.cli import main
from codewitness.cli._app import COMMANDS as COMMANDS_BY_NAME
from codewitness.cli._app import GROUPS, _groups_for, build_app

_PYTHON_TYPE = re.compile(r"<(bool|str|int|float|path|list\[[^>]*\]|Path|int range|float range)>")


def _commands(command: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [path]
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        found += _commands(sub, (*path, name))
    return found


COMMANDS = _commands(typer.main.get_command(build_app()))


def test_every_command_is_covered() -> None:
    assert {("blame",), ("runtime",), ("generations", "fate"), ("review", "list"), ("function",)} <= set(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "codewitness")
def test_help_shows_no_python_types(command: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*command, "--help"]) == 0
    shown = capsys.readouterr().out
    assert "Usage: codewitness" in shown
    assert not _PYTHON_TYPE.search(shown), _PYTHON_TYPE.search(shown)


def test_flags_show_no_metavar_and_values_a_plain_one(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runtime", "--help"]) == 0
    shown = capsys.readouterr().out
    (json_row,) = [line for line in shown.splitlines() if "--json" in line]
    assert re.search(r"--json\s+Print JSON", json_row), json_row
    assert re.search(r"--since\s+TEXT\s", shown) and re.search(r"--top,--limit\s+N\s", shown)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["generations", "list", "--bogus"], "No such option: --bogus (see `codewitness generations list --help`)"),
        (["generations", "list", "--limit", "x"], "Invalid value for '--limit'"),
        (["generations", "show"], "Missing argument 'GENERATION'"),
        (["nosuch"], "No such command 'nosuch'. (see `codewitness --help`)"),
        (["runtime", "--top", "0"], "'--top'"),
        (["--db"], "Option '--db' requires an argument"),
    ],
)
def test_a_usage_mistake_is_one_error_line(args: list[str], says: str, capsys: pytest.CaptureFixture[str]) -> None:
    # Before: the framework's multi-line box (╭─ Error ─...) after a usage line.
    assert main(args) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.splitlines()
    assert line.startswith("codewitness: error: ") and says in line, line


def test_a_group_named_alone_shows_its_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generations"]) == 2
    captured = capsys.readouterr()
    assert "Usage: codewitness generations" in captured.out and "list" in captured.out
    assert "error" not in captured.err


def _tree(command: Any) -> dict[str, Any]:
    return {str(name): _tree(sub) for name, sub in getattr(command, "commands", {}).items()}


def _built(groups: tuple[str, ...]) -> dict[str, Any]:
    return _tree(typer.main.get_command(build_app(groups)))


def test_the_command_map_names_each_command_s_modules_exactly() -> None:
    # A run builds only the modules COMMANDS names for its command: a command missing from the map
    # would be built with the whole tree (slow); a missing module would lose it or a subcommand.
    everything = _built(GROUPS)
    assert set(COMMANDS_BY_NAME) == set(everything)
    for name, groups in COMMANDS_BY_NAME.items():
        assert _built(groups).get(name) == everything[name], name
    assert set(everything["export"]) == {"git-ai", "agent-trace", "otel"}
    for name, groups in COMMANDS_BY_NAME.items():  # and each module listed is needed for it
        for group in groups if len(groups) > 1 else ():
            fewer = tuple(g for g in groups if g != group)
            assert _built(fewer).get(name) != everything[name], (name, group)


@pytest.mark.parametrize(
    ("args", "groups"),
    [
        (["check", "--json"], ("check_cmd",)),
        (["--db", "sqlite:///x.db", "runtime"], ("sensor_cmd",)),
        (["--db=sqlite:///x.db", "export", "otel"], ("attribution", "metrics_cmd")),
        (["--help"], GROUPS),
        (["--version"], GROUPS),
        (["nosuch"], GROUPS),
        ([], GROUPS),
    ],
)
def test_a_run_builds_only_the_named_command_s_modules(args: list[str], groups: tuple[str, ...]) -> None:
    assert _groups_for(args) == groups


def test_building_the_tree_twice_adds_no_command_twice() -> None:
    build_app()
    build_app(("attribution", "metrics_cmd"))
    tree = typer.main.get_command(build_app())
    assert len(tree.commands["alerts"].commands) == 3  # type: ignore[attr-defined]
    assert len(tree.commands["export"].commands) == 3  # type: ignore[attr-defined]
