"""Our git notes on real repositories: written, found (local first, then fetched), read, refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codewitness._git import for_each_ref
from codewitness.attribution.notes import (
    MAX_JSON_DEPTH,
    NOTES_REF,
    TRACKING_PATTERN,
    CommitNote,
    NoteEntry,
    NoteError,
    _is_tracking,
    all_notes,
    find_note,
    load_json,
    parse_note,
    read_note,
    read_note_text,
    tracking_ref,
    write_note,
)
from codewitness.errors import NotFoundError

from .conftest import Repo, lines


def _note(agent: str) -> CommitNote:
    return CommitNote(files={"a.py": (NoteEntry("ai", ((1, 2),), ("gen_1",), agent=agent),)})


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run from a folder outside the repository: every git call must name the repository itself."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


def test_written_notes_are_read_back_from_outside_the_repository(repo: Repo, elsewhere: Path) -> None:
    repo.write("a.py", lines(3))
    commit = repo.commit("agent work")
    assert read_note(repo.root, commit) is None
    assert read_note_text(repo.root, "HEAD") is None
    write_note(repo.root, "HEAD", _note("claude-code"))
    note = read_note(repo.root, "HEAD")
    assert note is not None and note.entry_for("a.py", 2).agent == "claude-code"
    assert note.entry_for("a.py", 3) is None and note.entry_for("b.py", 1) is None
    assert read_note_text(repo.root, commit) == _note("claude-code").to_json()
    write_note(repo.root, commit, _note("codex"))  # replaces the earlier note
    assert read_note(repo.root, commit).entry_for("a.py", 1).agent == "codex"


def test_local_notes_come_before_fetched_ones(repo: Repo, elsewhere: Path) -> None:
    repo.write("a.py", lines(3))
    first = repo.commit("one")
    repo.write("a.py", lines(4))
    second = repo.commit("two")
    fetched = tracking_ref("origin")
    assert fetched == "refs/notes/remotes/origin/codewitness"
    repo.raw_note(fetched, first, _note("from-origin").to_json())
    repo.raw_note(fetched, second, _note("from-origin").to_json())
    write_note(repo.root, second, _note("local"))
    assert find_note(repo.root, first) == (fetched, _note("from-origin").to_json())
    assert find_note(repo.root, second) == (NOTES_REF, _note("local").to_json())
    assert find_note(repo.root, first, [NOTES_REF]) is None
    assert read_note_text(repo.root, first, NOTES_REF) is None
    assert read_note_text(repo.root, first, fetched) == _note("from-origin").to_json()
    blobs = all_notes(repo.root)
    assert set(blobs) == {first, second}
    shown = {sha: json.loads(repo.git("cat-file", "blob", blob)) for sha, blob in blobs.items()}
    assert shown[second]["files"]["a.py"][0]["agent"] == "local"
    assert shown[first]["files"]["a.py"][0]["agent"] == "from-origin"


def test_a_revision_that_is_no_commit_is_not_found(repo: Repo, elsewhere: Path) -> None:
    repo.write("a.py", lines(1))
    repo.commit("x")
    with pytest.raises(NotFoundError) as info:
        find_note(repo.root, "no-such-branch")
    assert str(info.value) == f"no commit 'no-such-branch' in {repo.root}"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "codewitness note is not valid JSON (Expecting property name enclosed in double quotes"),
        ("[]", "not a codewitness note (no schema field)"),
        (
            '{"schema": "codewitness.note/9", "files": {}}',
            "codewitness note schema 'codewitness.note/9' is not supported; upgrade codewitness",
        ),
        (
            '{"schema": "codewitness.note/1", "files": {"a.py": [{"lines": "1", "origin": "alien"}]}}',
            "corrupt codewitness note (ValueError: unknown origin 'alien')",
        ),
        ('{"schema": "codewitness.note/1"}', "corrupt codewitness note (KeyError: 'files')"),
    ],
)
def test_bad_notes_are_one_note_error(text: str, message: str) -> None:
    with pytest.raises(NoteError) as info:
        parse_note(text)
    assert str(info.value).startswith(message)


@pytest.mark.parametrize(("open_", "close"), [("[", "]"), ('{"a":', "}")])
def test_nesting_is_allowed_up_to_the_limit_and_refused_beyond(open_: str, close: str) -> None:
    def nested(depth: int) -> str:
        return open_ * depth + "1" + close * depth

    # Texts with fewer brackets than the limit are never walked; these have more (siblings).
    at_limit = "[" + nested(MAX_JSON_DEPTH - 1) + ", [], [], [{}]]"
    assert load_json(at_limit, "thing") == json.loads(at_limit)
    for too_deep in (nested(MAX_JSON_DEPTH + 1), "[" + nested(MAX_JSON_DEPTH) + ", []]"):
        with pytest.raises(NoteError) as info:
            load_json(too_deep, "thing")
        assert str(info.value) == f"thing is nested too deeply (over {MAX_JSON_DEPTH} levels)"
    # Many brackets side by side are wide, not deep.
    wide = "[" + ",".join(["[[1]]"] * MAX_JSON_DEPTH) + "]"
    assert len(load_json(wide, "thing")) == MAX_JSON_DEPTH
    # Deep inside a dict inside a list, and the deep branch not the first one walked.
    mixed = '[{"a": 1}, {"b": ' + nested(MAX_JSON_DEPTH - 1) + "}]"
    with pytest.raises(NoteError):
        load_json(mixed, "thing")


def test_notes_read_from_a_listing_of_refs_are_those_git_matches(repo: Repo) -> None:
    """``all_notes(root, refs)`` picks the fetched notes refs out of a listing as git's own pattern would: a remote's
    name is one path segment; refs that only look alike are not notes of ours."""
    repo.write("a.py", lines(3))
    commits = [repo.commit("one")]
    repo.write("a.py", lines(4))
    commits.append(repo.commit("two"))
    refs = [
        tracking_ref("origin"),
        tracking_ref("up-stream.2"),
        "refs/notes/remotes/a/b/codewitness",
        "refs/notes/remotes/origin/codewitness-old",
        "refs/notes/remotes/codewitness",
        "refs/notes/codewitness-import",
        "refs/notes/other",
    ]
    for number, ref in enumerate(refs):
        repo.raw_note(ref, commits[number % 2], _note(f"agent{number}").to_json())
    listed = for_each_ref(repo.root, "refs/notes")
    assert set(refs) <= set(listed)
    assert sorted(r for r in listed if _is_tracking(r)) == sorted(for_each_ref(repo.root, TRACKING_PATTERN))
    assert all_notes(repo.root, listed) == all_notes(repo.root)
    write_note(repo.root, commits[1], _note("local"))
    listed = for_each_ref(repo.root, "refs/notes")
    assert all_notes(repo.root, listed) == all_notes(repo.root)
    assert all_notes(repo.root, {}) == {}
