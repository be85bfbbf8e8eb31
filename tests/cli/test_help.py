"""Every command's --help: plain metavars, never Python types such as <bool> or <list[str]>."""

from __future__ import annotations

import re
from typing import Any

import pytest
import typer

from codewitness.cli import main
from codewitness.cli._app import app

_PYTHON_TYPE = re.compile(r"<(bool|str|int|float|path|list\[[^>]*\]|Path|int range|float range)>")


def _commands(command: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [path]
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        found += _commands(sub, (*path, name))
    return found


COMMANDS = _commands(typer.main.get_command(app))


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
