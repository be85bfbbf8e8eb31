"""The blame engine on real repositories: every evidence kind, their conflicts, and bad input."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from codewitness.attribution.blame import IMPORT_REF, Attributor, line_origins
from codewitness.attribution.gitai import GITAI_REF
from codewitness.attribution.notes import NoteEntry
from codewitness.errors import GitError, InputError, NotFoundError
from tests.git_calls import log_git_calls

from .conftest import CLAUDE_TRAILER, HUMAN, Repo, lines

GITAI_NOTE = """{path}
  s_0123456789abcd::t_0123456789abcd {ranges}
---
{{"schema_version": "authorship/3.0.0", "base_commit_sha": "0", "prompts": {{}},
 "sessions": {{"s_0123456789abcd": {{"agent_id": {{"tool": "cursor", "id": "conv-1", "model": "gpt-5"}}}}}}}}
"""


def kinds(repo: Repo, path: str, rev: str = "HEAD") -> list[str]:
    return [o.kind for o in line_origins(repo.root, path, rev)]


def test_line_origins_takes_text_paths_as_the_docs_show(repo: Repo, monkeypatch: pytest.MonkeyPatch) -> None:
    # Before: a str repository path failed with AttributeError: 'str' object has no attribute 'is_dir'.
    repo.write("src/a.py", lines(3))
    repo.commit("add a" + CLAUDE_TRAILER)
    expected = [o.kind for o in line_origins(repo.root, "src/a.py")]
    assert expected == ["ai", "ai", "ai"]
    assert [o.kind for o in line_origins(str(repo.root), "src/a.py", "HEAD")] == expected
    assert [o.kind for o in line_origins(str(repo.root / "src"), Path("src") / "a.py")] == expected
    monkeypatch.chdir(repo.root)
    assert [o.kind for o in line_origins(".", "src/a.py")] == expected


def test_author_and_trailer_evidence(repo: Repo) -> None:
    repo.write("a.py", lines(2))
    repo.commit("human start")
    repo.write("a.py", lines(4))
    repo.commit("add more" + CLAUDE_TRAILER)
    origins = line_origins(repo.root, "a.py")
    assert [(o.kind, o.evidence) for o in origins] == [
        ("human", "author"),
        ("human", "author"),
        ("ai", "trailer"),
        ("ai", "trailer"),
    ]
    assert origins[2].agent == "claude-code"
    assert origins[2].model == "Claude Opus 4.5"
    assert origins[2].confidence < origins[0].confidence + 0.5


def test_bot_author_without_agent_mark_is_unknown(repo: Repo) -> None:
    repo.write("a.py", lines(1))
    repo.commit("bump", author="dependabot[bot] <support@github.com>")
    origin = line_origins(repo.root, "a.py")[0]
    assert (origin.kind, origin.evidence) == ("unknown", "none")


def test_aider_author_suffix_is_ai(repo: Repo) -> None:
    repo.write("a.py", lines(1))
    repo.commit("refactor", author="Dana Dev (aider) <dana@example.com>")
    origin = line_origins(repo.root, "a.py")[0]
    assert (origin.kind, origin.agent) == ("ai", "aider")


def test_human_edit_of_trailer_marked_line_is_human(repo: Repo) -> None:
    repo.write("a.py", lines(4))
    repo.commit("ai wrote it" + CLAUDE_TRAILER)
    repo.write("a.py", lines(4).replace("x2 = 2", "x2 = 20"))
    repo.commit("fix by hand")
    assert kinds(repo, "a.py") == ["ai", "human", "ai", "ai"]


def test_note_decides_the_whole_commit_over_its_trailer(repo: Repo) -> None:
    repo.write("a.py", lines(4))
    repo.write("b.py", lines(2))
    commit = repo.commit("agent commit" + CLAUDE_TRAILER)
    # The hook saw the agent write lines 1-2 and 4; line 3 was typed by a person before committing.
    repo.note(
        commit,
        {
            "a.py": [
                NoteEntry("ai", ((1, 2),), ("gen_aaa",), agent="claude-code", model="claude-opus-4-5"),
                NoteEntry("mixed", ((4, 4),), ("gen_aaa",), agent="claude-code"),
            ]
        },
    )
    origins = line_origins(repo.root, "a.py")
    assert [(o.kind, o.evidence) for o in origins] == [
        ("ai", "note"),
        ("ai", "note"),
        ("human", "note"),
        ("mixed", "note"),
    ]
    assert origins[0].generation_ids == ("gen_aaa",)
    assert origins[0].model == "claude-opus-4-5"
    # b.py is in the same commit but the note does not mention it: not AI, despite the trailer.
    assert [(o.kind, o.evidence) for o in line_origins(repo.root, "b.py")] == [("human", "note")] * 2


def test_gitai_note_is_import_evidence(repo: Repo) -> None:
    repo.write("a.py", lines(3))
    commit = repo.commit("plain message")
    repo.raw_note(GITAI_REF, commit, GITAI_NOTE.format(path="a.py", ranges="2-3"))
    origins = line_origins(repo.root, "a.py")
    assert [(o.kind, o.evidence) for o in origins] == [
        ("human", "import"),
        ("ai", "import"),
        ("ai", "import"),
    ]
    assert (origins[1].agent, origins[1].model, origins[1].session_id) == ("cursor", "gpt-5", "conv-1")


def test_codewitness_note_beats_gitai_note_on_one_commit(repo: Repo) -> None:
    repo.write("a.py", lines(3))
    repo.write("b.py", lines(2))
    commit = repo.commit("two tools")
    repo.raw_note(GITAI_REF, commit, GITAI_NOTE.format(path="a.py", ranges="1-3") + "")
    repo.raw_note(
        GITAI_REF,
        commit,
        "a.py\n  s_0123456789abcd::t_0123456789abcd 1-3\nb.py\n  s_0123456789abcd::t_0123456789abcd 1\n---\n"
        '{"schema_version": "authorship/3.0.0", "sessions": {"s_0123456789abcd": '
        '{"agent_id": {"tool": "cursor", "id": "c", "model": "gpt-5"}}}}',
    )
    repo.note(commit, {"a.py": [NoteEntry("ai", ((1, 1),), agent="claude-code")]})
    a = line_origins(repo.root, "a.py")
    # Our note mentions a.py, so it decides all of a.py: line 1 AI (claude), lines 2-3 not AI.
    assert [(o.kind, o.evidence, o.agent) for o in a] == [
        ("ai", "note", "claude-code"),
        ("human", "note", None),
        ("human", "note", None),
    ]
    # Our note is silent on b.py; the git-ai note covers it, so it decides b.py.
    b = line_origins(repo.root, "b.py")
    assert [(o.kind, o.evidence, o.agent) for o in b] == [
        ("ai", "import", "cursor"),
        ("human", "import", None),
    ]


def test_our_note_beats_an_imported_note_which_beats_git_ai_on_one_commit(repo: Repo) -> None:
    """All three line-precise records on one commit: ours, then the imported one, then git-ai's.

    Issue 25's first survivor: putting the imported notes (git-ai / Agent Trace) ahead of ours made
    the lines the agent hook saw come out as the imported record said (here: human).
    """
    repo.write("a.py", lines(3))
    repo.write("b.py", lines(3))
    repo.write("c.py", lines(3))
    commit = repo.commit("three tools")
    repo.note(commit, {"a.py": [NoteEntry("ai", ((1, 2),), ("gen_ours",), agent="claude-code")]})
    repo.raw_note(
        IMPORT_REF,
        commit,
        '{"schema": "codewitness.note/1", "files": {'
        '"a.py": [{"lines": "3", "origin": "ai", "agent": "codex"}], '
        '"b.py": [{"lines": "1", "origin": "ai", "agent": "codex"}]}}',
    )
    repo.raw_note(
        GITAI_REF,
        commit,
        "a.py\n  s_0123456789abcd::t_0123456789abcd 1-3\nb.py\n  s_0123456789abcd::t_0123456789abcd 2-3\n"
        "c.py\n  s_0123456789abcd::t_0123456789abcd 3\n---\n"
        '{"schema_version": "authorship/3.0.0", "sessions": {"s_0123456789abcd": '
        '{"agent_id": {"tool": "cursor", "id": "c", "model": "gpt-5"}}}}',
    )

    def seen(path: str) -> list[tuple[str, str, str | None]]:
        return [(o.kind, o.evidence, o.agent) for o in line_origins(repo.root, path)]

    assert seen("a.py") == [("ai", "note", "claude-code"), ("ai", "note", "claude-code"), ("human", "note", None)]
    assert seen("b.py") == [("ai", "import", "codex"), ("human", "import", None), ("human", "import", None)]
    assert seen("c.py") == [("human", "import", None), ("human", "import", None), ("ai", "import", "cursor")]


def test_import_ref_note_is_read(repo: Repo) -> None:
    repo.write("a.py", lines(2))
    commit = repo.commit("x")
    repo.raw_note(
        IMPORT_REF,
        commit,
        '{"schema": "codewitness.note/1", "files": {"a.py": [{"lines": "2", "origin": "ai", "agent": "codex"}]}}',
    )
    assert [(o.kind, o.evidence) for o in line_origins(repo.root, "a.py")] == [
        ("human", "import"),
        ("ai", "import"),
    ]


def test_corrupt_notes_are_skipped_with_a_warning(repo: Repo) -> None:
    repo.write("a.py", lines(2))
    commit = repo.commit("agent" + CLAUDE_TRAILER)
    repo.raw_note("refs/notes/codewitness", commit, "{not json")
    repo.raw_note(GITAI_REF, commit, "a.py\n  zz 1\n---\n{}")
    with Attributor(repo.root) as engine:
        result = engine.attribute_path("a.py")
        warnings = engine.warnings
    # Both records are unusable: the trailer decides.
    assert [ln.origin.evidence for ln in result.lines] == ["trailer", "trailer"]
    assert any("corrupt codewitness note" in w for w in warnings)
    assert any("git-ai" in w for w in warnings)


def test_moving_a_function_within_a_file_keeps_its_attribution(repo: Repo) -> None:
    first = "def first():\n    a = 1\n    b = 2\n    return a + b\n\n"
    second = "def second():\n    c = 3\n    d = 4\n    return c * d\n\n"
    repo.write("m.py", first)
    repo.commit("human first")
    repo.write("m.py", first + second)
    ai_commit = repo.commit("agent second")
    repo.note(ai_commit, {"m.py": [NoteEntry("ai", ((6, 9),), ("gen_b",), agent="claude-code")]})
    repo.write("m.py", second + first)  # move second() above first()
    repo.commit("reorder")
    origins = line_origins(repo.root, "m.py")
    assert [o.kind for o in origins[:4]] == ["ai"] * 4
    assert all(o.generation_ids == ("gen_b",) for o in origins[:4])
    assert [o.kind for o in origins[5:9]] == ["human"] * 4


def test_binary_and_empty_files_are_skipped(repo: Repo) -> None:
    repo.write("logo.png", b"\x89PNG\r\n\x1a\n\x00\x00binary")
    repo.write("empty.txt", "")
    repo.write("a.py", lines(1))
    repo.commit("assets")
    with Attributor(repo.root) as engine:
        results = {r.path: r for r in engine.attribute(engine.files())}
    assert results["logo.png"].skipped == "binary"
    assert results["empty.txt"].skipped == "empty"
    assert results["a.py"].skipped is None
    assert line_origins(repo.root, "logo.png") == []


def test_submodule_is_skipped_and_named(repo: Repo, tmp_path: Path) -> None:
    inner = Repo(tmp_path / "inner")
    inner.write("x.py", lines(1))
    inner.commit("inner")
    repo.write("a.py", lines(1))
    repo.commit("outer")
    repo.git("-c", "protocol.file.allow=always", "submodule", "add", "-q", str(inner.root), "vendor/inner")
    repo.commit("add submodule")
    with Attributor(repo.root) as engine:
        results = {r.path: r for r in engine.attribute(engine.files())}
        assert results["vendor/inner"].skipped == "submodule"
        with pytest.raises(InputError, match="submodule"):
            engine.attribute_path("vendor/inner")


def test_shallow_clone_marks_older_lines_unknown(repo: Repo, tmp_path: Path) -> None:
    repo.write("a.py", lines(2))
    repo.commit("old human work")
    repo.write("a.py", lines(3))
    repo.commit("newer" + CLAUDE_TRAILER)
    repo.write("a.py", lines(4))
    repo.commit("newest by hand")
    clone = tmp_path / "shallow"
    subprocess.run(
        ["git", "clone", "-q", "--depth", "2", f"file://{repo.root}", str(clone)],
        check=True,
        capture_output=True,
    )
    with Attributor(clone) as engine:
        result = engine.attribute_path("a.py")
        warnings = engine.warnings
    # Lines 1-3 are held by the shallow boundary commit: their true author is unknown here.
    assert [ln.origin.kind for ln in result.lines] == ["unknown", "unknown", "unknown", "human"]
    assert any("shallow" in w and "--unshallow" in w for w in warnings)


def test_empty_repository_gives_a_clear_error(repo: Repo) -> None:
    with pytest.raises(GitError, match="no commits yet"):
        Attributor(repo.root)


def test_not_a_repository_and_bad_revision(repo: Repo, tmp_path: Path) -> None:
    outside = tmp_path / "plain"
    outside.mkdir()
    with pytest.raises(GitError, match="not inside a git repository"):
        Attributor(outside)
    repo.write("a.py", lines(1))
    repo.commit("one")
    with pytest.raises(NotFoundError, match="no commit 'nope'"):
        Attributor(repo.root, "nope")
    with pytest.raises(InputError, match="not a file"):
        line_origins(repo.root, "missing.py")


def test_older_revision_is_attributed_as_it_was(repo: Repo) -> None:
    repo.write("a.py", lines(2))
    first = repo.commit("human")
    repo.write("a.py", lines(3))
    repo.commit("ai" + CLAUDE_TRAILER)
    assert kinds(repo, "a.py", first) == ["human", "human"]
    assert kinds(repo, "a.py") == ["human", "human", "ai"]


def test_unusual_path_names(repo: Repo) -> None:
    name = 'dir with space/tab\tand "quote" é.py'
    repo.write(name, lines(2))
    repo.commit("odd names" + CLAUDE_TRAILER)
    assert kinds(repo, name) == ["ai", "ai"]


def test_renamed_file_keeps_note_lookup_by_original_path(repo: Repo) -> None:
    repo.write("old.py", lines(3))
    commit = repo.commit("agent")
    repo.note(commit, {"old.py": [NoteEntry("ai", ((2, 3),), agent="codex")]})
    repo.git("mv", "old.py", "new.py")
    repo.commit("rename")
    assert kinds(repo, "new.py") == ["human", "ai", "ai"]


def test_missing_git_is_a_clear_error(repo: Repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo.write("a.py", lines(1))
    repo.commit("one")
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    with pytest.raises(GitError, match="git is not installed"):
        line_origins(repo.root, "a.py")


def test_bot_accounts_are_told_from_people(repo: Repo) -> None:
    """A ``[bot]`` account, or a GitHub noreply address with "bot" in it, is no person; "bot" alone is."""
    authors = {
        "a.py": "renovate[bot] <29139614+renovate[bot]@users.noreply.github.com>",
        "b.py": "Release Bot <noreply@github.com>",
        "c.py": "Abbot Smith <abbot@example.com>",  # "bot" in a person's name
        "d.py": "Dana Dev <noreply@github.com>",  # GitHub's noreply address, a person's commit
    }
    for path, author in authors.items():
        repo.write(path, lines(1))
        repo.commit(f"add {path}", author=author)
    got = {path: line_origins(repo.root, path)[0].kind for path in authors}
    assert got == {"a.py": "unknown", "b.py": "unknown", "c.py": "human", "d.py": "human"}


def test_an_agent_committer_marks_the_commit(repo: Repo) -> None:
    repo.write("a.py", lines(2))
    repo.git("add", "-A")
    # Authored by a person, committed by aider (which commits as "Name (aider)").
    repo.git("-c", "user.name=Dana Dev (aider)", "commit", "-q", "--author", HUMAN, "-m", "refactor")
    origin = line_origins(repo.root, "a.py")[0]
    assert (origin.kind, origin.evidence, origin.agent) == ("ai", "trailer", "aider")


def test_a_note_with_bytes_that_are_not_utf8_is_read(repo: Repo, tmp_path: Path) -> None:
    repo.write("a.py", lines(2))
    commit = repo.commit("agent")
    note = b'{"schema": "codewitness.note/1", "files": {"a.py": [{"lines": "1", "origin": "ai", "model": "m\xff"}]}}'
    (tmp_path / "note").write_bytes(note)
    repo.git("notes", "--ref", "refs/notes/codewitness", "add", "-f", "-F", str(tmp_path / "note"), commit)
    origins = line_origins(repo.root, "a.py")
    assert [(o.kind, o.model) for o in origins] == [("ai", "m\ufffd"), ("human", None)]


def test_corrupt_imported_and_git_ai_notes_are_named_and_counted(repo: Repo) -> None:
    repo.write("a.py", lines(2))
    first = repo.commit("one")
    repo.write("a.py", lines(3))
    second = repo.commit("two")
    for commit in (first, second):
        repo.raw_note(IMPORT_REF, commit, "{not json")
        repo.raw_note(GITAI_REF, commit, "a.py\n  zz 1\n---\n{}")
    with Attributor(repo.root) as engine:
        engine.attribute_path("a.py")
        engine.attribute_path("a.py")  # the second time from what the first one read
        warnings = engine.warnings
    assert sorted(warnings) == sorted(
        f"skipped a corrupt {label} note on commit {commit[:12]}: {text}"
        for commit in (first, second)
        for label, text in (("imported", _note_error("{not json")), ("git-ai", _note_error("a.py\n  zz 1\n---\n{}")))
    )
    assert set(warnings.values()) == {1}  # each record is read (and warned about) once


def _note_error(text: str) -> str:
    from codewitness.attribution.gitai import parse_gitai
    from codewitness.attribution.notes import NoteError, parse_note

    try:
        parse_gitai(text) if "---" in text else parse_note(text)
    except NoteError as exc:
        return str(exc)
    raise AssertionError(f"{text!r} is not corrupt")


def test_the_shallow_boundary_warning_is_counted_per_line(repo: Repo, tmp_path: Path) -> None:
    repo.write("a.py", lines(2))
    repo.commit("old human work")
    repo.write("a.py", lines(3))
    repo.commit("newest by hand")
    clone = tmp_path / "shallow"
    subprocess.run(["git", "clone", "-q", "--depth", "1", f"file://{repo.root}", str(clone)], check=True)
    with Attributor(clone) as engine:
        engine.attribute_path("a.py")
        assert list(engine.warnings.values()) == [3]


def test_line_origins_fills_the_cache_it_is_given(repo: Repo) -> None:
    from codewitness.attribution.cache import MemoryCache

    repo.write("a.py", lines(2))
    commit = repo.commit("x")
    cache = MemoryCache()
    assert [o.kind for o in line_origins(repo.root, "a.py", cache=cache)] == ["human", "human"]
    assert list(cache.load_commits([commit])) == [commit]


def test_the_evidence_of_a_repository_without_notes_takes_one_listing(
    repo: Repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each git process costs a warm gate run milliseconds: the notes refs are listed once, and absent ones are not
    looked up one by one (three ``rev-parse --verify`` before); the revision is resolved once."""
    repo.write("a.py", lines(2))
    repo.commit("one" + CLAUDE_TRAILER)
    log = log_git_calls(monkeypatch, tmp_path)
    with Attributor(repo.root) as engine:
        assert [ln.origin.kind for ln in engine.attribute_path("a.py").lines] == ["ai", "ai"]
    calls = log.read_text().splitlines()
    assert [c for c in calls if "refs/notes" in c] == ["for-each-ref --format=%(objectname) %(refname) refs/notes"]
    assert len([c for c in calls if c.startswith("rev-parse --verify")]) == 1


