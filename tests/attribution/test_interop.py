"""git-ai notes and Agent Trace records: parsing, writing, round trips, and import/export in git."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codewitness.attribution import agenttrace, gitai
from codewitness.attribution.blame import IMPORT_REF, line_origins
from codewitness.attribution.interop import export_agent_trace, export_gitai, import_agent_trace, import_gitai
from codewitness.attribution.notes import CommitNote, NoteEntry, NoteError, compact_lines, parse_note
from codewitness.errors import InputError

from .conftest import Repo, lines

SPEC_EXAMPLE = """src/main.rs
  s_c9883b05a2487d::t_9f8e7d6c5b4a32 1-10,15-20
  s_c9883b05a2487d::t_a1b2c3d4e5f678 25,30-35
  h_31dce776f88375 42-50
src/lib.rs
  s_e7f2a90b31cc48::t_deadbeef012345 1-50
---
{
  "schema_version": "authorship/3.0.0",
  "git_ai_version": "1.4.5",
  "base_commit_sha": "7734793b756b3921c88db5375a8c156e9532447b",
  "prompts": {},
  "humans": {"h_31dce776f88375": {"author": "Developer <dev@example.com>"}},
  "sessions": {
    "s_c9883b05a2487d": {"agent_id": {"tool": "cursor", "id": "6ef2", "model": "claude-sonnet-4-5"}},
    "s_e7f2a90b31cc48": {"agent_id": {"tool": "claude", "id": "conv_abc", "model": "claude-sonnet-4-5"}}
  }
}
"""

LEGACY_EXAMPLE = """src/a.ts
  1612649c4bf0b88e 1-6
---
{"schema_version": "authorship/3.0.0", "prompts": {"1612649c4bf0b88e":
 {"agent_id": {"tool": "claude", "id": "9b4e", "model": "claude-opus-4-6"}, "total_additions": 6}}}
