"""Files that hold prompts, code and captured values are created readable by their owner only:
the store (``witness.db`` and SQLite's -wal/-shm), the pending journal and the hook's files, the
sensor's spool folder and segments. Folders 0700, files 0600, whatever the umask lets through."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert

from codewitness.capture.journal import Journal
from codewitness.capture.setup import install
from codewitness.ingest import read_spool
from codewitness.model import utcnow
from codewitness.sensor.export import Spool
from codewitness.store import open_store, schema

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def _usual_umask() -> Iterator[None]:
    old = os.umask(0o022)  # the common default: without our modes, files would be 0644
    try:
        yield
    finally:
        os.umask(old)


def test_a_new_store_and_its_folders_are_private(tmp_path: Path) -> None:
    db = tmp_path / "a" / "b" / "witness.db"
    store = open_store(f"sqlite:///{db}")
    try:
        with store.write() as conn:
            conn.execute(insert(schema.prompts).values(hash="h" * 64, text="a prompt", created_at=utcnow()))
        with store.read() as conn:
            assert conn.execute(schema.prompts.select()).first() is not None
        files = [db, *db.parent.glob("witness.db-*")]
        assert {p.name for p in files} >= {"witness.db", "witness.db-wal", "witness.db-shm"}
        assert {p.name: _mode(p) for p in files} == {p.name: 0o600 for p in files}
    finally:
        store.close()
    assert _mode(tmp_path / "a") == 0o700 and _mode(tmp_path / "a" / "b") == 0o700


def test_an_existing_store_keeps_its_mode(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    open_store(f"sqlite:///{db}").close()
    db.chmod(0o640)  # a team's choice: not ours to undo
    open_store(f"sqlite:///{db}").close()
    assert _mode(db) == 0o640


def test_the_journal_and_its_folder_are_private(tmp_path: Path) -> None:
    folder = tmp_path / "repo" / ".codewitness"
    folder.parent.mkdir()
    with Journal.open(folder) as journal, journal.batch():
        journal.put_snapshot("k", "a.py", "secret = 1\n")
    assert _mode(folder) == 0o700
    files = list(folder.glob("pending.db*"))
    assert "pending.db" in {p.name for p in files}
    assert {p.name: _mode(p) for p in files} == {p.name: 0o600 for p in files}


def test_init_and_the_real_hook_create_private_files(git_repo: Any) -> None:
    root: Path = git_repo.root
    (root / "README.md").write_text("# demo\n", "utf-8")
    install(root, ("claude",))
    assert _mode(root / ".codewitness") == 0o700
    (root / "a.py").write_text("A = 1\n", "utf-8")
    payload = {
        "session_id": "s",
        "cwd": str(root),
        "hook_event_name": "PostToolUse",
        "tool_name": "Write",
        "tool_use_id": "t",
        "tool_input": {"file_path": "a.py", "content": "A = 1\n"},
        "tool_response": {"type": "create", "originalFile": None},
    }
    for data in (json.dumps(payload), "{not json"):  # the second one writes the log
        done = subprocess.run(
            [sys.executable, "-m", "codewitness.capture.hook", "claude"],
            input=data.encode(),
            cwd=root,
            capture_output=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0
    folder = root / ".codewitness"
    made = {p.name: _mode(p) for p in folder.iterdir() if p.name.startswith(("pending.db", "log", "hook-settings"))}
    assert {"pending.db", "log", "hook-settings.json"} <= set(made), made
    assert made == dict.fromkeys(made, 0o600)


def test_the_spool_folder_and_its_segments_are_private(tmp_path: Path) -> None:
    folder = tmp_path / "spool"
    spool = Spool(folder, max_bytes=1 << 20, segment_bytes=200)
    for n in range(5):
        spool.export([{"kind": "aggregate", "id": f"a{n}", "note": "x" * 100}])
    spool.close()
    segments = sorted(folder.glob("seg-*.jsonl"))
    assert len(segments) >= 2
    assert _mode(folder) == 0o700
    assert {_mode(p) for p in segments} == {0o600}
    assert sum(len(records) for _, records, _ in read_spool(folder)) == 5
