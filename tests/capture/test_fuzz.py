"""Fuzzed hook payloads: the hook always exits 0, never touches the work tree, never misattributes."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from codewitness.capture import hook
from codewitness.capture.checkpoint import added_ranges, diff_hunks, split_lines
from codewitness.capture.commit import label_commit
from codewitness.capture.journal import Journal

AGENTS = ("claude", "cursor", "codex", "gemini")
EVENTS = (
    "PreToolUse",
    "PostToolUse",
    "UserPromptSubmit",
    "afterFileEdit",
    "afterTabFileEdit",
    "beforeSubmitPrompt",
    "BeforeTool",
    "AfterTool",
    "BeforeAgent",
    "Stop",
)
TOOLS = ("Write", "Edit", "MultiEdit", "apply_patch", "write_file", "replace", "Bash")
PATHS = (
    "{root}/src/agent.py",
    "src/agent.py",
    "{root}/human.py",
    "human.py",
    "../outside.py",
    "/etc/hostname",
    "{root}/bin.dat",
    "",
    "{root}/.git/config",
    "{root}/src/new.py",
    "{root}/src/../human.py",
)
AGENT_TEXT = "def f(x):\n    return x\n\n\nVALUE = 1\n"
HUMAN_TEXT = "# written by a person\nA = 1\nB = 2\n"

texts = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
_lines = st.lists(st.sampled_from(["def f(x):", "    return x", "", "VALUE = 1", "A = 1", "new", "x"]), max_size=6)
lines = _lines
scalars = st.one_of(st.none(), st.booleans(), st.integers(-3, 12), texts)
patch_hunks = st.lists(
    st.fixed_dictionaries(
        {
            "oldStart": st.integers(-1, 8),
            "oldLines": st.integers(0, 6),
            "newStart": st.integers(-1, 8),
            "newLines": st.integers(0, 6),
            "lines": st.lists(
                st.builds(
                    lambda m, t: m + t,
                    st.sampled_from([" ", "-", "+", "?"]),
                    st.sampled_from(["def f(x):", "    return x", "", "VALUE = 1", "new", "x"]),
                ),
                max_size=8,
            ),
        }
    ),
    max_size=3,
)
edit_lists = st.lists(
    st.fixed_dictionaries(
        {
            "old_string": st.one_of(texts, st.sampled_from(["    return x", ""])),
            "new_string": st.one_of(texts, lines.map("\n".join)),
        },
        optional={"range": st.fixed_dictionaries({"start_line_number": scalars, "end_line_number": scalars})},
    ),
    max_size=3,
)
tool_inputs = st.fixed_dictionaries(
    {},
    optional={
        "file_path": st.sampled_from(PATHS),
        "content": st.one_of(texts, lines.map("\n".join)),
        "old_string": texts,
        "new_string": st.one_of(texts, lines.map("\n".join)),
        "edits": st.one_of(edit_lists, scalars),
        "command": st.one_of(
            texts,
            st.builds(
                lambda path, body: (
                    f"*** Begin Patch\n*** Update File: {path}\n@@\n" + "\n".join(body) + "\n*** End Patch"
                ),
                st.sampled_from(PATHS),
                st.lists(st.sampled_from(["+new", "-    return x", "+x", " def f(x):"]), max_size=4),
            ),
        ),
    },
)
payloads = st.fixed_dictionaries(
    {"hook_event_name": st.one_of(st.sampled_from(EVENTS), scalars)},
    optional={
        "tool_name": st.one_of(st.sampled_from(TOOLS), scalars),
        "tool_input": st.one_of(tool_inputs, scalars),
        "tool_response": st.one_of(
            st.fixed_dictionaries(
                {},
                optional={
                    "structuredPatch": st.one_of(patch_hunks, scalars),
                    "originalFile": st.one_of(st.none(), texts),
                    "type": texts,
                },
            ),
            scalars,
        ),
        "tool_use_id": st.one_of(st.sampled_from(["t1", "t2"]), scalars),
        "session_id": st.one_of(st.sampled_from(["s1"]), scalars),
        "conversation_id": st.one_of(st.sampled_from(["c1"]), scalars),
        "generation_id": st.one_of(st.sampled_from(["g1"]), scalars),
        "cwd": st.sampled_from(["{root}", "{root}/src", "/", ""]),
        "workspace_roots": st.one_of(st.just(["{root}"]), scalars),
        "file_path": st.sampled_from(PATHS),
        "edits": st.one_of(edit_lists, scalars),
        "model": st.one_of(texts, scalars),
        "prompt": st.one_of(texts, scalars),
        "transcript_path": st.sampled_from(["{root}/missing.jsonl", "{root}/human.py", "/dev/null"]),
    },
)


def _near_valid(event_pre: bool, written: str = "") -> st.SearchStrategy[tuple[str, str]]:
    """Payloads with the right shape for one agent and fuzzed contents (sometimes the text written)."""
    path = st.sampled_from((*PATHS[:4], "{root}/src/new.py"))
    lines = _lines.map("\n".join) | st.just(written)
    claude = st.fixed_dictionaries(
        {
            "hook_event_name": st.just("PreToolUse" if event_pre else "PostToolUse"),
            "tool_name": st.sampled_from(["Write", "Edit", "MultiEdit"]),
            "tool_use_id": st.sampled_from(["t1", "t2"]),
            "session_id": st.just("s1"),
            "cwd": st.just("{root}"),
            "tool_input": st.fixed_dictionaries(
                {"file_path": path, "content": lines, "old_string": texts, "new_string": lines, "edits": edit_lists}
            ),
            "tool_response": st.fixed_dictionaries({"structuredPatch": patch_hunks}),
        }
    ).map(lambda p: ("claude", json.dumps(p)))
    cursor = st.fixed_dictionaries(
        {
            "hook_event_name": st.sampled_from(["afterFileEdit", "afterTabFileEdit"]),
            "conversation_id": st.just("c1"),
            "workspace_roots": st.just(["{root}"]),
            "file_path": path,
            "edits": edit_lists,
        }
    ).map(lambda p: ("cursor", json.dumps(p)))
    codex = st.builds(
        lambda file, body: {
            "hook_event_name": "PreToolUse" if event_pre else "PostToolUse",
            "tool_name": "apply_patch",
            "tool_use_id": "t1",
            "session_id": "s1",
            "cwd": "{root}",
            "model": "m",
            "tool_input": {"command": f"*** Begin Patch\n*** Update File: {file}\n@@\n" + "\n".join(body)},
        },
        path,
        st.lists(st.sampled_from(["+new", "-    return x", "+x", " def f(x):", "+VALUE = 1"]), max_size=4),
    ).map(lambda p: ("codex", json.dumps(p)))
    gemini = st.fixed_dictionaries(
        {
            "hook_event_name": st.just("BeforeTool" if event_pre else "AfterTool"),
            "tool_name": st.sampled_from(["write_file", "replace"]),
            "session_id": st.just("s1"),
            "cwd": st.just("{root}"),
            "tool_input": st.fixed_dictionaries(
                {"file_path": path, "content": lines, "old_string": texts, "new_string": lines}
            ),
        }
    ).map(lambda p: ("gemini", json.dumps(p)))
    return st.one_of(claude, cursor, codex, gemini)


inputs = st.one_of(
    payloads.map(json.dumps),
    st.binary(max_size=64).map(lambda b: b.decode("latin-1")),
    st.sampled_from(["", "[]", "null", "{", '"text"', "1e999"]),
)


def _fill(text: str, root: Path) -> str:
    return text.replace("{root}", json.dumps(str(root))[1:-1])


def _make_repo(base: Path) -> Path:
    root = base / "repo"
    root.mkdir()
    (root / "src").mkdir()
    (root / "src/agent.py").write_text(AGENT_TEXT, "utf-8")
    (root / "human.py").write_text(HUMAN_TEXT, "utf-8")
    (root / "bin.dat").write_bytes(b"\x00\x01binary\x00")
    for args in (
        ["init", "-q", "-b", "main"],
        ["config", "user.name", "T"],
        ["config", "user.email", "t@example.com"],
        ["add", "-A"],
        ["commit", "-q", "-m", "base"],
    ):
        subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)
    return root


def _run(agent: str, data: str, root: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data.encode("utf-8", "surrogatepass")), "utf-8"))
    monkeypatch.chdir(root)
    return hook.main([agent])


def _snapshot(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and not p.relative_to(root).as_posix().startswith((".git/", ".codewitness/"))
    }


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    calls=st.lists(st.one_of(st.tuples(st.sampled_from(AGENTS), inputs), _near_valid(True)), max_size=4),
    change=st.one_of(st.none(), lines),
    data=st.data(),
)
def test_fuzzed_payloads(
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    calls: list[tuple[str, str]],
    change: list[str] | None,
    data: st.DataObject,
) -> None:
    written = "\n".join(change or [])
    final = data.draw(st.one_of(st.tuples(st.sampled_from(AGENTS), inputs), _near_valid(False, written)))
    root = _make_repo(tmp_path_factory.mktemp("fuzz"))
    original = _snapshot(root)
    for agent, data in calls:
        assert _run(agent, _fill(data, root), root, monkeypatch) == 0
        assert _snapshot(root) == original  # the hook never writes into the work tree
    if change is not None:  # "the agent" really changes src/agent.py, then reports (fuzzed)
        (root / "src/agent.py").write_text("\n".join(change) + "\n", "utf-8")
    assert _run(final[0], _fill(final[1], root), root, monkeypatch) == 0

    new_agent = split_lines((root / "src/agent.py").read_text("utf-8"))
    changed = {
        line for a, b in added_ranges(diff_hunks(split_lines(AGENT_TEXT), new_agent)) for line in range(a, b + 1)
    }
    with Journal.open(root / ".codewitness") as journal:
        edits = journal.edits()
        event(f"captured edits: {min(len(edits), 1)}")
        # Only the file that really changed can have AI lines, and only on lines that changed.
        for edit in edits:
            assert edit.path == "src/agent.py"
            assert {line for a, b in edit.ai_lines for line in range(a, b + 1)} <= changed
        subprocess.run(["git", "add", "-A", "src", "human.py"], cwd=root, check=True, capture_output=True)
        (root / "human.py").write_text(HUMAN_TEXT + "C = 3\n", "utf-8")
        subprocess.run(["git", "add", "human.py"], cwd=root, check=True, capture_output=True)
        subprocess.run(["git", "commit", "-q", "--allow-empty", "-m", "c"], cwd=root, check=True, capture_output=True)
        note = label_commit(root, "HEAD", journal).note
    assert all(entry.origin == "human" for entry in note.files.get("human.py", ()))
    for entry in note.files.get("src/agent.py", ()):
        if entry.origin == "ai":
            assert {line for a, b in entry.spans for line in range(a, b + 1)} <= changed


PRE_POST = {
    "claude": ("PreToolUse", "PostToolUse", {"tool_name": "Write", "tool_use_id": "t1", "session_id": "s1"}),
    "gemini": ("BeforeTool", "AfterTool", {"tool_name": "write_file", "session_id": "s1"}),
}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(agent=st.sampled_from(sorted(PRE_POST)), change=lines, patch=st.one_of(st.none(), patch_hunks))
def test_exact_snapshots_attribute_exactly_the_changed_lines(
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    agent: str,
    change: list[str],
    patch: list[dict[str, Any]] | None,
) -> None:
    root = _make_repo(tmp_path_factory.mktemp("exact"))
    pre, post, fields = PRE_POST[agent]
    text = "\n".join(change) + "\n"
    body = {"cwd": str(root), "tool_input": {"file_path": str(root / "src/agent.py"), "content": text}, **fields}
    assert _run(agent, json.dumps({"hook_event_name": pre, **body}), root, monkeypatch) == 0
    (root / "src/agent.py").write_text(text, "utf-8")
    response = {"tool_response": {"structuredPatch": patch}} if patch is not None else {}
    assert _run(agent, json.dumps({"hook_event_name": post, **body, **response}), root, monkeypatch) == 0
    expected = {
        line
        for a, b in added_ranges(diff_hunks(split_lines(AGENT_TEXT), split_lines(text)))
        for line in range(a, b + 1)
    }
    with Journal.open(root / ".codewitness") as journal:
        got = {line for edit in journal.edits() for a, b in edit.ai_lines for line in range(a, b + 1)}
    if patch is None:
        assert got == expected  # exact before snapshot: every changed line, nothing else
    else:
        assert got <= expected  # a reported patch can only narrow it, and only once it checks out
