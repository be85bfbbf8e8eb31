"""`.codewitness/` goes into `.gitignore` once, whatever creates it first inside a repository."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codewitness._statedir import IGNORE_LINE, ignore_in_git, ignores_state, make_dirs
from tests.conftest import GitRepo


def test_made_inside_a_repository_it_is_ignored_once(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / ".gitignore").write_text("*.pyc")  # no newline at the end
    make_dirs(tmp_path / ".codewitness" / "cache")
    assert (tmp_path / ".gitignore").read_text() == "*.pyc\n.codewitness/\n"
    assert (tmp_path / ".codewitness").stat().st_mode & 0o777 == 0o700
    make_dirs(tmp_path / ".codewitness" / "spool")
    assert ignore_in_git(tmp_path / ".codewitness") is False
    assert (tmp_path / ".gitignore").read_text().count(".codewitness") == 1


def test_a_folder_already_ignored_or_outside_git_is_left_alone(tmp_path: Path) -> None:
    outside = tmp_path / "plain"
    make_dirs(outside / ".codewitness")
    assert not (outside / ".gitignore").exists()
    inside = tmp_path / "repo"
    (inside / ".git").mkdir(parents=True)
    (inside / ".gitignore").write_text("/.codewitness\n")
    make_dirs(inside / "sub" / ".codewitness")  # a project below the top: its own .gitignore
    assert (inside / "sub" / ".gitignore").read_text() == IGNORE_LINE + "\n"
    make_dirs(inside / ".codewitness")
    assert (inside / ".gitignore").read_text() == "/.codewitness\n"


def test_a_symlinked_gitignore_is_not_written_through(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_text("keep\n")
    (tmp_path / ".gitignore").symlink_to(elsewhere)
    make_dirs(tmp_path / ".codewitness")
    assert elsewhere.read_text() == "keep\n"


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    lines=st.lists(
        st.one_of(
            st.sampled_from(["*.pyc", ".codewitness", "/.codewitness/", "  .codewitness/  ", "# .codewitness/", ""]),
            st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=20),
        ),
        max_size=6,
    ),
    newline=st.booleans(),
)
def test_ignoring_keeps_every_line_and_adds_at_most_one(tmp_path: Path, lines: list[str], newline: bool) -> None:
    root = tmp_path / f"r{abs(hash((tuple(lines), newline)))}"
    (root / ".git").mkdir(parents=True, exist_ok=True)
    before = "\n".join(lines) + ("\n" if newline and lines else "")
    (root / ".gitignore").write_text(before, encoding="utf-8")
    added = ignore_in_git(root / ".codewitness")
    after = (root / ".gitignore").read_text(encoding="utf-8")
    assert added == (not ignores_state(before))
    assert after.startswith(before) and ignores_state(after)
    assert ignore_in_git(root / ".codewitness") is False
    assert (root / ".gitignore").read_text(encoding="utf-8") == after


def _cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODEWITNESS_")}
    proc = subprocess.run(
        [sys.executable, "-m", "codewitness", *args], cwd=root, capture_output=True, text=True, env=env, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return proc


@pytest.mark.parametrize(
    "first",
    [("generations", "list"), ("status",), ("manifest", "build"), ("check", "--offline", "--only", "apis")],
)
def test_the_first_command_to_make_it_ignores_it_and_init_does_not_repeat_it(
    git_repo: GitRepo, first: tuple[str, ...]
) -> None:
    git_repo.write("app.py", "def f():\n    return 1\n")
    git_repo.commit("app")
    _cli(git_repo.root, *first)
    assert (git_repo.root / ".codewitness").is_dir()
    assert (git_repo.root / ".gitignore").read_text() == ".codewitness/\n"
    _cli(git_repo.root, "report")
    _cli(git_repo.root, "init", "--agents", "claude")
    assert (git_repo.root / ".gitignore").read_text().count(".codewitness") == 1
    assert git_repo.git("status", "--porcelain", "--ignored", ".codewitness").startswith("!! .codewitness/")
