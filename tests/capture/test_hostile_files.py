"""Hostile and careless files under the hook: links to devices, FIFOs, links out of the repository,
truncated JSON. Every case runs the real hook entry point as its own process with a timeout,
exactly as an agent runs it; a hung hook fails the test instead of hanging the suite.
"""

from __future__ import annotations

import json
import os
import resource
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from capture_helpers import Hooks

from codewitness.capture.journal import Journal

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs and /dev/zero are POSIX")

SECRET = "AKIA-outside-the-repo-7f3e"
HOOK_TIMEOUT = 30


def _limit_memory() -> None:
    # A hook reading /dev/zero without a bound would eat all memory before the timeout.
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


def _start(root: Path, payload: dict[str, Any] | bytes) -> subprocess.Popen[bytes]:
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode("utf-8")
    proc = subprocess.Popen(
        [sys.executable, "-m", "codewitness.capture.hook", "claude"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=root,
        preexec_fn=_limit_memory,
    )
    assert proc.stdin is not None
    proc.stdin.write(data)
    proc.stdin.close()
    return proc


def _hook(root: Path, payload: dict[str, Any] | bytes) -> float:
    """Run the hook to completion (or fail the test after HOOK_TIMEOUT); returns its seconds."""
    began = time.monotonic()
    proc = _start(root, payload)
    try:
        assert proc.wait(timeout=HOOK_TIMEOUT) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return time.monotonic() - began


def _pre(root: Path, path: str, key: str = "toolu_pre") -> dict[str, Any]:
    return {
        "session_id": "s1",
        "cwd": str(root),
        "hook_event_name": "PreToolUse",
        "tool_name": "Write",
        "tool_use_id": key,
        "tool_input": {"file_path": path, "content": "x = 1\n"},
    }


def _post(root: Path, path: str, content: str = "x = 1\n", key: str = "toolu_post", **extra: Any) -> dict[str, Any]:
    return {
        "session_id": "s1",
        "cwd": str(root),
        "hook_event_name": "PostToolUse",
        "tool_name": "Write",
        "tool_use_id": key,
        "tool_input": {"file_path": path, "content": content},
        "tool_response": {"type": "create", "originalFile": None},
        **extra,
    }


def _edits(root: Path) -> list[Any]:
    with Journal.open(root / ".codewitness") as journal:
        return journal.edits()


def _stored_bytes(root: Path) -> bytes:
    folder = root / ".codewitness"
    return b"".join(p.read_bytes() for p in folder.glob("pending.db*"))


def test_a_link_to_dev_zero_is_refused_at_once(hooks: Hooks) -> None:
    (hooks.root / "zero.py").symlink_to("/dev/zero")
    _hook(hooks.root, _pre(hooks.root, "zero.py"))
    _hook(hooks.root, _post(hooks.root, "zero.py"))
    log = hooks.log()
    assert log.count("zero.py: a symbolic link to a file outside the repository") == 2, log
    assert "error" not in log
    assert _edits(hooks.root) == []


def test_a_fifo_is_refused_without_waiting_for_a_writer(hooks: Hooks) -> None:
    os.mkfifo(hooks.root / "pipe.py")
    (hooks.root / "via-link.py").symlink_to("pipe.py")
    for name in ("pipe.py", "via-link.py"):
        _hook(hooks.root, _pre(hooks.root, name))
        _hook(hooks.root, _post(hooks.root, name))
    log = hooks.log()
    assert log.count("pipe.py: not a regular file") == 4, log  # the link is read as the FIFO it names
    assert _edits(hooks.root) == []


def test_a_later_hook_keeps_its_capture_while_a_fifo_hook_runs(hooks: Hooks) -> None:
    os.mkfifo(hooks.root / "pipe.py")
    stuck = _start(hooks.root, _post(hooks.root, "pipe.py", key="toolu_fifo"))
    try:
        time.sleep(0.5)  # let it reach the FIFO first
        (hooks.root / "good.py").write_text("def good():\n    return 1\n", "utf-8")
        _hook(hooks.root, _post(hooks.root, "good.py", "def good():\n    return 1\n"))
        assert [e.path for e in _edits(hooks.root)] == ["good.py"], hooks.log()
        assert stuck.wait(timeout=HOOK_TIMEOUT) == 0
    finally:
        if stuck.poll() is None:
            stuck.kill()
            stuck.wait()


def test_text_outside_the_repository_is_never_stored(hooks: Hooks, tmp_path: Path) -> None:
    outside = tmp_path / "private"
    outside.mkdir()
    (outside / "creds.py").write_text(f"KEY = '{SECRET}'\n", "utf-8")
    (hooks.root / "creds.py").symlink_to(outside / "creds.py")
    (hooks.root / "vendor").symlink_to(outside, target_is_directory=True)
    for name in ("creds.py", "vendor/creds.py", str(hooks.root / "vendor" / "creds.py")):
        _hook(hooks.root, _pre(hooks.root, name))
        _hook(hooks.root, _post(hooks.root, name, f"KEY = '{SECRET}'\n"))
    assert _edits(hooks.root) == []
    assert SECRET.encode() not in _stored_bytes(hooks.root)
    with closing(sqlite3.connect(hooks.root / ".codewitness" / "pending.db")) as conn:
        assert conn.execute("SELECT count(*) FROM snapshots").fetchone()[0] == 0
    assert hooks.log().count("a symbolic link to a file outside the repository") == 6


def test_an_edit_through_a_link_inside_the_repository_is_the_target_s(hooks: Hooks) -> None:
    (hooks.root / "src").mkdir()
    (hooks.root / "alias.py").symlink_to("src/real.py")
    _hook(hooks.root, _pre(hooks.root, "alias.py"))
    (hooks.root / "src" / "real.py").write_text("def f():\n    return 2\n", "utf-8")
    _hook(hooks.root, _post(hooks.root, "alias.py", "def f():\n    return 2\n", key="toolu_pre"))
    edits = _edits(hooks.root)
    assert [(e.path, e.before, e.ai_lines) for e in edits] == [("src/real.py", None, ((1, 2),))], hooks.log()


def test_a_truncated_payload_gets_a_clear_one_line_message(hooks: Hooks) -> None:
    # Python 3.11's C scanner failed here with "SystemError ... returned NULL" (json.decoder is
    # never imported on the hook's fast path); a fresh process is the only place this shows.
    whole = json.dumps(_post(hooks.root, "a.py")).encode()
    cut = whole[: whole.index(b"a.py") + 2]
    _hook(hooks.root, cut)
    _hook(hooks.root, b'{"hook_event_name": "PostToolUse", "tool_input": {"file_path": "x\\')
    lines = [line for line in hooks.log().splitlines() if " claude: " in line]
    assert len(lines) == 2, lines
    assert all("claude: ignored payload: invalid JSON at position" in line for line in lines), lines
    assert "Unterminated string" in lines[0]
    assert "SystemError" not in hooks.log()


def test_a_transcript_whose_last_line_is_being_written_still_gives_the_model(hooks: Hooks, tmp_path: Path) -> None:
    key = "toolu_01Truncated"
    transcript = tmp_path / "session.jsonl"
    entries = [
        {"type": "user", "message": {"role": "user", "content": "add a helper"}},
        {
            "type": "assistant",
            "message": {
                "role": "assistant",
                "model": "claude-opus-4-5-20251101",
                "content": [{"type": "tool_use", "id": key, "name": "Write", "input": {}}],
            },
        },
    ]
    done = "File created successfully at: helper.py"
    result = {"type": "tool_result", "tool_use_id": key, "content": done}
    line = json.dumps({"type": "user", "message": {"role": "user", "content": [result]}})
    partial = line[: line.index(done) + 10]  # the agent is still writing this line: cut inside a string
    transcript.write_text("".join(json.dumps(e) + "\n" for e in entries) + partial, "utf-8")
    # The PreToolUse hook first, as Claude Code runs it: it also leaves the hook's settings cache,
    # so the next hook never imports json (whose import hid the 3.11 scanner's SystemError).
    _hook(hooks.root, _pre(hooks.root, "helper.py", key=key))
    assert (hooks.root / ".codewitness" / "hook-settings.json").exists()
    (hooks.root / "helper.py").write_text("def helper():\n    return 3\n", "utf-8")
    payload = _post(hooks.root, "helper.py", "def helper():\n    return 3\n", key=key, transcript_path=str(transcript))
    _hook(hooks.root, payload)
    edits = _edits(hooks.root)
    expected = [("helper.py", "claude-opus-4-5-20251101", "add a helper")]
    assert [(e.path, e.model, e.prompt) for e in edits] == expected, hooks.log()


@pytest.mark.parametrize("kind", ["fifo", "dev-zero"])
def test_a_hostile_transcript_path_is_not_waited_on(hooks: Hooks, tmp_path: Path, kind: str) -> None:
    transcript = tmp_path / "session.jsonl"
    if kind == "fifo":
        os.mkfifo(transcript)
    else:
        transcript.symlink_to("/dev/zero")
    (hooks.root / "t.py").write_text("T = 1\n", "utf-8")
    _hook(hooks.root, _post(hooks.root, "t.py", "T = 1\n", transcript_path=str(transcript)))
    assert [(e.path, e.model) for e in _edits(hooks.root)] == [("t.py", None)], hooks.log()


def _run_limited(args: list[str], root: Path) -> tuple[int, bytes]:
    """Run ``args`` in its own process group; on timeout the whole group (git's hooks too) is
    killed and the test fails. Returns the exit code and stderr."""
    proc = subprocess.Popen(
        args,
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        preexec_fn=_limit_memory,
        start_new_session=True,
    )
    try:
        _out, err = proc.communicate(timeout=HOOK_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        proc.communicate()
        raise
    return proc.returncode, err


@pytest.mark.parametrize("kind", ["fifo", "dev-zero"])
def test_commit_and_status_do_not_hang_on_a_captured_file_that_became_hostile(
    hooks: Hooks, installed: Any, kind: str
) -> None:
    (hooks.root / "good.py").write_text("def good():\n    return 1\n", "utf-8")
    _hook(hooks.root, _post(hooks.root, "good.py", "def good():\n    return 1\n"))
    assert [e.path for e in _edits(hooks.root)] == ["good.py"]
    (hooks.root / "good.py").unlink()
    if kind == "fifo":
        os.mkfifo(hooks.root / "good.py")  # git cannot add it: it stays a pending path in the work tree
    else:
        (hooks.root / "good.py").symlink_to("/dev/zero")
    (hooks.root / "other.txt").write_text("other\n", "utf-8")
    installed.git("add", "other.txt")
    # The post-commit hook (installed for real) reads the pending paths: it must finish.
    code, err = _run_limited(["git", "commit", "-q", "-m", "other"], hooks.root)
    assert code == 0, err
    assert "git post-commit:" in hooks.log().splitlines()[-1], hooks.log()
    code, err = _run_limited([sys.executable, "-m", "codewitness", "status"], hooks.root)
    assert code == 0, err
    assert b"Traceback" not in err


def test_links_planted_in_the_codewitness_folder_are_never_written_through(hooks: Hooks, tmp_path: Path) -> None:
    # A repository can carry .codewitness/ entries of its own (committed by force): links there
    # must not make the hook write, or SQLite create a database, anywhere else.
    folder = hooks.root / ".codewitness"
    victims = {name: tmp_path / f"victim-{name}" for name in ("log", "hook-settings.json")}
    for name, victim in victims.items():
        victim.write_text("untouched\n", "utf-8")
        (folder / name).unlink(missing_ok=True)
        (folder / name).symlink_to(victim)
    for leftover in folder.glob("pending.db*"):
        leftover.unlink()
    (folder / "pending.db").symlink_to(tmp_path / "victim.db")
    (hooks.root / "a.py").write_text("A = 1\n", "utf-8")
    _hook(hooks.root, _post(hooks.root, "a.py", "A = 1\n"))
    _hook(hooks.root, b"{not json")
    after = {name: victim.read_text("utf-8") for name, victim in victims.items()}
    assert after == dict.fromkeys(victims, "untouched\n")
    assert not (tmp_path / "victim.db").exists()
