"""The repository driver and HTTP receiver the metrics tests share (fixtures in conftest.py)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from codewitness.capture import hook
from codewitness.config import load_config
from codewitness.store import Store, open_store

MODEL = "claude-sonnet-4-5-20250929"


@dataclass
class Request:
    """One request the receiver got."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A loopback HTTP server: every request is kept; ``status`` is what it answers."""

    url: str
    requests: list[Request] = field(default_factory=list)
    status: int = 200
    answers: dict[str, tuple[int, bytes, str]] = field(default_factory=dict)

    def posts(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.method == "POST" and r.path == path]


def serve(state: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            state.requests.append(Request(self.command, self.path, headers, body))
            status, data, ctype = state.answers.get(self.path, (state.status, b"{}", "application/json"))
            if self.path.startswith("/simple/") and self.path not in state.answers:
                status, data = 404, b'{"message": "not found"}'
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _handle

    return Handler


@dataclass
class Project:
    """A repository with codewitness's hooks, driven as an agent and a person would."""

    root: Path
    monkeypatch: pytest.MonkeyPatch
    calls: int = 0
    clock: datetime = field(default_factory=lambda: datetime(2026, 11, 20, 9, 0, tzinfo=UTC))

    def git(self, *args: str, env: dict[str, str] | None = None) -> str:
        import os

        proc = subprocess.run(
            ["git", *args],
            cwd=self.root,
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, **(env or {})},
            timeout=120,
        )
        assert proc.returncode == 0, f"git {' '.join(args)}: {proc.stderr}"
        return proc.stdout

    def write(self, path: str, text: str) -> None:
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")

    def config(self, text: str) -> None:
        """Append to the project's codewitness.toml."""
        with (self.root / "codewitness.toml").open("a", encoding="utf-8") as handle:
            handle.write(text + "\n")

    def _hook(self, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode("utf-8")
        self.monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))
        self.monkeypatch.chdir(self.root)
        assert hook.main(["claude"]) == 0

    def claude_write(
        self,
        path: str,
        text: str,
        *,
        prompt: str,
        model: str = MODEL,
        latency_s: float = 2.0,
        tokens: tuple[int, int] | None = (1200, 300),
        session: str = "session-1",
        on_disk: str | None = None,
    ) -> str:
        """A Claude Code Write of ``path``: the transcript lines, PreToolUse, the file, PostToolUse.

        ``on_disk`` is what the file holds after the tool ran, when it differs from ``text`` (never
        for a real Write; it lets a test put a person's change in between). Returns the tool call id.
        """
        self.calls += 1
        call = f"toolu_{self.calls:04d}"
        transcript = self.root.parent / f"transcript-{session}.jsonl"
        asked = self.clock
        answered = asked + timedelta(seconds=latency_s)
        self.clock = answered + timedelta(seconds=30)
        message: dict[str, Any] = {
            "id": f"msg_{self.calls:04d}",
            "role": "assistant",
            "model": model,
            "content": [
                {
                    "type": "tool_use",
                    "id": call,
                    "name": "Write",
                    "input": {"file_path": str(self.root / path), "content": text},
                }
            ],
        }
        if tokens is not None:
            message["usage"] = {"input_tokens": tokens[0], "output_tokens": tokens[1]}
        lines = [
            {
                "type": "user",
                "sessionId": session,
                "timestamp": asked.isoformat(),
                "message": {"role": "user", "content": prompt},
            },
            {"type": "assistant", "sessionId": session, "timestamp": answered.isoformat(), "message": message},
        ]
        with transcript.open("a", encoding="utf-8") as handle:
            handle.writelines(json.dumps(line) + "\n" for line in lines)
        payload: dict[str, Any] = {
            "session_id": session,
            "transcript_path": str(transcript),
            "cwd": str(self.root),
            "hook_event_name": "PreToolUse",
            "tool_name": "Write",
            "tool_use_id": call,
            "tool_input": {"file_path": str(self.root / path), "content": text},
        }
        self._hook(payload)
        self.write(path, text if on_disk is None else on_disk)
        self._hook({**payload, "hook_event_name": "PostToolUse", "tool_response": {"type": "create"}})
        return call

    def commit(self, message: str, *, days_ago: float | None = None) -> str:
        env = None
        if days_ago is not None:
            stamp = (datetime.now(UTC) - timedelta(days=days_ago)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
            env = {"GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp}
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message, env=env)
        return self.git("rev-parse", "HEAD").strip()

    def store(self) -> Store:
        return open_store(load_config(self.root).database_url)

    def codewitness(self, *args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
        """Run the real command line in the project, as a person would."""
        import os

        env = {k: v for k, v in os.environ.items() if not k.startswith("CODEWITNESS_")}
        env["COLUMNS"] = "200"
        proc = subprocess.run(
            [sys.executable, "-m", "codewitness", *args],
            cwd=self.root,
            capture_output=True,
            text=True,
            check=False,
            env=env,
            timeout=300,
        )
        if check:
            assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc
