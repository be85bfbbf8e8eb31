"""Fixtures for the metrics tests: repositories whose AI code arrives through the real capture hooks,
a package index and an HTTP receiver on loopback.

* ``project`` -- a git repository with codewitness's Claude Code and git hooks installed; its
  :meth:`Project.claude_write` plays what Claude Code does for a Write (PreToolUse, the file written,
  PostToolUse), with a transcript that names the model and prompt and carries token usage and
  timestamps; :meth:`Project.commit` commits, and the installed post-commit hook (a real process)
  writes the note and records the generations.
* ``receiver`` -- a loopback HTTP server that records every request and answers what it is told.
* ``index`` -- a PEP 691 Simple API on loopback that knows no package at all (every lookup is a 404).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
from metrics_helpers import Project, Receiver, serve

from codewitness.capture.setup import install


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A loopback HTTP server recording requests (a webhook, an OTLP collector, a package index)."""
    state = Receiver(url="")
    server = ThreadingHTTPServer(("127.0.0.1", 0), serve(state))
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    """A git repository with codewitness's Claude Code and git hooks installed, and a first commit."""
    root = tmp_path / "repo"
    root.mkdir()
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    p = Project(root, monkeypatch)
    p.git("init", "-q", "-b", "main")
    p.git("config", "user.name", "Dana Developer")
    p.git("config", "user.email", "dana@example.com")
    p.git("config", "commit.gpgsign", "false")
    p.write("codewitness.toml", "# test project\n")
    p.write("pyproject.toml", '[project]\nname = "app"\nversion = "0"\ndependencies = []\n')
    p.write("app/__init__.py", "")
    install(root, ("claude",))
    p.commit("Start", days_ago=30)
    monkeypatch.chdir(root)
    return p
