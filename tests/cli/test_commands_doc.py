"""docs/commands.md documents every command, every argument and every option (a test, as for config keys)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import typer

from codewitness.cli._app import build_app

DOC = Path(__file__).resolve().parents[2] / "docs" / "commands.md"


def _runs_alone(group: Any) -> bool:
    # A group that does something without a subcommand (``codewitness incidents`` lists them) has options
    # of its own, documented like a command's.
    return bool(getattr(group, "invoke_without_command", False)) and any(
        option not in ("-h", "--help") for param in group.params for option in param.opts
    )


def _leaves(command: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    subs = getattr(command, "commands", {})
    if not subs:
        return [(path, command)]
    own = [(path, command)] if path and _runs_alone(command) else []
    return own + [leaf for name, sub in sorted(subs.items()) for leaf in _leaves(sub, (*path, name))]


ROOT_COMMAND = typer.main.get_command(build_app())
LEAVES = [(path, command) for path, command in _leaves(ROOT_COMMAND) if path]


def sections(text: str) -> dict[str, str]:
    """``## codewitness NAME`` headings -> the text under each."""
    parts = re.split(r"^## codewitness (.+)$", text, flags=re.M)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts) - 1, 2)}


SECTIONS = sections(DOC.read_text(encoding="utf-8"))


@pytest.mark.parametrize(("path", "command"), LEAVES, ids=lambda v: " ".join(v) if isinstance(v, tuple) else "")
def test_every_command_and_option_is_documented(path: tuple[str, ...], command: Any) -> None:
    name = " ".join(path)
    assert name in SECTIONS, f"docs/commands.md has no section '## codewitness {name}'"
    section = SECTIONS[name]
    for param in command.params:
        if param.param_type_name == "argument":
            label = param.name.upper()
            assert f"`{label}`" in section, f"codewitness {name}: argument {label} undocumented"
            continue
        for option in (*param.opts, *param.secondary_opts):
            if option in ("-h", "--help"):
                continue
            assert re.search(rf"`{re.escape(option)}[ `]", section), f"codewitness {name}: option {option} undocumented"


def test_the_root_options_are_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    for param in ROOT_COMMAND.params:
        for option in param.opts:
            if option not in ("-h", "--help"):
                assert f"`{option}" in text.split("## codewitness ", 1)[0], option


def test_no_section_names_a_command_that_does_not_exist() -> None:
    assert set(SECTIONS) == {" ".join(path) for path, _ in LEAVES}


def test_a_missing_option_is_caught() -> None:
    # The check itself: a section that lost one option's row no longer documents it.
    section = SECTIONS["runtime"]
    stripped = "\n".join(line for line in section.splitlines() if "`--since" not in line)
    assert re.search(r"`--since[ `]", section) and not re.search(r"`--since[ `]", stripped)