"""


def test_gitai_spec_example() -> None:
    note = gitai.to_commit_note(gitai.parse_gitai(SPEC_EXAMPLE))
    main = note.files["src/main.rs"]
    assert [(e.origin, e.spans, e.agent) for e in main] == [
        ("ai", ((1, 10), (15, 20)), "cursor"),
        ("ai", ((25, 25), (30, 35)), "cursor"),
        ("human", ((42, 50),), None),
    ]
    lib = note.entry_for("src/lib.rs", 50)
    assert lib is not None and (lib.agent, lib.model, lib.session_id) == (
        "claude-code",
        "claude-sonnet-4-5",
        "conv_abc",
    )
    assert note.entry_for("src/main.rs", 12) is None  # untracked: not AI


def test_gitai_legacy_prompt_keys() -> None:
    entry = gitai.to_commit_note(gitai.parse_gitai(LEGACY_EXAMPLE)).entry_for("src/a.ts", 3)
    assert entry is not None and (entry.origin, entry.model) == ("ai", "claude-opus-4-6")


def test_gitai_empty_attestation_section() -> None:
    note = gitai.parse_gitai('---\n{"schema_version": "authorship/3.0.0", "sessions": {}}')
    assert gitai.to_commit_note(note).files == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a.py\n  s_x 1\n", "no '---'"),
        ("a.py\n---\n{oops", "not valid JSON"),
        ('---\n{"schema_version": "authorship/9.0.0"}', "not supported"),
        ('  s_0123456789abcd 1\n---\n{"schema_version": "authorship/3.0.0"}', "before any file"),
        ('a.py\n  s_0123456789abcd\n---\n{"schema_version": "authorship/3.0.0"}', "no line ranges"),
        ('a.py\n  s_0123456789abcd 1-x\n---\n{"schema_version": "authorship/3.0.0"}', "invalid literal"),
        ('a.py\n  s_0123456789abcd 0-3\n---\n{"schema_version": "authorship/3.0.0"}', "bad line range"),
        ('a.py\n  s_0123\x01 1\n---\n{"schema_version": "authorship/3.0.0"}', "is not a key"),
        ('a.py\n  h_0123456789abcd 1\n---\n{"schema_version": "authorship/3.0.0", "humans": ["x"]}', "not an object"),
        ("a.py\n  h_0123456789abcd 1\n--- \n{}", "no '---'"),
        ('a.py\n  h_0123456789abcd 5-2\n---\n{"schema_version": "authorship/3.0.0"}', "bad line range"),
        ("---\n[1]", "not a JSON object"),
    ],
)
def test_gitai_corrupt_notes(text: str, message: str) -> None:
    with pytest.raises(NoteError, match=message):
        gitai.parse_gitai(text)


# -- generated notes ----------------------------------------------------------------------------

_paths = st.from_regex(r"[a-z][a-z0-9_/]{0,12}\.py", fullmatch=True) | st.sampled_from(
    ["has space.py", 'q"uote.py', "dir/ü.py"]
)
_line_sets = st.sets(st.integers(min_value=1, max_value=400), min_size=1, max_size=30)
_names = st.none() | st.text(alphabet="abcdefghijklmnop-_.0123456789", min_size=1, max_size=12)


@st.composite
def commit_notes(draw: st.DrawFn, origins: tuple[str, ...] = ("ai", "human", "mixed", "unknown")) -> CommitNote:
    files: dict[str, tuple[NoteEntry, ...]] = {}
    for path in draw(st.lists(_paths, min_size=0, max_size=4, unique=True)):
        used: set[int] = set()
        entries = []
        for _ in range(draw(st.integers(min_value=1, max_value=3))):
            chosen = draw(_line_sets) - used
            if not chosen:
                continue
            used |= chosen
            origin = draw(st.sampled_from(origins))
            entries.append(
                NoteEntry(
                    origin,  # type: ignore[arg-type]
                    compact_lines(chosen),
                    tuple(draw(st.lists(st.from_regex(r"gen_[0-9a-f]{20}", fullmatch=True), max_size=2))),
                    agent=draw(st.sampled_from([None, "claude-code", "cursor", "codex", "gemini-cli"])),
                    model=draw(_names),
                    session_id=draw(_names),
                )
            )
        if entries:
            files[path] = tuple(entries)
    return CommitNote(files=files)


def _gitai_view(
    note: CommitNote,
) -> dict[str, list[tuple[str, tuple[tuple[int, int], ...], object, object, object]]]:
    """What git-ai can carry of a note: ai (mixed counts as ai) with agent/model/session; human lines."""
    view: dict[str, list[tuple[str, tuple[tuple[int, int], ...], object, object, object]]] = {}
    for path, entries in note.files.items():
        for e in entries:
            if e.origin in ("ai", "mixed"):
                view.setdefault(path, []).append(("ai", e.spans, e.agent, e.model, e.session_id))
            elif e.origin == "human":
                view.setdefault(path, []).append(("human", e.spans, None, None, None))
    return view


@settings(max_examples=80, deadline=None)
@given(commit_notes())
def test_gitai_round_trip_keeps_what_gitai_can_carry(note: CommitNote) -> None:
    text = gitai.from_commit_note(note, base_commit="abc", author="Dana <d@example.com>").to_text()
    parsed = gitai.parse_gitai(text)
    back = gitai.to_commit_note(parsed)
    assert _gitai_view(back) == _gitai_view(note)
    # And the text form itself round-trips exactly.
    assert gitai.parse_gitai(parsed.to_text()) == parsed


@settings(max_examples=80, deadline=None)
@given(commit_notes())
def test_agent_trace_round_trip_is_lossless(note: CommitNote) -> None:
    record = agenttrace.from_commit_note(note, revision="f" * 40)
    parsed = agenttrace.parse_record(record.to_json())
    assert parsed.revision == "f" * 40
    assert agenttrace.to_commit_note(parsed) == note
    # Our notes survive their own JSON form too.
    assert parse_note(note.to_json()) == note


def test_agent_trace_foreign_record() -> None:
    text = json.dumps(
        {
            "version": "0.1",
            "id": "1b4f0b5c-0000-4000-8000-000000000000",
            "timestamp": "2026-01-01T00:00:00Z",
            "vcs": {"type": "git", "revision": "abc"},
            "tool": {"name": "cursor", "version": "2.0"},
            "files": [
                {
                    "path": "a.py",
                    "conversations": [
                        {
                            "url": "https://example.invalid/c/1",
                            "contributor": {"type": "ai", "model_id": "gpt-5"},
                            "ranges": [
                                {"start_line": 1, "end_line": 3},
                                {"start_line": 5, "end_line": 5, "contributor": {"type": "human"}},
                            ],
                        }
                    ],
                }
            ],
        }
    )
    note = agenttrace.to_commit_note(agenttrace.parse_record(text))
    assert [(e.origin, e.spans, e.agent, e.model) for e in note.files["a.py"]] == [
        ("ai", ((1, 3),), "cursor", "gpt-5"),
        ("human", ((5, 5),), None, None),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "not valid JSON"),
        ("[]", "not a JSON object"),
        ('{"version": "2.0"}', "not supported"),
        (
            '{"version": "0.1", "files": [{"path": "a", "conversations": [{"ranges": [{"start_line": 0, '
            '"end_line": 1}]}]}]}',
            "bad range",
        ),
        ('{"version": "0.1", "files": [{"conversations": []}]}', "corrupt Agent Trace"),
        (
            '{"version": "0.1", "files": [{"path": "a", "conversations": [{"contributor": {"type": "robot"}, '
            '"ranges": []}]}]}',
            "unknown contributor",
        ),
    ],
)
def test_agent_trace_bad_records(text: str, message: str) -> None:
    with pytest.raises(NoteError, match=message):
        agenttrace.parse_record(text)


def test_iter_records_counts_bad_lines_and_keeps_good_ones() -> None:
    good = agenttrace.from_commit_note(CommitNote(files={}), revision="a" * 40).to_json()
    items = list(agenttrace.iter_records(f"{good}\nnot json\n\n{good}\n", source="t.jsonl"))
    assert [isinstance(i, NoteError) for i in items] == [False, True, False]
    assert "t.jsonl line 2" in str(items[1])


# -- in git ---------------------------------------------------------------------------------------


def _two_commits(repo: Repo) -> tuple[str, str]:
    repo.write("a.py", lines(4))
    first = repo.commit("one")
    repo.write("b.py", lines(2))
    second = repo.commit("two")
    return first, second


def test_import_agent_trace_from_default_folder(repo: Repo) -> None:
    first, _second = _two_commits(repo)
    note = CommitNote(files={"a.py": (NoteEntry("ai", ((2, 3),), ("gen_x",), agent="codex", model="gpt-5"),)})
    good = agenttrace.from_commit_note(note, revision=first).to_json()
    unknown_rev = agenttrace.from_commit_note(note, revision="0" * 40).to_json()
    repo.write(".agent-trace/traces.jsonl", f"{good}\n{unknown_rev}\n{{broken\n")
    result = import_agent_trace(repo.root)
    assert (result.imported, result.skipped) == (1, 2)
    assert any("not in this repository" in r for r in result.reasons)
    origins = line_origins(repo.root, "a.py")
    assert [(o.kind, o.evidence) for o in origins] == [
        ("human", "import"),
        ("ai", "import"),
        ("ai", "import"),
        ("human", "import"),
    ]
    assert origins[1].generation_ids == ("gen_x",)
    assert repo.git("notes", "--ref", IMPORT_REF, "list").count("\n") == 1


def test_import_agent_trace_without_files_is_an_input_error(repo: Repo) -> None:
    _two_commits(repo)
    with pytest.raises(InputError, match="no Agent Trace files"):
        import_agent_trace(repo.root)


def test_export_then_import_gitai_round_trip_in_git(repo: Repo) -> None:
    first, second = _two_commits(repo)
    repo.note(first, {"a.py": [NoteEntry("ai", ((1, 2),), agent="cursor", model="gpt-5", session_id="s1")]})
    repo.note(second, {"b.py": [NoteEntry("human", ((1, 2),))]})
    result = export_gitai(repo.root)
    assert result.imported == 2
    again = export_gitai(repo.root)
    assert (again.imported, again.skipped) == (0, 2)  # existing git-ai notes are kept
    # The exported git-ai notes are real: the engine reads them when our notes are gone.
    repo.git("update-ref", "-d", "refs/notes/codewitness")
    origins = line_origins(repo.root, "a.py")
    assert [(o.kind, o.evidence, o.agent, o.model) for o in origins[:3]] == [
        ("ai", "import", "cursor", "gpt-5"),
        ("ai", "import", "cursor", "gpt-5"),
        ("human", "import", None, None),
    ]
    imported = import_gitai(repo.root)
    assert imported.imported == 2
    stored = parse_note(repo.git("notes", "--ref", IMPORT_REF, "show", first))
    entry = stored.entry_for("a.py", 1)
    assert (entry.origin, entry.agent, entry.model, entry.session_id) == ("ai", "cursor", "gpt-5", "s1")
    assert stored.entry_for("a.py", 3) is None  # a line the note leaves out is not AI


def test_import_gitai_needs_the_ref(repo: Repo) -> None:
    _two_commits(repo)
    with pytest.raises(InputError, match="no notes ref"):
        import_gitai(repo.root, ref="refs/notes/nothing")


def test_export_agent_trace_records(repo: Repo, tmp_path: Path) -> None:
    first, _ = _two_commits(repo)
    entry = NoteEntry("mixed", ((1, 1),), ("gen_1",), agent="claude-code", model="claude-opus-4-5")
    repo.note(first, {"a.py": [entry]})
    repo.raw_note("refs/notes/codewitness", _, "garbage")
    records, result = export_agent_trace(repo.root)
    assert result.imported == 1 and result.skipped == 1
    assert records[0].revision == first
    assert agenttrace.to_commit_note(records[0]).files["a.py"] == (entry,)
