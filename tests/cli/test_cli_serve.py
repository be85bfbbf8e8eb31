"""``codewitness token create|list|revoke`` and ``codewitness serve``'s refusals, as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from tests.runtime_records import aggregate

from codewitness.store import open_store
from codewitness.store.tokens import create_token, digest, verify_token


def cw(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODEWITNESS_")}
    return subprocess.run(
        [sys.executable, "-m", "codewitness", *args], cwd=cwd, capture_output=True, text=True, timeout=120, env=env
    )


def test_a_token_is_shown_once_stored_hashed_listed_and_revoked(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'w.db'}"
    made = cw("--db", db, "token", "create", "ci", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    secret = made.stdout.strip()
    assert secret.startswith("cw_") and len(secret) > 40 and "shown only now" in made.stderr
    raw = (tmp_path / "w.db").read_bytes()
    assert secret.encode() not in raw and digest(secret).encode() in raw
    listed = json.loads(cw("--db", db, "token", "list", "--json", cwd=tmp_path).stdout)
    assert [(t["name"], t["revoked_at"]) for t in listed] == [("ci", None)]
    assert secret not in json.dumps(listed)
    with open_store(db) as store:
        assert verify_token(store, secret) is not None
    gone = cw("--db", db, "token", "revoke", listed[0]["id"], cwd=tmp_path)
    assert gone.returncode == 0 and "revoked" in gone.stdout
    with open_store(db) as store:
        assert verify_token(store, secret) is None
    unknown = cw("--db", db, "token", "revoke", "nope", cwd=tmp_path)
    assert unknown.returncode == 1 and "codewitness token list" in unknown.stderr and "Traceback" not in unknown.stderr
    assert cw("--db", db, "token", "create", "  ", cwd=tmp_path).returncode == 2


def test_serve_refuses_several_workers_on_sqlite_and_a_bad_auth_mode(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'w.db'}"
    workers = cw("serve", "--db", db, "--workers", "2", "--port", "0", cwd=tmp_path)
    assert workers.returncode == 2 and "PostgreSQL" in workers.stderr and "Traceback" not in workers.stderr
    auth = cw("serve", "--db", db, "--auth", "maybe", cwd=tmp_path)
    assert auth.returncode == 2 and "--auth is write or read" in auth.stderr
    bad_db = cw("serve", "--db", "mysql://x/y", cwd=tmp_path)
    assert bad_db.returncode == 1 and "unsupported database" in bad_db.stderr


@pytest.mark.postgres
def test_serve_runs_several_workers_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    from tests.server.conftest import start_server

    with open_store(pg_url) as store:
        token = create_token(store, "workers").secret
    process, url = start_server(pg_url, tmp_path, tmp_path / "server.log", "--workers", "2")
    try:
        answers = [
            requests.post(
                f"{url}/api/v1/ingest",
                data=json.dumps(aggregate(f"shop.f{i}", [1000])).encode() + b"\n",
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            )
            for i in range(6)
        ]
        assert [a.status_code for a in answers] == [200] * 6
        listed = requests.get(f"{url}/api/v1/functions", timeout=30).json()
        assert listed["total"] == 6
    finally:
        process.terminate()
        process.wait(20)
    assert "Started parent process" in (tmp_path / "server.log").read_text()


def test_the_server_program_reads_the_settings_serve_leaves_it(tmp_path: Path) -> None:
    from codewitness.cli.serve_cmd import SERVER_SETTINGS_ENV
    from codewitness.server.app import SETTINGS_ENV

    assert SERVER_SETTINGS_ENV == SETTINGS_ENV
    env = {k: v for k, v in os.environ.items() if k != SETTINGS_ENV}
    alone = subprocess.run(
        [sys.executable, "-m", "codewitness.server"], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert alone.returncode == 2 and "codewitness serve" in alone.stderr and "Traceback" not in alone.stderr
    env[SETTINGS_ENV] = "{not json"
    broken = subprocess.run(
        [sys.executable, "-m", "codewitness.server"], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert broken.returncode == 2 and "not the server's settings" in broken.stderr
