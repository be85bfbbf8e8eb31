"""Helpers for the capture tests: payload fixtures and a runner that plays an agent's hooks."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from codewitness.capture import hook

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
