"""git-ai notes as each git-ai version wrote them: real notes from git-ai's own repository, in git.

The notes in ``gitai_notes/`` are copied from ``refs/notes/ai`` of github.com/git-ai-project/git-ai
(see the README there); the file contents they describe are not needed, so the repositories built
here hold numbered lines at the notes' paths.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codewitness.attribution import gitai
from codewitness.attribution.blame import Attributor
from codewitness.attribution.gitai import GITAI_REF, KEY_FORMS, key_form, parse_gitai, to_commit_note
from codewitness.attribution.notes import CommitNote, NoteEntry, compact_lines

from .conftest import Repo

NOTES = Path(__file__).parent / "gitai_notes"

Expected = dict[str, dict[int, tuple[str, str | None, str | None] | None]]

#: Per real note: file -> line -> (origin, agent, model), or None for a line the note leaves untracked.
REAL: dict[str, Expected] = {
    "57db10eedb65": {},
    "b5ace55a985f": {
        ".github/workflows/e2e-tests.yml": {1: ("ai", "cursor", "default"), 65: ("ai", "cursor", "default")}
    },
    "4ad175c526ef": {"src/commands/upgrade.rs": {282: ("ai", None, None), 281: None}},
    "fd2f3a7a92a2": {
        "src/authorship/rebase_authorship.rs": {
            191: ("ai", "cursor", "gpt-5-codex"),
            196: ("ai", "cursor", "gpt-5-codex"),
            192: None,
        }
    },
    "9d72694f7924": {
        "src/authorship/stats.rs": {
            99: ("human", None, None),
            100: ("human", None, None),
            101: ("ai", "mock_ai", "unknown"),
            93: ("ai", "mock_ai", "unknown"),
            94: None,
        }
    },
    "e0bebb4fad7d": {"src/utils.rs": {405: ("ai", "mock_ai", "unknown")}},
    "0973b4674f2b": {"src/authorship/mod.rs": {12: ("ai", "claude-code", "claude-opus-4-6"), 11: None}},
    "666923c6cf3d": {"README.md": {230: ("human", None, None)}},
    "576308b4f8a9": {
        "src/commands/hooks/stash_hooks.rs": {141: ("ai", None, None), 144: ("ai", None, None), 142: None},
        "src/commands/hooks/push_hooks.rs": {3: ("ai", None, None)},
    },
    "d3621368def8": {
        "src/authorship/rebase_authorship.rs": {2823: ("ai", None, None), 2930: ("ai", None, None), 2922: None}
    },
    "1f34df811248": {
        "tests/integration/fuzzer/operations.rs": {
            206: ("ai", "claude-code", "claude-opus-4-6"),
            298: ("ai", "claude-code", "claude-opus-4-6"),
            207: None,
        },
        "Taskfile.yml": {129: ("ai", "claude-code", "claude-opus-4-6")},
        "tests/integration/fuzzer/mod.rs": {60: ("ai", "claude-code", "claude-opus-4-6"), 93: None},
    },
    "f0d6d84d92c3": {"AGENTS.md": {235: ("ai", "codex", "gpt-5.6-sol")}},
    "7381fbddfe43": {"hello.txt": {1: ("ai", "test-agent", "test-model")}},
}


def real_note(prefix: str) -> str:
    (found,) = [p for p in NOTES.glob("*.note") if p.name.startswith(prefix)]
    return found.read_text(encoding="utf-8")


def test_every_fixture_is_listed() -> None:
    assert sorted(p.name[:12] for p in NOTES.glob("*.note")) == sorted(REAL)


@pytest.mark.parametrize("prefix", sorted(REAL))
def test_real_notes_of_every_git_ai_version_are_read(prefix: str) -> None:
    note = to_commit_note(parse_gitai(real_note(prefix)))
    assert set(note.files) == set(REAL[prefix])
    for path, expected in REAL[prefix].items():
        for line, want in expected.items():
            entry = note.entry_for(path, line)
            got = None if entry is None else (entry.origin, entry.agent, entry.model)
            assert got == want, (path, line)


def test_overlapping_entries_the_later_one_decides() -> None:
    # Two checkpoints of one session both claim lines 223, 230, ... of operations.rs.
    text = real_note("1f34df811248")
    parsed = parse_gitai(text)
    keyed = parsed.attestations["tests/integration/fuzzer/operations.rs"]
    first, second = (set(_lines(spans)) for _, spans in keyed)
    assert first & second  # the note really overlaps
    entries = to_commit_note(parsed).files["tests/integration/fuzzer/operations.rs"]
    assert len(entries) == 2
    assert set(_lines(entries[1].spans)) == second
    assert set(_lines(entries[0].spans)) == first - second
    assert entries[1].covers(223) and not entries[0].covers(223)


def _lines(spans: tuple[tuple[int, int], ...]) -> list[int]:
    return [n for a, b in spans for n in range(a, b + 1)]


def _attach_exact(repo: Repo, commit: str, text: str) -> None:
    # `git notes add -F` tidies whitespace; a blob keeps the note byte for byte.
    blob = repo.git("hash-object", "-w", "--stdin", input=text).strip()
    repo.git("notes", "--ref", GITAI_REF, "add", "-f", "-C", blob, commit)


@pytest.mark.parametrize("prefix", [p for p in sorted(REAL) if REAL[p]])
def test_real_notes_decide_their_lines_in_git(repo: Repo, prefix: str) -> None:
    expected = REAL[prefix]
    for path, want in expected.items():
        repo.write(path, "".join(f"{prefix} line {n}\n" for n in range(1, max(want) + 2)))
    commit = repo.commit("commit carrying a real git-ai note")
    _attach_exact(repo, commit, real_note(prefix))
    with Attributor(repo.root) as engine:
        for path, want in expected.items():
            lines = engine.attribute_path(path).lines
            for line, origin in want.items():
                got = lines[line - 1].origin
                assert got.evidence == "import", (path, line)
                if origin is None:
                    assert got.kind == "human"  # untracked in a noted commit: not AI
                else:
                    assert (got.kind, got.agent, got.model) == origin, (path, line)
        assert not engine.warnings


# -- generated notes ------------------------------------------------------------------------------

_hex = "0123456789abcdef"
_keys_by_form: dict[str, st.SearchStrategy[str]] = {
    "session": st.builds(
        lambda s, t: f"s_{s}" + (f"::t_{t}" if t else ""),
        st.text(_hex, min_size=1, max_size=20),
        st.none() | st.text(_hex, min_size=1, max_size=20),
    ),
    "known human": st.text(_hex, min_size=1, max_size=20).map(lambda h: f"h_{h}"),
    "prompt (16 hex, v1.0 to v1.3)": st.text(_hex, min_size=16, max_size=16),
    "short prompt (7 hex, before v1.0)": st.text(_hex, min_size=7, max_size=7),
    "prompt keyed by conversation id": st.uuids().map(str),
    "checkpoint kind human": st.just("human"),
    "checkpoint kind ai_agent / ai_tab": st.sampled_from(["ai_agent", "ai_tab"]),
    "other prompt key": st.from_regex(r"[A-Za-z0-9_.:@+-]{1,24}", fullmatch=True).filter(
        lambda k: not any(p.fullmatch(k) for name, p, _ in KEY_FORMS if name != "other prompt key")
    ),
}


def test_every_key_form_has_a_generator() -> None:
    assert set(_keys_by_form) == {name for name, _, _ in KEY_FORMS}


@st.composite
def _notes(draw: st.DrawFn) -> tuple[str, list[tuple[str, str, set[int]]]]:
    """A note text and its entries ``(form, key, lines)`` in order, all on one file."""
    entries = []
    for _ in range(draw(st.integers(1, 8))):
        form = draw(st.sampled_from(sorted(_keys_by_form)))
        key = draw(_keys_by_form[form])
        lines = draw(st.sets(st.integers(1, 60), min_size=1, max_size=12))
        entries.append((form, key, lines))
    body = "".join(
        f"  {key} {','.join(f'{a}' if a == b else f'{a}-{b}' for a, b in compact_lines(lines))}\n"
        for _, key, lines in entries
    )
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    text = f"src/a.rs\n{body}---\n" + json.dumps({"schema_version": "authorship/3.0.0", "prompts": {}})
    return text.replace("\n", newline), entries


@settings(max_examples=200, deadline=None)
@given(_notes())
def test_generated_notes_of_every_key_form_last_entry_decides(
    case: tuple[str, list[tuple[str, str, set[int]]]],
) -> None:
    text, entries = case
    note = to_commit_note(parse_gitai(text))
    for line in range(1, 62):
        covering = [(form, key) for form, key, lines in entries if line in lines]
        entry = note.entry_for("src/a.rs", line)
        if not covering:
            assert entry is None
            continue
        form, key = covering[-1]
        want = "human" if form in ("known human", "checkpoint kind human") else "ai"
        assert key_form(key) == (form, want)
        assert entry is not None and entry.origin == want


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.sets(st.integers(1, 40), min_size=1, max_size=10)), min_size=1, max_size=8))
def test_generated_overlaps_keep_each_lines_last_record(layers: list[tuple[bool, set[int]]]) -> None:
    # Each entry has its own prompt record (model m<i>) or its own known human: the line's entry
    # must be the last one listing it, whatever overlaps.
    keys = [f"h_{i:014x}" if human else f"{i:016x}" for i, (human, _) in enumerate(layers)]
    body = "".join(
        f"  {key} {','.join(f'{a}-{b}' for a, b in compact_lines(lines))}\n"
        for key, (_, lines) in zip(keys, layers, strict=True)
    )
    prompts = {k: {"agent_id": {"tool": "codex", "id": k, "model": f"m{i}"}} for i, k in enumerate(keys)}
    note = to_commit_note(
        parse_gitai(f"a.py\n{body}---\n" + json.dumps({"schema_version": "authorship/3.0.0", "prompts": prompts}))
    )
    spans_seen = [span for entry in note.files["a.py"] for span in entry.spans]
    covered = [n for a, b in spans_seen for n in range(a, b + 1)]
    assert len(covered) == len(set(covered))  # every line in one entry only
    for line in range(1, 41):
        last = [i for i, (_, lines) in enumerate(layers) if line in lines]
        entry = note.entry_for("a.py", line)
        if not last:
            assert entry is None
        elif layers[last[-1]][0]:
            assert entry is not None and entry.origin == "human"
        else:
            assert entry is not None and (entry.origin, entry.model) == ("ai", f"m{last[-1]}")


# -- paths ---------------------------------------------------------------------------------------


def test_quoted_path_is_taken_literally_as_git_ai_writes_it() -> None:
    # git-ai wraps a path with spaces in quotes and escapes nothing inside.
    text = '"docs/odd\\back name.md"\n  h_0123456789abcd 1\n---\n{"schema_version": "authorship/3.0.0", "prompts": {}}'
    assert list(parse_gitai(text).attestations) == ["docs/odd\\back name.md"]


def test_written_paths_are_quoted_the_way_git_ai_reads_them() -> None:
    note = CommitNote(
        files={"dir/ü x.py": (NoteEntry("ai", ((1, 2),), agent="codex"),), '"q"': (NoteEntry("human", ((1, 1),)),)}
    )
    text = gitai.from_commit_note(note, author="Dana <d@example.com>").to_text()
    assert '\n"dir/ü x.py"\n' in "\n" + text
    assert '\n""q""\n' in "\n" + text
    assert set(parse_gitai(text).attestations) == {"dir/ü x.py", '"q"'}
