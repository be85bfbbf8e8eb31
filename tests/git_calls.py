"""Which git commands a piece of code runs: a ``git`` on ``PATH`` that logs its arguments and runs the real git."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest


def log_git_calls(monkeypatch: pytest.MonkeyPatch, folder: Path) -> Path:
    """Put a logging ``git`` first on ``PATH`` for the rest of the test; returns the log (one line per call)."""
    real = shutil.which("git")
    assert real is not None, "git is needed"
    shim = folder / "git-shim" / "git"
    shim.parent.mkdir(parents=True)
    log = folder / "git-calls.log"
    log.write_text("")
    shim.write_text(f'#!/bin/sh\necho "$@" >> "{log}"\nexec "{real}" "$@"\n')
    shim.chmod(shim.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{shim.parent}{os.pathsep}{os.environ['PATH']}")
    return log
