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
    added_lines,
    blame_porcelain,
    parse_added_lines,
    parse_commit,
    parse_porcelain,
    resolve,
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
