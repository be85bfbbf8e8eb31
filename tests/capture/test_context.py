"""Context in the agent's own hooks: before an edit (or on a prompt naming files), the live problems of the file."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from typing import Any

from capture_helpers import Hooks
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.runtime_records import aggregate, breach, exception, ingest

from codewitness.capture.context import files_named, render
from codewitness.store import open_store
from codewitness.views.problems import FunctionProblems

NOW = datetime.now(UTC) - timedelta(minutes=5)


def _fill(hooks: Hooks, *records: dict[str, Any]) -> None:
    with open_store(f"sqlite:///{hooks.root / '.codewitness' / 'witness.db'}") as store:
        ingest(store, list(records))


def _raising(function: str = "src.calc.sub", path: str = "src/calc.py", message: str = "negative total") -> list[dict]:
    exc = exception(function, message, when=NOW, path=path, line=5)
    exc["arguments"] = {"a": 1, "b": 3}
    exc["type"] = "ArithmeticError"
    return [aggregate(function, [1_000] * 10, {"ArithmeticError": 1}, start=NOW, path=path, line=5), exc]


def _context(proc: Any) -> str | None:
    assert proc.returncode == 0, proc.stderr
    if not proc.stdout:
        return None
    document = json.loads(proc.stdout)
    text: str = document["hookSpecificOutput"]["additionalContext"]
    return text


def test_before_an_edit_claude_code_hears_what_fails_in_that_file(hooks: Hooks) -> None:
    _fill(hooks, *_raising(), breach("src.calc.sub", "never_negative", when=NOW, path="src/calc.py"))
    pre = hooks.payload("claude_pre_write.json", TRANSCRIPT="/nowhere.jsonl")
    proc = hooks.run_process("claude", pre)
    document = json.loads(proc.stdout)
    assert document["hookSpecificOutput"]["hookEventName"] == "PreToolUse"
    text = document["hookSpecificOutput"]["additionalContext"]
    assert text.startswith("codewitness: live problems in src/calc.py (last 7d)")
    assert "src.calc.sub (src/calc.py:5; ai; written by gen_1)" in text
    assert "ArithmeticError x1" in text and "negative total" in text and '{"a": 1, "b": 3}' in text
    assert "invariant broken: never_negative x1" in text and '"amount": 1500' in text


def test_nothing_to_say_says_nothing(hooks: Hooks) -> None:
    pre = hooks.payload("claude_pre_write.json", TRANSCRIPT="/nowhere.jsonl")
    assert _context(hooks.run_process("claude", pre)) is None  # no store yet
    _fill(hooks, aggregate("src.calc.add", [1_000] * 10, start=NOW, path="src/calc.py"))
    assert _context(hooks.run_process("claude", pre)) is None  # facts, but no problem
    _fill(hooks, *_raising(path="src/other.py"))
    assert _context(hooks.run_process("claude", pre)) is None  # a problem, in another file
    old = exception("src.calc.sub", "long ago", when=NOW - timedelta(days=30), path="src/calc.py")
    _fill(hooks, old)
    assert _context(hooks.run_process("claude", pre)) is None  # outside capture.context_since


def test_the_context_can_be_turned_off(hooks: Hooks) -> None:
    _fill(hooks, *_raising())
    config = hooks.root / "codewitness.toml"
    config.write_text(config.read_text("utf-8") + "context = false\n", "utf-8")  # under [capture]
    pre = hooks.payload("claude_pre_write.json", TRANSCRIPT="/nowhere.jsonl")
    assert _context(hooks.run_process("claude", pre)) is None
    config.write_text(config.read_text("utf-8").replace("context = false", 'context_since = "30d"'), "utf-8")
    os.utime(config, ns=(1, 1))  # a different modification time, whatever the clock resolution
    assert "negative total" in (_context(hooks.run_process("claude", pre)) or "")


def test_a_prompt_naming_a_file_gets_its_problems(hooks: Hooks) -> None:
    _fill(hooks, *_raising())
    (hooks.root / "src").mkdir(exist_ok=True)
    (hooks.root / "src" / "calc.py").write_text("def sub(a, b):\n    return a - b\n", "utf-8")
    prompt = {
        "session_id": "s1",
        "transcript_path": "/nowhere.jsonl",
        "cwd": str(hooks.root),
        "hook_event_name": "UserPromptSubmit",
        "prompt": "Why does src/calc.py fail? Also look at missing.py",
    }
    proc = hooks.run_process("claude", prompt)
    assert json.loads(proc.stdout)["hookSpecificOutput"]["hookEventName"] == "UserPromptSubmit"
    assert "negative total" in (_context(proc) or "")
    gemini = hooks.payload("gemini_before_agent.json", TRANSCRIPT="/nowhere.json")
    gemini["prompt"] = "fix the subtraction in src/calc.py"
    proc = hooks.run_process("gemini", gemini)
    assert json.loads(proc.stdout)["hookSpecificOutput"]["hookEventName"] == "BeforeAgent"
    assert "src.calc.sub" in (_context(proc) or "")
    codex = hooks.payload("codex_user_prompt_submit.json")
    codex["prompt"] = "src/calc.py: make sub safe"
    assert "src.calc.sub" in (_context(hooks.run_process("codex", codex)) or "")
    codex["prompt"] = "make sub safe"  # names no file
    assert _context(hooks.run_process("codex", codex)) is None


def test_codex_before_a_patch_and_cursor_never(hooks: Hooks) -> None:
    _fill(hooks, *_raising(function="src.app.parse_port", path="src/app.py"))
    proc = hooks.run_process("codex", hooks.payload("codex_pre_apply_patch.json"))
    assert "src.app.parse_port" in (_context(proc) or "")
    # Cursor has no hook before an edit, and its prompt hook cannot add context.
    cursor = hooks.payload("cursor_before_submit_prompt.json")
    cursor["prompt"] = "fix src/app.py"
    assert hooks.run_process("cursor", cursor).stdout == b""


def test_a_broken_store_gives_no_context_and_never_fails_the_agent(hooks: Hooks) -> None:
    folder = hooks.root / ".codewitness"
    folder.mkdir(exist_ok=True)
    (folder / "witness.db").write_bytes(b"garbage" * 1000)
    proc = hooks.run_process("claude", hooks.payload("claude_pre_write.json", TRANSCRIPT="/nowhere.jsonl"))
    assert proc.returncode == 0 and proc.stdout == b""
    assert (folder / "witness.db").read_bytes() == b"garbage" * 1000


def test_the_answer_stays_within_its_budget(hooks: Hooks) -> None:
    records = []
    for i in range(40):
        records += _raising(function=f"src.calc.f{i}", message="x" * 300)
    _fill(hooks, *records)
    config = hooks.root / "codewitness.toml"
    config.write_text(config.read_text("utf-8") + "context_chars = 900\n", "utf-8")  # under [capture]
    text = _context(hooks.run_process("claude", hooks.payload("claude_pre_write.json", TRANSCRIPT="/x.jsonl")))
    assert text is not None and len(text) <= 900
    assert "more functions: ask the codewitness MCP server" in text


def test_files_named_in_a_prompt(tmp_path: Any) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "calc.py").write_text("", "utf-8")
    (tmp_path / "top.py").write_text("", "utf-8")
    prompt = "look at app/calc.py, top.py and ../outside.py, not nothere.py or app/calc.pyc"
    assert files_named(str(tmp_path), prompt) == ["app/calc.py", "top.py"]


_problem = st.builds(
    FunctionProblems,
    function=st.text(min_size=1, max_size=80),
    path=st.text(max_size=60),
    line=st.integers(1, 10_000),
    origin=st.sampled_from(["ai", "mixed", "human"]),
    ai_share=st.floats(0, 1),
    generation_ids=st.lists(st.text(max_size=30), max_size=3).map(tuple),
    models=st.just(()),
    exception_types=st.dictionaries(st.text(min_size=1, max_size=40), st.integers(1, 10**6), max_size=3),
)


@settings(max_examples=150, deadline=None)
@given(found=st.lists(_problem, min_size=1, max_size=30), budget=st.integers(200, 3000))
def test_render_never_exceeds_its_budget(found: list[FunctionProblems], budget: int) -> None:
    text = render(found, {}, ["a.py"], "7d", budget)
    assert len(text) <= budget
    assert text.startswith("codewitness: live problems in a.py")


_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(value=_values)
def test_the_hooks_json_text_is_what_json_writes(value: Any) -> None:
    from codewitness.capture._lean import dumps

    assert dumps(value) == json.dumps(value, ensure_ascii=False)


def test_a_file_with_more_intervals_than_a_hook_reads_gets_its_events_alone(hooks: Hooks) -> None:
    from codewitness.capture import claude
    from codewitness.capture.context import context_for

    # add() failed more at r2 (2,000 intervals to sum); sub() raised once.
    start = NOW - timedelta(days=1)
    intervals = [
        aggregate(
            "src.calc.add",
            [1_000] * 10,
            {"ValueError": 1} if k >= 1_000 else None,
            start=start + timedelta(seconds=10 * k),
            revision="r2" if k >= 1_000 else "r1",
            path="src/calc.py",
        )
        for k in range(2_000)
    ]
    _fill(hooks, *intervals, *_raising())
    parsed = claude.parse(hooks.payload("claude_pre_write.json", TRANSCRIPT="/nowhere.jsonl"))
    url = f"sqlite:///{hooks.root / '.codewitness' / 'witness.db'}"
    settings = {"database": url, "context_since": "7d", "context_chars": 1500}
    whole = context_for(str(hooks.root), parsed, settings)
    assert whole is not None and "regression at r2: error rate 10.0% (was 0.0% at r1)" in whole
    assert "negative total" in whole and "not read" not in whole
    # Summing 2,000 intervals takes some 34,000 instructions: with fewer, the events alone, and a word why.
    short = context_for(str(hooks.root), parsed, settings, steps=20_000)
    assert short is not None and "negative total" in short and "src.calc.add" not in short
    assert short.startswith("codewitness: live problems in src/calc.py (last 7d; regressions and slowdowns not read")
