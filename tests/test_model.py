"""Core records, line ranges, the notes format and agent marks."""

from __future__ import annotations

import itertools
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from codewitness.attribution.notes import (
    CommitNote,
    Delta,
    NoteEntry,
    NoteError,
    compact_lines,
    format_ranges,
    parse_note,
    parse_ranges,
)
from codewitness.attribution.trailers import agent_marks
from codewitness.model import FileRange, Generation, Manifest, ManifestFunction

paths = st.text(st.characters(blacklist_categories=["Cs", "Cc"], blacklist_characters=":\\"), min_size=1).filter(
    lambda p: p.strip("/") != ""
)


@given(paths, st.integers(1, 10**6), st.integers(0, 10**6))
def test_file_range_round_trips_through_text(path: str, start: int, length: int) -> None:
    r = FileRange(path.strip("/"), start, start + length)
    assert FileRange.parse(str(r)) == r


@pytest.mark.parametrize("text", ["a.py", "a.py:", "a.py:0-3", "a.py:5-2", ":1-2", "a.py:x"])
def test_bad_file_ranges_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="bad file range"):
        FileRange.parse(text)


@given(st.sets(st.integers(1, 500)))
def test_compact_then_format_then_parse_keeps_the_lines(lines: set[int]) -> None:
    spans = compact_lines(lines)
    assert {n for a, b in spans for n in range(a, b + 1)} == lines
    assert parse_ranges(format_ranges(spans)) == spans
    assert all(b1 + 1 < a2 for (_, b1), (a2, _) in itertools.pairwise(spans)), "spans are merged"


entries = st.builds(
    NoteEntry,
    origin=st.sampled_from(["ai", "human", "mixed", "unknown"]),
    spans=st.sets(st.integers(1, 300), min_size=1).map(compact_lines),
    generation_ids=st.lists(st.from_regex(r"gen_[0-9a-f]{20}", fullmatch=True), max_size=2).map(tuple),
    agent=st.none() | st.sampled_from(["claude-code", "cursor"]),
    model=st.none() | st.text(max_size=20),
    session_id=st.none() | st.text(max_size=10),
)


@given(st.dictionaries(paths, st.lists(entries, min_size=1, max_size=3).map(tuple), max_size=3), st.integers(0, 99))
def test_notes_round_trip(files: dict[str, tuple[NoteEntry, ...]], n: int) -> None:
    note = CommitNote(files=files, delta=Delta(n, n, 0, 1))
    assert parse_note(note.to_json()) == note


@given(st.text(max_size=200))
def test_any_text_either_parses_or_is_a_note_error(text: str) -> None:
    try:
        parse_note(text)
    except NoteError as exc:
        assert "\n" not in str(exc)


@pytest.mark.parametrize(
    "text",
    [
        '{"schema": "codewitness.note/9", "files": {}}',
        '{"schema": "codewitness.note/1", "files": {"a": [{"lines": "0-2", "origin": "ai"}]}}',
        '{"schema": "codewitness.note/1", "files": {"a": [{"lines": "1", "origin": "robot"}]}}',
        '{"schema": "codewitness.note/1", "files": []}',
        "[]",
    ],
)
def test_corrupt_notes_are_refused(text: str) -> None:
    with pytest.raises(NoteError):
        parse_note(text)


@pytest.mark.parametrize(
    ("message", "author", "agent", "model"),
    [
        ("Fix\n\nCo-Authored-By: Claude <noreply@anthropic.com>\n", "", "claude-code", "Claude"),
        ("Fix\n\nCo-authored-by: Claude Sonnet 4.5 <noreply@anthropic.com>", "", "claude-code", "Claude Sonnet 4.5"),
        ("Fix\n\n🤖 Generated with [Claude Code](https://claude.com/claude-code)\n", "", "claude-code", None),
        ("Fix\n\nCo-authored-by: Codex <noreply@openai.com>", "", "codex", None),
        ("Fix\n\nCo-authored-by: Copilot <175728472+Copilot@users.noreply.github.com>", "", "copilot", None),
        ("Fix", "copilot-swe-agent[bot] <198982749+Copilot@users.noreply.github.com>", "copilot", None),
        ("Fix\n\nCo-authored-by: Cursor <cursoragent@cursor.com>", "", "cursor", None),
        ("Fix\n\nMade-with: Cursor", "", "cursor", None),
        ("aider: fix the bug", "", "aider", None),
        ("Fix", "Dana Developer (aider) <dana@example.com>", "aider", None),
        (
            "Fix\n\nCo-authored-by: aider (anthropic/claude-sonnet-4-5) <noreply@aider.chat>",
            "",
            "aider",
            "anthropic/claude-sonnet-4-5",
        ),
        (
            "Fix",
            "devin-ai-integration[bot] <158243242+devin-ai-integration[bot]@users.noreply.github.com>",
            "devin",
            None,
        ),
        ("Fix\n\nGenerated-by: SomeTool 2", "", "unknown-ai", "SomeTool 2"),
    ],
)
def test_agent_marks(message: str, author: str, agent: str, model: str | None) -> None:
    marks = agent_marks(message, author=author)
    assert [(m.agent, m.model) for m in marks] == [(agent, model)]


