"""Parsing ``git blame --porcelain`` against git's own one-record-per-line output, on generated histories."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codewitness.attribution._gitio import BlameRow, CatFile, blame_porcelain, parse_commit, parse_porcelain

from .conftest import Repo


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
