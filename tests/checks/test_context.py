"""Which files and lines a check looks at."""

from __future__ import annotations

from pathlib import Path

import pytest

from codewitness.checks.context import CheckContext, changed_lines
from codewitness.errors import GitError, InputError
from tests.checks.conftest import git


def rels(ctx: CheckContext) -> list[str]:
    return sorted(f.rel for f in ctx.files)


def test_git_repo_honours_gitignore(repo):
    (repo / ".gitignore").write_text("generated/\n.venv*/\n")
    for rel in ("app/main.py", "generated/big.py", ".venv-x/lib/site.py", "requirements.txt", "notes.txt"):
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text("x = 1\n")
    assert rels(CheckContext.build(repo)) == ["app/main.py", "requirements.txt"]
    assert rels(CheckContext.build(repo, [repo / "app"])) == ["app/main.py"]


def test_plain_folder_skips_virtualenvs_and_hidden_folders(tmp_path):
    for rel in ("pkg/a.py", "env/lib/b.py", ".hidden/c.py", "node_modules/d.py", "pkg/package.json"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("{}\n" if rel.endswith(".json") else "x = 1\n")
    (tmp_path / "env" / "pyvenv.cfg").write_text("home = /usr\n")
    assert rels(CheckContext.build(tmp_path)) == ["pkg/a.py", "pkg/package.json"]


def test_changed_lines_against_base(repo):
    (repo / "a.py").write_text("one\ntwo\nthree\n")
    (repo / "ü name.py").write_text("x\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "files")
    (repo / "a.py").write_text("one\nTWO\nthree\nfour\n")
    (repo / "ü name.py").write_text("x\ny\n")
    (repo / "new.py").write_text("n1\nn2\n")
    changed = changed_lines(repo, "HEAD")
    assert changed["a.py"] == {2, 4}
    assert changed["ü name.py"] == {2}
    assert changed["new.py"] == {1, 2, 3}
    ctx = CheckContext.build(repo, base="HEAD")
    assert rels(ctx) == ["a.py", "new.py", "ü name.py"]
    assert ctx.files[0].in_scope(2) and not ctx.files[0].in_scope(1)


def test_errors_are_one_line_and_typed(repo, tmp_path):
    with pytest.raises(InputError, match="no such file"):
        CheckContext.build(repo, [repo / "missing"])
    with pytest.raises(GitError, match="not a commit"):
        changed_lines(repo, "nope")
    with pytest.raises(GitError):
        changed_lines(tmp_path, "HEAD")


def test_invalid_python_is_skipped_and_counted(tmp_path):
    (tmp_path / "bad.py").write_text("def (:\n")
    (tmp_path / "bin.py").write_bytes(b"\x00\xff\xfe")
    ctx = CheckContext.build(tmp_path)
    assert list(ctx.python_files()) == []
    assert sorted(p for p, _ in ctx.skipped) == ["bad.py", "bin.py"]


def test_relative_paths_are_relative_to_the_root(repo, monkeypatch):
    (repo / "pkg").mkdir()
    (repo / "pkg" / "m.py").write_text("x = 1\n")
    monkeypatch.chdir(repo / "pkg")
    assert rels(CheckContext.build(repo, [Path("m.py")])) == ["pkg/m.py"]


def test_changed_lines_of_files_git_quotes_and_lines_that_look_like_headers(repo):
    names = ["日\tx.py", 'quote"d.py', "back\\slash.py", "new\nline.py"]
    for name in names:
        (repo / name).write_text("one\ntwo\n" + "".join(f"{i}\n" for i in range(10)))
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "odd names")
    for name in names:
        # an added "++ b/y.py" shows as "+++ b/y.py" in the patch; the later hunk stays this file's
        (repo / name).write_text("one\n++ b/y.py\n" + "".join(f"{i}\n" for i in range(9)) + "changed\n")
    assert changed_lines(repo, "HEAD") == {name: frozenset({2, 12}) for name in names}


def test_files_resolve_as_path_resolve_does_links_included(tmp_path: Path) -> None:
    from codewitness.checks.context import _Resolver

    real = tmp_path / "real"
    (real / "pkg").mkdir(parents=True)
    (real / "pkg" / "a.py").write_text("a = 1\n")
    (real / "b.py").write_text("b = 1\n")
    (tmp_path / "linked").symlink_to(real, target_is_directory=True)
    (real / "pkg" / "alias.py").symlink_to(real / "b.py")
    (real / "pkg" / "dangling.py").symlink_to(real / "gone.py")
    (real / "loop.py").symlink_to(real / "loop.py")
    paths = [
        real / "pkg" / "a.py",
        tmp_path / "linked" / "pkg" / "a.py",
        tmp_path / "linked" / "b.py",
        real / "pkg" / "alias.py",
        tmp_path / "linked" / "pkg" / "alias.py",
        real / "pkg" / "dangling.py",
        real / "pkg" / ".." / "b.py",
        real / "missing.py",
    ]
    resolve = _Resolver()
    for path in paths * 2:  # the second time from the folders it knows
        assert resolve(path) == path.resolve(), path
    # A loop: Path.resolve raises RuntimeError (3.11, 3.12) or OSError, or returns the path (3.13.0
    # here), by Python version; the resolver does what it does.
    looped = real / "loop.py"
    try:
        expected: object = looped.resolve()
    except (RuntimeError, OSError) as exc:
        with pytest.raises(type(exc)):
            resolve(looped)
    else:
        assert resolve(looped) == expected
