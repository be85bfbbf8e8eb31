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
