"""Real git repositories built in temporary folders for the attribution tests."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from codewitness.attribution.notes import CommitNote, NoteEntry, write_note

HUMAN = "Dana Dev <dana@example.com>"
CLAUDE_TRAILER = "\n\nCo-Authored-By: Claude Opus 4.5 <noreply@anthropic.com>\n"


class Repo:
    """A git repository in a temp folder with helpers to write files, commit and attach notes."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._tick = 1_700_000_000
        root.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")
        self.git("config", "user.name", "Dana Dev")
        self.git("config", "user.email", "dana@example.com")
        self.git("config", "commit.gpgsign", "false")

    def git(self, *args: str, input: str | None = None) -> str:
        env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(self.root)}
        proc = subprocess.run(
            ["git", *args], cwd=self.root, input=input, capture_output=True, text=True, env=env, check=False
        )
        if proc.returncode != 0:
            raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr}")
        return proc.stdout

    def write(self, path: str, text: str | bytes) -> None:
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            target.write_bytes(text)
        else:
            target.write_text(text)

    def commit(self, message: str, author: str = HUMAN, *, all_files: bool = True) -> str:
        """Commit everything; timestamps increase by one minute per commit so order is stable."""
        if all_files:
            self.git("add", "-A")
        self._tick += 60
        name, email = author.split(" <")
        env_date = f"{self._tick} +0000"
        env = {
            **os.environ,
            "GIT_AUTHOR_NAME": name,
            "GIT_AUTHOR_EMAIL": email.rstrip(">"),
            "GIT_AUTHOR_DATE": env_date,
            "GIT_COMMITTER_DATE": env_date,
            "HOME": str(self.root),
        }
        subprocess.run(["git", "commit", "-q", "--allow-empty", "-m", message], cwd=self.root, env=env, check=True)
        return self.head()

    def head(self) -> str:
        return self.git("rev-parse", "HEAD").strip()

    def note(self, commit: str, files: dict[str, list[NoteEntry]]) -> None:
        write_note(self.root, commit, CommitNote(files={p: tuple(e) for p, e in files.items()}))

    def raw_note(self, ref: str, commit: str, text: str) -> None:
        self.git("notes", "--ref", ref, "add", "-f", "-F", "-", commit, input=text)


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Repo]:
    yield Repo(tmp_path / "repo")


def lines(n: int, prefix: str = "x") -> str:
    """``n`` distinct Python statements."""
    return "".join(f"{prefix}{i} = {i}\n" for i in range(1, n + 1))
