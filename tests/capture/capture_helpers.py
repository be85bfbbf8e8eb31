"""Helpers for the capture tests: payload fixtures, a runner that plays an agent's hooks, and a simulated forge."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from codewitness.capture import hook
from codewitness.capture.setup import install

FIXTURES = Path(__file__).parent / "fixtures"


def fixture_text(name: str, **values: str) -> str:
    """A fixture file with ``${NAME}`` placeholders filled (JSON-escaped)."""
    text = (FIXTURES / name).read_text("utf-8")
    for key, value in values.items():
        text = text.replace("${" + key + "}", json.dumps(value)[1:-1])
    return text


@dataclass
class Hooks:
    """Runs agent hooks against one repository, as the agent would."""

    root: Path
    monkeypatch: pytest.MonkeyPatch

    def payload(self, name: str, **values: str) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(fixture_text(name, ROOT=str(self.root), **values))
        return loaded

    def run(self, agent: str, payload: dict[str, Any] | str | bytes) -> int:
        """Run the hook in this process (fast), feeding ``payload`` on stdin."""
        data = (
            payload
            if isinstance(payload, bytes)
            else (payload if isinstance(payload, str) else json.dumps(payload)).encode("utf-8")
        )
        stdin = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8")
        self.monkeypatch.setattr(sys, "stdin", stdin)
        self.monkeypatch.chdir(self.root)
        return hook.main([agent])

    def run_process(self, agent: str, payload: dict[str, Any]) -> subprocess.CompletedProcess[bytes]:
        """Run the hook as its own process, exactly as the installed command does."""
        return subprocess.run(
            [sys.executable, "-m", "codewitness.capture.hook", agent],
            input=json.dumps(payload).encode("utf-8"),
            cwd=self.root,
            capture_output=True,
            check=False,
            timeout=60,
        )

    def log(self) -> str:
        path = self.root / ".codewitness" / "log"
        return path.read_text("utf-8") if path.exists() else ""

    def claude_write(self, name: str, text: str = "x = 1\n", call: str | None = None) -> None:
        """A Claude Code Write of ``name``: PreToolUse, the file written, PostToolUse."""
        pre = {
            "session_id": "s",
            "cwd": str(self.root),
            "hook_event_name": "PreToolUse",
            "tool_name": "Write",
            "tool_use_id": call or f"toolu_{name}",
            "tool_input": {"file_path": str(self.root / name), "content": text},
        }
        assert self.run("claude", pre) == 0
        (self.root / name).parent.mkdir(parents=True, exist_ok=True)
        (self.root / name).write_text(text)
        assert self.run("claude", {**pre, "hook_event_name": "PostToolUse"}) == 0


def git(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=False, env={**os.environ, **(env or {})}
    )
    if proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed in {cwd}: {proc.stderr.strip()}")
    return proc.stdout


@dataclass
class Forge:
    """The bare origin, the developer's clone (``dev``) and the server's own clone (``server``)."""

    origin: Path
    dev: Any
    server: Path
    branch_commits: list[str]

    def land(self, *args: str, env: dict[str, str] | None = None) -> str:
        """Run git in the server clone (no hooks there) and return its HEAD."""
        git(self.server, *args, env=env)
        return git(self.server, "rev-parse", "HEAD").strip()

    def before(self) -> str:
        git(self.server, "fetch", "-q", "origin")
        git(self.server, "reset", "-q", "--hard", "origin/main")
        return git(self.server, "rev-parse", "HEAD").strip()

    def squash(self, message: str, author: str = "Dana Developer <dana@example.com>") -> str:
        """Land the branch as one commit, as GitHub's "Squash and merge" does."""
        git(self.server, "merge", "-q", "--squash", "origin/feature")
        name, email = author[:-1].split(" <")
        env = {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email, "GIT_COMMITTER_NAME": "GitHub"}
        return self.land("commit", "-q", "-m", message, env=env)

    def push_main(self) -> None:
        git(self.server, "push", "-q", "origin", "HEAD:main")

    def ci_clone(self, tmp: Path, *refs: str) -> Path:
        """A fresh clone as a CI job makes it: full history, notes fetched, chosen extra refs."""
        clone = tmp / f"ci{len(list(tmp.glob('ci*')))}"
        git(tmp, "clone", "-q", self.origin.as_uri(), str(clone))
        git(clone, "config", "user.name", "CI")
        git(clone, "config", "user.email", "ci@example.com")
        git(clone, "fetch", "-q", "origin", "+refs/notes/*:refs/notes/*", *refs)
        return clone


def make_forge(installed: Any, hooks: Hooks, tmp_path: Path) -> Forge:
    """Origin, the developer's clone with an agent's branch pushed (notes too), a server clone; main moved on."""
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    url = origin.as_uri()  # file://: a clone over a transport, not a copy of every object
    installed.git("remote", "add", "origin", url)
    install(installed.root, ("claude",))  # again, now that there is a remote: the notes refspecs
    installed.git("push", "-q", "origin", "main")
    installed.git("checkout", "-q", "-b", "feature")
    hooks.claude_write("src/net.py", PARSER)
    hooks.claude_write("src/util.py", "def clamp(x, lo, hi):\n    return max(lo, min(hi, x))\n")
    first = installed.commit("Parse ports; clamp")
    installed.write("src/net.py", PARSER + "\n\nDEFAULT = parse_port('8080')\n")
    second = installed.commit("A default port")
    installed.git("push", "-q", "origin", "feature")  # the push refspecs send the notes too
    assert installed.git("ls-remote", str(origin), "refs/notes/codewitness").strip(), "notes were not pushed"
    server = tmp_path / "server"
    git(tmp_path, "clone", "-q", url, str(server))
    git(server, "config", "user.name", "Forge")
    git(server, "config", "user.email", "noreply@forge.example")
    git(server, "config", "core.hooksPath", "/dev/null")
    # Main moves on meanwhile.
    (server / "CHANGES.txt").write_text("1.1\n")
    git(server, "add", "CHANGES.txt")
    git(server, "commit", "-q", "-m", "changes")
    git(server, "push", "-q", "origin", "HEAD:main")
    return Forge(origin, installed, server, [first, second])


#: What the agent wrote on the forge's feature branch (src/net.py; src/util.py is two lines).
PARSER = (
    "def parse_port(text):\n"
    "    port = int(text.strip())\n"
    "    if not 0 < port < 65536:\n"
    "        raise ValueError(f'port out of range: {port}')\n"
    "    return port\n"
)
