"""Every agent module has the AgentModule shape, and each part of it does what it says."""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from codewitness.capture import AGENT_MODULES, claude, codex, cursor, gemini
from codewitness.capture._base import PayloadError
from codewitness.capture.agent import AgentModule, agent_module, agent_modules
from codewitness.capture.setup import install
from codewitness.errors import UsageError

MODULES = [claude, cursor, codex, gemini]

_ATTRIBUTES = {"AGENT": str, "SETTINGS_FILE": str, "HOOK_CAN_BLOCK": bool}
_METHODS = ("parse", "install_settings", "uninstall_settings", "hook_output", "cannot_enable")


@pytest.fixture(autouse=True)
def _no_user_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home folder of our own: no developer's agent settings decide a test."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name in ("CLAUDE_CONFIG_DIR", "CODEX_HOME", "GEMINI_CLI_HOME"):
        monkeypatch.delenv(name, raising=False)
    return home


def test_every_name_loads_its_module() -> None:
    assert {name: module.__name__ for name, module in agent_modules().items()} == AGENT_MODULES
    assert sorted(m.__name__ for m in MODULES) == sorted(AGENT_MODULES.values())  # type: ignore[attr-defined]
    with pytest.raises(UsageError, match="choose from claude, cursor, codex, gemini"):
        agent_module("aider")


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__.rsplit(".", 1)[1])
def test_every_agent_module_satisfies_the_protocol(module: ModuleType) -> None:
    for name, kind in _ATTRIBUTES.items():
        assert isinstance(getattr(module, name), kind), name
    assert module.SETTINGS_FILE.endswith(".json")
    for name in _METHODS:
        wanted = [p for p in inspect.signature(getattr(AgentModule, name)).parameters if p != "self"]
        assert list(inspect.signature(getattr(module, name)).parameters) == wanted, name
    reader = module.from_transcript
    assert reader is None or list(inspect.signature(reader).parameters) == ["path", "tool_call_id", "file_path"]


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__.rsplit(".", 1)[1])
def test_parse_refuses_events_it_does_not_capture(module: Any) -> None:
    with pytest.raises(PayloadError):
        module.parse({"hook_event_name": "SomethingElse"})


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__.rsplit(".", 1)[1])
def test_settings_go_in_once_and_come_out_leaving_the_users_entries(module: Any) -> None:
    user_entry = {"hooks": [{"type": "command", "command": "ruff check"}]}
    settings: dict[str, Any] = {"theme": "dark", "hooks": {"Stop": [user_entry]}}
    once = module.install_settings(json.loads(json.dumps(settings)), "python -m codewitness.capture.hook x")
    twice = module.install_settings(json.loads(json.dumps(once)), "python -m codewitness.capture.hook x")
    assert once == twice and "codewitness.capture.hook" in json.dumps(once["hooks"])
    moved = module.install_settings(json.loads(json.dumps(once)), "/other/python -m codewitness.capture.hook x")
    assert json.dumps(moved).count("codewitness.capture.hook") == json.dumps(once).count("codewitness.capture.hook")
    removed = module.uninstall_settings(moved)
    assert "codewitness" not in json.dumps(removed)
    assert removed["hooks"] == {"Stop": [user_entry]} and removed["theme"] == "dark"


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__.rsplit(".", 1)[1])
def test_hook_output_blocks_only_where_the_agent_can(module: Any) -> None:
    context = module.hook_output("check these packages", block=False)
    assert context.exit_code == 0 and context.stderr is None
    assert "check these packages" in json.dumps(json.loads(context.stdout))
    problem = module.hook_output("no such package", block=True)
    if module.HOOK_CAN_BLOCK:
        assert (problem.exit_code, problem.stdout, problem.stderr) == (2, None, "no such package")
    else:
        assert problem.exit_code == 0 and json.loads(problem.stdout) == {"additional_context": "no such package"}


def test_the_after_edit_answers_each_agent_reads() -> None:
    assert json.loads(claude.hook_output("m", block=False).stdout) == {
        "hookSpecificOutput": {"hookEventName": "PostToolUse", "additionalContext": "m"}
    }
    for module, event in ((codex, "PostToolUse"), (gemini, "AfterTool")):
        assert json.loads(module.hook_output("m", block=False).stdout)["hookSpecificOutput"]["hookEventName"] == event


#: (module, file, a text that turns our hooks off, what the reason names, a text that does not)
_REASONS: list[tuple[Any, str, str, str, str]] = [
    (claude, ".claude/settings.local.json", '{"disableAllHooks": true}', "disableAllHooks", '{"disableAllHooks": 0}'),
    (claude, "~/.claude/settings.json", '{"disableAllHooks": true}', "disableAllHooks", "not json"),
    (cursor, ".cursor/hooks.json", '{"version": 2, "hooks": {}}', "version 2", '{"version": 1}'),
    (codex, "~/.codex/config.toml", "[features]\nhooks = false\n", "hooks = false", "[features]\nhooks = true\n"),
    (codex, ".codex/config.toml", "[features]\ncodex_hooks = false\n", "codex_hooks = false", "[features"),
    (gemini, ".gemini/settings.json", '{"hooksConfig": {"enabled": false}}', "enabled = false", '{"hooksConfig": 1}'),
    (gemini, "~/.gemini/settings.json", '{"hooksConfig": {"disabled": ["codewitness"]}}', "disabled", "{}"),
]


@pytest.mark.parametrize(("module", "where", "text", "said", "fine"), _REASONS)
def test_cannot_enable_names_the_setting_that_turns_hooks_off(
    module: Any, where: str, text: str, said: str, fine: str, tmp_path: Path, _no_user_settings: Path
) -> None:
    root = tmp_path / "project"
    root.mkdir()
    assert module.cannot_enable(root) is None
    path = _no_user_settings / where[2:] if where.startswith("~/") else root / where
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, "utf-8")
    reason = module.cannot_enable(root)
    assert reason is not None and str(path) in reason and said in reason
    path.write_text(fine, "utf-8")
    assert module.cannot_enable(root) is None


def test_init_says_when_the_installed_hooks_will_not_run(git_repo: Any) -> None:
    git_repo.write(".claude/settings.local.json", '{"disableAllHooks": true}\n')
    git_repo.commit("settings")
    report = install(git_repo.root, ("claude", "cursor"))
    [note] = [n for n in report.notes if "will not run" in n]
    assert note.startswith("claude: hooks installed, but they will not run:") and "disableAllHooks" in note
