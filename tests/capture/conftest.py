"""Fixtures for the capture tests: a repository with codewitness installed, and hook runners."""

from __future__ import annotations

from typing import Any

import pytest
from capture_helpers import Hooks

from codewitness.capture.setup import install


@pytest.fixture
def installed(git_repo: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """``git_repo`` with one initial commit and codewitness installed for every agent."""
    git_repo.write("README.md", "# demo\n")
    git_repo.commit("initial")
    install(git_repo.root, ("claude", "cursor", "codex", "gemini"))
    git_repo.git("add", "-A")
    git_repo.git("commit", "-q", "-m", "codewitness init")
    return git_repo


@pytest.fixture
def hooks(installed: Any, monkeypatch: pytest.MonkeyPatch) -> Hooks:
    return Hooks(installed.root, monkeypatch)