def test_human_commits_carry_no_marks() -> None:
    assert agent_marks("Refactor the claude adapter\n\nReviewed-by: Dana <d@example.com>", author="Dana <d@x>") == ()


def test_squash_merges_keep_every_agent() -> None:
    message = (
        "Squash\n\n* one\n\nCo-authored-by: Claude <noreply@anthropic.com>\n\n* two\n\n"
        "Co-authored-by: Cursor <cursoragent@cursor.com>\nGenerated-by: x\n"
    )
    assert sorted(m.agent for m in agent_marks(message)) == ["claude-code", "cursor"]


def test_manifest_round_trip_and_errors() -> None:
    m = Manifest(
        revision="abc",
        functions=(ManifestFunction("shop.pricing", "Cart.total", "shop/pricing.py", 3, 9, 0.75, ("gen_1",), ("m",)),),
    )
    back = Manifest.from_json(m.to_json())
    assert back == m
    assert back.functions[0].name == "shop.pricing.Cart.total"
    for bad in ["{}", "[]", '{"version": 2, "functions": []}', "not json"]:
        with pytest.raises(ValueError, match="manifest"):
            Manifest.from_json(bad)


def test_generation_dict_round_trip() -> None:
    g = Generation.create(agent="api", model="m", prompt="p", output="o", files=(FileRange("a.py", 1, 2),))
    assert Generation.from_dict(g.to_dict()) == g


def test_manifest_keeps_agents_models_and_the_watch_share_and_checks_the_share() -> None:
    function = ManifestFunction(
        "shop.cart", "add", "shop/cart.py", 1, 4, 0.123456, ("gen_1", "gen_2"), ("m1",), ("codex",)
    )
    m = Manifest(revision=None, functions=(function,), watch_min_share=0.333333)
    text = m.to_json()
    data = json.loads(text)
    assert text.startswith('{\n  "version": 1,\n  "revision": null,')  # two-space indent, stable key order
    assert data["watch_min_share"] == 0.3333
    assert data["functions"][0] == {
        "module": "shop.cart",
        "qualname": "add",
        "path": "shop/cart.py",
        "start_line": 1,
        "end_line": 4,
        "ai_share": 0.1235,
        "generation_ids": ["gen_1", "gen_2"],
        "models": ["m1"],
        "agents": ["codex"],
    }
    back = Manifest.from_json(text)
    assert (back.watch_min_share, back.functions[0].agents, back.functions[0].models) == (0.3333, ("codex",), ("m1",))
    # Written before the optional fields existed: empty, and a share of 0 (watch every function).
    del data["watch_min_share"]
    for key in ("generation_ids", "models", "agents"):
        del data["functions"][0][key]
    old = Manifest.from_json(json.dumps(data))
    assert old.watch_min_share == 0.0
    assert (old.functions[0].generation_ids, old.functions[0].models, old.functions[0].agents) == ((), (), ())
    for share, ok in ((0, True), (1, True), (1.0, True), (1.5, False), (-0.1, False), (True, False), ("0.5", False)):
        data["watch_min_share"] = share
        if ok:
            assert Manifest.from_json(json.dumps(data)).watch_min_share == float(share)
        else:
            with pytest.raises(ValueError, match=r"watch_min_share must be a number between 0 and 1, got "):
                Manifest.from_json(json.dumps(data))
    with pytest.raises(ValueError) as info:
        Manifest.from_json('{"version": 1, "functions": [{"module": "m"}]}')
    assert str(info.value) == "not a codewitness manifest (KeyError: 'qualname')"
