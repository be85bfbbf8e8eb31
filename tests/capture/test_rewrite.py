"""Amend and rebase keep every attribution; cherry-picks are repaired with `notes remap`."""

from __future__ import annotations

from typing import Any

from capture_helpers import Hooks

from codewitness.attribution.blame import line_origins
from codewitness.attribution.notes import read_note
from codewitness.cli import main

BODY = "def parse_port(text):\n    port = int(text)\n    return port\n"


def _app(installed: Any) -> None:
    installed.write("src/app.py", "import sys\n\n\ndef parse_port(text):\n    return int(text)\n")
    installed.commit("app")


def _agent_commit(installed: Any, hooks: Hooks) -> str:
    """A commit in which Codex rewrote parse_port (two AI lines) and added src/util.py."""
    assert hooks.run("codex", hooks.payload("codex_user_prompt_submit.json")) == 0
    assert hooks.run("codex", hooks.payload("codex_pre_apply_patch.json")) == 0
    installed.write("src/app.py", "import sys\n\n\n" + BODY)
    installed.write("src/util.py", "def clamp(x, lo, hi):\n    return max(lo, min(hi, x))\n")
    assert hooks.run("codex", hooks.payload("codex_post_apply_patch.json")) == 0
    return str(installed.commit("Name the port; clamp helper"))


def _ai_lines(note: Any, path: str) -> dict[int, str]:
    return {
        line: entry.origin
        for entry in note.files.get(path, ())
        if entry.origin != "human"
        for a, b in entry.spans
        for line in range(a, b + 1)
    }


def test_codex_apply_patch_is_attributed(installed: Any, hooks: Hooks) -> None:
    _app(installed)
    note = read_note(installed.root, _agent_commit(installed, hooks))
    assert note is not None, hooks.log()
    assert _ai_lines(note, "src/app.py") == {5: "ai", 6: "ai"}
    assert _ai_lines(note, "src/util.py") == {1: "ai", 2: "ai"}
    entry = note.entry_for("src/util.py", 1)
    assert (entry.agent, entry.model) == ("codex", "gpt-5.1-codex-max")


def test_amend_keeps_attribution(installed: Any, hooks: Hooks) -> None:
    _app(installed)
    first = _agent_commit(installed, hooks)
    before = read_note(installed.root, first)
    assert before is not None
    # Amend with a message change and one more human line.
    installed.write("src/util.py", "def clamp(x, lo, hi):\n    return max(lo, min(hi, x))\n\n\nLIMIT = 10\n")
    installed.git("add", "-A")
    installed.git("commit", "-q", "--amend", "-m", "Name the port; clamp helper; limit")
    amended = installed.git("rev-parse", "HEAD").strip()
    assert amended != first
    after = read_note(installed.root, amended)
    assert after is not None, hooks.log()
    assert _ai_lines(after, "src/app.py") == _ai_lines(before, "src/app.py") == {5: "ai", 6: "ai"}
    assert _ai_lines(after, "src/util.py") == {1: "ai", 2: "ai"}
    assert after.entry_for("src/util.py", 5).origin == "human"
    assert after.entry_for("src/util.py", 1).generation_ids == before.entry_for("src/util.py", 1).generation_ids
    assert after.entry_for("src/util.py", 1).model == "gpt-5.1-codex-max"


def test_rebase_moves_line_numbers_with_the_code(installed: Any, hooks: Hooks) -> None:
    _app(installed)
    installed.git("checkout", "-q", "-b", "feature")
    first = _agent_commit(installed, hooks)
    before = read_note(installed.root, first)
    assert before is not None
    # Meanwhile main gains two lines at the top of app.py (no conflict with the agent's lines).
    installed.git("checkout", "-q", "main")
    installed.write(
        "src/app.py", '"""The app."""\nimport os\nimport sys\n\n\ndef parse_port(text):\n    return int(text)\n'
    )
    installed.commit("docstring and os")
    installed.git("checkout", "-q", "feature")
    installed.git("rebase", "-q", "main")
    rebased = installed.git("rev-parse", "HEAD").strip()
    assert rebased != first
    after = read_note(installed.root, rebased)
    assert after is not None, hooks.log()
    committed = (installed.root / "src/app.py").read_text("utf-8").splitlines()
    assert _ai_lines(after, "src/app.py") == {7: "ai", 8: "ai"}
    assert committed[6:8] == ["    port = int(text)", "    return port"]
    assert _ai_lines(after, "src/util.py") == {1: "ai", 2: "ai"}
    assert after.entry_for("src/app.py", 7).generation_ids == before.entry_for("src/app.py", 5).generation_ids
    # git blame through the attribution engine finds the agent's lines at their new place.
    origins = line_origins(installed.root, "src/app.py")
    assert [(o.kind, o.evidence) for o in origins[6:8]] == [("ai", "note"), ("ai", "note")]
    assert origins[6].model == "gpt-5.1-codex-max"
    assert origins[0].kind == "human"


def test_cherry_pick_is_repaired_by_notes_remap(installed: Any, hooks: Hooks, capsys: Any) -> None:
    _app(installed)
    installed.git("checkout", "-q", "-b", "feature")
    first = _agent_commit(installed, hooks)
    installed.git("checkout", "-q", "main")
    installed.write("NOTES.txt", "unrelated\n")
    installed.commit("notes on main")
    installed.git("cherry-pick", first)
    picked = installed.git("rev-parse", "HEAD").strip()
    capsys.readouterr()
    assert main(["notes", "remap", first, picked, "--json"]) == 0
    assert '"origin": "ai"' in capsys.readouterr().out
    note = read_note(installed.root, picked)
    assert note is not None
    assert _ai_lines(note, "src/util.py") == {1: "ai", 2: "ai"}
    assert _ai_lines(note, "src/app.py") == {5: "ai", 6: "ai"}