def test_a_second_engine_at_the_same_commit_lists_neither_its_tree_nor_its_history_again(
    repo: Repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo.write("pkg/a.py", lines(2))
    repo.write("pkg/b.py", lines(1))
    repo.commit("one")
    repo.write("pkg/a.py", lines(3))
    first = repo.commit("two" + CLAUDE_TRAILER)
    with Attributor(repo.root) as engine:
        every = engine.files()
        assert [ln.origin.kind for ln in engine.attribute_path("pkg/a.py").lines] == ["human", "human", "ai"]
        history = engine.reachable()
    log = log_git_calls(monkeypatch, tmp_path)
    with Attributor(repo.root) as engine:  # as the MCP server does, question after question
        assert engine.files() == every
        assert engine.files(["pkg/b.py", "pkg/a.py"]) == [e for e in every if e.path in ("pkg/a.py", "pkg/b.py")]
        assert [ln.origin.kind for ln in engine.attribute_path("pkg/a.py").lines] == ["human", "human", "ai"]
        assert engine.reachable() == history
        # What the tree cannot answer by path goes to git, which knows how its paths match.
        assert [e.path for e in engine.files(["pkg"])] == ["pkg/a.py", "pkg/b.py"]
        assert engine.files(["missing.py"]) == []
    calls = log.read_text().splitlines()
    assert [c for c in calls if c.startswith("rev-list")] == []
    assert [c.split(" -- ")[-1] for c in calls if c.startswith("ls-tree")] == ["pkg", "missing.py"]

    # A new commit is another key: its tree and history are read, and hold the new file.
    repo.write("pkg/c.py", lines(1))
    second = repo.commit("three")
    with Attributor(repo.root) as engine:
        assert [e.path for e in engine.files()] == ["pkg/a.py", "pkg/b.py", "pkg/c.py"]
        assert engine.reachable() == history | {second}
    with Attributor(repo.root, first) as engine:  # the older commit is still answered as it was
        assert engine.files() == every
        assert engine.reachable() == history


def test_a_shallow_clone_s_history_is_read_again_once_deepened(repo: Repo, tmp_path: Path) -> None:
    commits = []
    for n in range(1, 4):
        repo.write("a.py", lines(n))
        commits.append(repo.commit(f"commit {n}"))
    clone = tmp_path / "shallow"
    subprocess.run(["git", "clone", "-q", "--depth", "1", f"file://{repo.root}", str(clone)], check=True)
    with Attributor(clone) as engine:
        assert engine.reachable() == {commits[-1]}
    subprocess.run(["git", "fetch", "-q", "--unshallow"], cwd=clone, check=True)
    with Attributor(clone) as engine:
        assert engine.reachable() == set(commits)
