"""The parsers of git's output, checked against git itself on real repositories.

Quoted path names as ``core.quotePath`` writes them (on and off), diff hunks with names and lines
that look like something else, ``git blame --porcelain`` against ``--line-porcelain``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codewitness._git import (
    BlameRow,
    CatFile,
    FileDiff,
    added_lines,
    blame_porcelain,
    cherry_picked_from,
    file_diffs,
    independent_tips,
    is_ancestor,
    parse_added_lines,
    parse_commit,
    parse_file_diffs,
    parse_porcelain,
    parse_raw_renames,
    patch_ids,
    read_commit,
    renamed_paths,
    resolve,
    rev_list,
    reverted_commit,
    squashed_commits,
    unquote_path,
)
from tests.attribution.conftest import Repo


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Repo]:
    yield Repo(tmp_path / "repo")


@pytest.fixture(scope="module")
def shared_repo(tmp_path_factory: pytest.TempPathFactory) -> Repo:
    """One repository for many generated examples (each writes its own folder)."""
    return Repo(tmp_path_factory.mktemp("odd") / "repo")


#: File names git must quote, or that look like its quoting: spaces, tabs, newlines, quotes,
#: backslashes, control characters, non-ASCII letters of 2, 3 and 4 UTF-8 bytes, octal look-alikes.
_odd_char = st.sampled_from([" ", "\t", "\n", '"', "\\", "\x01", "\x7f", "é", "日", "😀", "0", "7", "a", "-", "."])
_odd_name = (
    st.text(_odd_char, min_size=1, max_size=12)
    .filter(lambda n: n not in (".", "..") and not n.startswith(".git"))
    .map(lambda n: n if n.strip(" .") else f"x{n}")
)
_folders = itertools.count()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=st.lists(_odd_name, min_size=1, max_size=4, unique=True), quote_path=st.booleans())
def test_quoted_names_read_back_as_git_stores_them(shared_repo: Repo, names: list[str], quote_path: bool) -> None:
    folder = f"q{next(_folders)}"
    for name in names:
        shared_repo.write(f"{folder}/{name}", "x\n")
    shared_repo.git("add", "--", folder)
    exact = sorted(n for n in shared_repo.git("ls-files", "-z", "--", folder).split("\0") if n)
    quoted = shared_repo.git("-c", f"core.quotePath={str(quote_path).lower()}", "ls-files", "--", folder)
    assert sorted(unquote_path(line) for line in quoted.split("\n") if line) == exact
    assert exact == sorted(f"{folder}/{n}" for n in names)


def test_unquote_refuses_what_git_never_writes() -> None:
    assert unquote_path("plain name.py") == "plain name.py"
    assert unquote_path('"\\303\\251\\tx"') == "é\tx"
    for bad in ('"open', '"a\\qb"', '"a"b"', '"\\377"', '"\\4"'):
        with pytest.raises(ValueError):
            unquote_path(bad)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=st.lists(_odd_name, min_size=1, max_size=3, unique=True))
def test_added_lines_and_blame_name_odd_files_exactly(shared_repo: Repo, names: list[str]) -> None:
    folder = f"d{next(_folders)}"
    for name in names:
        shared_repo.write(f"{folder}/{name}", "one\ntwo\nthree\n")
    shared_repo.commit(f"add {folder}")
    for name in names:
        shared_repo.write(f"{folder}/{name}", "one\nTWO\nthree\nfour\n")
    expected = {f"{folder}/{name}": {2, 4} for name in names}
    assert {k: v for k, v in added_lines(shared_repo.root, "HEAD").items() if k.startswith(folder)} == expected
    committed = shared_repo.commit(f"edit {folder}")
    parent = resolve(shared_repo.root, f"{committed}^")
    assert parent is not None
    assert {k: v for k, v in added_lines(shared_repo.root, parent, committed).items()} == expected
    for name in names:
        rows = blame_porcelain(shared_repo.root, "HEAD", f"{folder}/{name}")
        assert {row.orig_path for row in rows} == {f"{folder}/{name}"}


def test_added_lines_are_not_fooled_by_content_that_looks_like_headers(repo: Repo) -> None:
    body = [f"line {i}" for i in range(20)]
    repo.write("a.py", "\n".join(body) + "\n")
    repo.commit("start")
    body[2] = "++ b/elsewhere.py"  # shows as "+++ b/elsewhere.py" in the patch
    body[3] = "-- a/gone.py"
    body[15] = "@@ -1 +1 @@"
    repo.write("a.py", "\n".join(body) + "\n")
    sha = repo.commit("tricky")
    assert added_lines(repo.root, f"{sha}^", sha) == {"a.py": {3, 4, 16}}
    assert added_lines(repo.root, sha) == {}


def test_deletions_binary_files_and_untracked_files() -> None:
    patch = "\n".join(
        [
            "diff --git a/gone.py b/gone.py",
            "deleted file mode 100644",
            "--- a/gone.py",
            "+++ /dev/null",
            "@@ -1,2 +0,0 @@",
            "-a",
            "-b",
            "diff --git a/shrunk.py b/shrunk.py",
            "--- a/shrunk.py",
            "+++ b/shrunk.py",
            "@@ -3 +2,0 @@",
            "-c",
            "diff --git a/img.png b/img.png",
            "Binary files a/img.png and b/img.png differ",
            "diff --git a/x y.py b/x y.py",
            "--- a/x y.py\t",
            "+++ b/x y.py\t",
            "@@ -1 +1,2 @@",
            "-old",
            "+new",
            "\\ No newline at end of file",
            "+more",
            "",
        ]
    )
    assert parse_added_lines(patch) == {"shrunk.py": set(), "x y.py": {1, 2}}


def _line_porcelain(repo: Repo, path: str) -> list[BlameRow]:
    """An independent reading: ``--line-porcelain`` repeats every field on every line."""
    rows: list[BlameRow] = []
    commit, orig, filename = "", 0, ""
    for line in repo.git("blame", "--line-porcelain", "--root", "-M", "HEAD", "--", path).split("\n"):
        if line.startswith("\t"):
            rows.append(BlameRow(commit, filename, orig))
        elif line.startswith("filename "):
            filename = line[len("filename ") :]
        elif len(line) > 41 and line[40] == " " and all(c in "0123456789abcdef" for c in line[:40]):
            commit, orig = line[:40], int(line.split(" ")[1])
    return rows


_edits = st.lists(
    st.tuples(st.sampled_from(["insert", "delete", "replace"]), st.integers(0, 30), st.integers(1, 4)),
    min_size=1,
    max_size=5,
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_edits, min_size=1, max_size=4), st.booleans())
def test_porcelain_parse_matches_line_porcelain(tmp_path: Path, history: list, rename: bool) -> None:
    repo = Repo(tmp_path / f"r{abs(hash(str(history))) % 10**9}")
    content = [f"line {i}" for i in range(10)]
    repo.write("f.txt", "\n".join(content) + "\n")
    repo.commit("start")
    counter = 100
    for n, edits in enumerate(history):
        for op, at, size in edits:
            at = min(at, len(content))
            counter += 1
            if op == "insert":
                content[at:at] = [f"new {counter} {k}" for k in range(size)]
            elif op == "delete" and len(content) > size:
                del content[at : at + size]
            else:
                content[at : at + size] = [f"changed {counter} {k}" for k in range(size)]
        repo.write("f.txt", "\n".join(content) + "\n")
        repo.commit(f"edit {n}")
    path = "f.txt"
    if rename:
        repo.git("mv", "f.txt", "g h.txt")
        repo.commit("rename")
        path = "g h.txt"
    rows = blame_porcelain(repo.root, "HEAD", path)
    assert len(rows) == len(content)
    assert rows == _line_porcelain(repo, path)


def test_porcelain_content_that_looks_like_headers() -> None:
    sha = "a" * 40
    text = f"{sha} 1 1 2\nauthor X\nfilename a.py\n\t{'b' * 40} 1 1\n{sha} 2 2\n\tfilename fake.py\n"
    assert parse_porcelain(text) == [BlameRow(sha, "a.py", 1), BlameRow(sha, "a.py", 2)]


def test_quoted_filenames_are_unquoted() -> None:
    sha = "c" * 40
    text = f'{sha} 3 1 1\nfilename "tab\\there \\303\\251.py"\n\tx\n'
    assert parse_porcelain(text) == [BlameRow(sha, "tab\there é.py", 3)]


def test_cat_file_reads_commits_and_reports_missing(repo: Repo) -> None:
    repo.write("a.txt", "x\n")
    sha = repo.commit("subject\n\nbody\n\nCo-authored-by: Codex <noreply@openai.com>")
    with CatFile(repo.root) as cat:
        got = cat.read(sha)
        assert got is not None and got[0] == "commit"
        info = parse_commit(sha, got[1])
        assert info.author == "Dana Dev <dana@example.com>"
        assert "Co-authored-by: Codex" in info.message
        assert cat.read("0" * 40) is None
        assert cat.read("bad\nname") is None


# -- file diffs, renames, patch ids and what git writes into messages ---------------------------


def _numstat(repo: Repo, base: str, target: str, *detect: str) -> dict[tuple[str | None, str], tuple[int, int]]:
    """An independent reading: ``--numstat -z`` counts lines per file and names renames without quoting."""
    fields = repo.git("diff", "--numstat", "-z", *detect, base, target).split("\0")
    found: dict[tuple[str | None, str], tuple[int, int]] = {}
    i = 0
    while i < len(fields) and fields[i]:
        added, removed, name = fields[i].split("\t", 2)
        if name:
            found[(None, name)] = (int(added), int(removed))
            i += 1
        else:
            found[(fields[i + 1], fields[i + 2])] = (int(added), int(removed))
            i += 3
    return found


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    names=st.lists(_odd_name, min_size=2, max_size=3, unique=True),
    edits=st.lists(st.integers(0, 9), min_size=1, max_size=4),
)
def test_file_diffs_agree_with_numstat(shared_repo: Repo, names: list[str], edits: list[int]) -> None:
    folder = f"f{next(_folders)}"
    body = [f"line {i} of a file long enough to be found again after a rename" for i in range(10)]
    for name in names:
        shared_repo.write(f"{folder}/{name}", "\n".join(body) + "\n")
    base = shared_repo.commit(f"add {folder}")
    changed = list(body)
    for at in edits:
        changed[at] = f"changed {at}"
    shared_repo.write(f"{folder}/{names[0]}", "\n".join(changed) + "\n")
    shared_repo.git("mv", f"{folder}/{names[1]}", f"{folder}/moved {names[1]}")
    target = shared_repo.commit(f"edit {folder}")
    for renames, detect in ((False, ["--no-renames"]), (True, ["-M"])):
        diffs = file_diffs(shared_repo.root, base, target, renames=renames)
        got = {
            (d.old_path if d.renamed else None, d.new_path or d.old_path or ""): (len(d.added), len(d.removed))
            for d in diffs
        }
        assert got == _numstat(shared_repo, base, target, *detect)
    with_renames = {d.new_path: d for d in file_diffs(shared_repo.root, base, target, renames=True)}
    moved = with_renames[f"{folder}/moved {names[1]}"]
    assert (moved.old_path, moved.renamed, moved.hunks) == (f"{folder}/{names[1]}", True, ())
    assert renamed_paths(shared_repo.root, base, target) == {f"{folder}/moved {names[1]}": f"{folder}/{names[1]}"}
    edited = with_renames[f"{folder}/{names[0]}"]
    assert edited.added == {at + 1 for at in edits}
    assert edited.added == added_lines(shared_repo.root, base, target)[f"{folder}/{names[0]}"]


def test_file_diffs_of_hunks_whose_lines_look_like_headers() -> None:
    patch = "\n".join(
        [
            "diff --git a/a.py b/a.py",
            "--- a/a.py",
            "+++ b/a.py",
            "@@ -2,2 +2,3 @@",
            "--- a/gone.py",
            "-rename from x",
            "+++ b/elsewhere.py",
            "+diff --git a/x b/x",
            "+@@ -1 +1 @@",
            "diff --git a/old name.py b/new name.py",
            "similarity index 100%",
            'rename from "old name.py"',
            "rename to new name.py",
            "diff --git a/mode.sh b/mode.sh",
            "old mode 100644",
            "new mode 100755",
            "diff --git a/img.png b/img.png",
            "Binary files a/img.png and b/img.png differ",
            "",
        ]
    )
    assert parse_file_diffs(patch) == [
        FileDiff("a.py", "a.py", ((2, 2, 2, 3),)),
        FileDiff("old name.py", "new name.py", (), renamed=True),
    ]


def test_raw_renames_read_names_as_they_are() -> None:
    raw = ":100644 100644 aaa bbb R090\0old\tname\0new\nname\0:100644 100644 ccc ddd M\0kept\0"
    assert parse_raw_renames(raw) == {"new\nname": "old\tname"}


def test_patch_ids_find_a_cherry_pick(repo: Repo) -> None:
    repo.write("a.py", "one\n")
    repo.commit("start")
    repo.git("checkout", "-q", "-b", "side")
    repo.write("b.py", "two\n")
    original = repo.commit("side change")
    repo.git("checkout", "-q", "main")
    repo.write("c.py", "three\n")
    other = repo.commit("main change")
    repo.git("cherry-pick", original)
    picked = repo.git("rev-parse", "HEAD").strip()
    ids = patch_ids(repo.root, [original, picked, other])
    assert ids[original] == ids[picked] != ids[other]
    assert independent_tips(repo.root, [original, picked, other, f"{other}"]) == sorted([original, picked])
    assert is_ancestor(repo.root, other, picked) and not is_ancestor(repo.root, original, picked)
    info = read_commit(repo.root, picked)
    assert info is not None and info.parents == (other,) and info.message.startswith("side change")
    assert rev_list(repo.root, picked, "--not", other) == [picked]
    assert read_commit(repo.root, "no-such-branch") is None


_sha = st.text("0123456789abcdef", min_size=40, max_size=40)


@given(_sha, _sha, st.text(max_size=40).filter(lambda t: "\n" not in t and "commit" not in t))
def test_messages_git_writes(first: str, second: str, subject: str) -> None:
    picked = f"{subject}\n\nbody\n\n(cherry picked from commit {first})\n(cherry picked from commit {second})\n"
    assert cherry_picked_from(picked) == list(dict.fromkeys([first, second]))
    assert cherry_picked_from(f"{subject}\n\nsee (cherry picked from commit {first})\n") == []
    assert reverted_commit(f'Revert "{subject}"\n\nThis reverts commit {first}.\n') == first
    assert reverted_commit(f"This reverts commit {first}, reversing\nchanges made to {second}.\n") == first
    assert reverted_commit(f"{subject}\n") is None
    squash = f"Squashed commit of the following:\n\ncommit {first}\nAuthor: A <a@b>\n\n    commit {second}\n"
    assert squashed_commits(f"{subject}\n\n{squash}") == [first]
    assert squashed_commits(f"{subject}\n\ncommit {first}\n") == []
