"""Fixtures for the pytest plugin: an inner pytest run in a subprocess, in a real git repository.

The plugin is loaded through its ``pytest11`` entry point, exactly as in a user's project; a
subprocess keeps the inner run's sensor, coverage and invariant mode out of this test process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from codewitness.attribution.notes import CommitNote, NoteEntry, write_note
from tests.conftest import GitRepo

#: calc.py as committed: lines 1-6 by a person (first commit), 7-14 added by the second commit,
#: whose codewitness note calls lines 9-12 AI-written and 13-14 mixed (AI lines a person edited).
HUMAN_PART = """\
def human_add(a, b):
    return a + b


def human_unused(a):
    return a * 2
"""
AI_PART = """\


def ai_clamp(value, low, high):
    if value < low:
        return low
    if value > high:
        return high
    return value
"""
#: Calls human_add and ai_clamp with a value inside the bounds: executed statements are
#: human 1, 2, 5 (of 1, 2, 5, 6), AI 9, 10, 12 (of 9-12), mixed 14 (of 13, 14).
TEST_CALC = """\
from calc import ai_clamp, human_add


def test_add():
    assert human_add(1, 2) == 3


def test_clamp():
    assert ai_clamp(5, 0, 10) == 5
"""

RunPytest = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def calc_repo(git_repo: GitRepo) -> GitRepo:
    """A repository whose calc.py is partly AI-written (by a codewitness note), with a test file."""
    git_repo.write("calc.py", HUMAN_PART)
    git_repo.commit("human part")
    git_repo.write("calc.py", HUMAN_PART + AI_PART)
    sha = git_repo.commit("add ai_clamp")
    note = CommitNote(
        files={
            "calc.py": (
                NoteEntry("ai", ((9, 12),), ("gen_calc",), agent="claude-code", model="claude-sonnet-4-5"),
                NoteEntry("mixed", ((13, 14),), ("gen_calc",), agent="claude-code", model="claude-sonnet-4-5"),
            )
        }
    )
    write_note(git_repo.root, sha, note)
    git_repo.write("test_calc.py", TEST_CALC)
    git_repo.commit("tests")
    return git_repo


@pytest.fixture
def run_pytest(tmp_path: Path) -> RunPytest:
    """Run pytest in ``cwd`` in a fresh interpreter; returns the finished process (output as text)."""

    def run(
        cwd: Path, *args: str, env: dict[str, str] | None = None, runner: tuple[str, ...] = ()
    ) -> subprocess.CompletedProcess[str]:
        full_env = {
            **os.environ,
            "GIT_CEILING_DIRECTORIES": str(tmp_path),
            "CODEWITNESS_DB": f"sqlite:///{tmp_path / 'witness.db'}",
            "COVERAGE_FILE": str(tmp_path / ".coverage"),
            "PYTHONDONTWRITEBYTECODE": "1",
            **(env or {}),
        }
        full_env.pop("PYTEST_ADDOPTS", None)
        command = [sys.executable, *(runner or ("-m",)), "pytest", "-p", "no:cacheprovider", "-q", *args]
        return subprocess.run(command, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=300, check=False)

    return run


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path
