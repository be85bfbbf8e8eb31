"""Fixtures every test folder may use.

* ``postgres_server`` — a real PostgreSQL server started for the test session in a temp
  directory (Debian's ``postgresql`` package; nothing pre-running is assumed). When run as
  root it runs as the ``postgres`` system user, since PostgreSQL refuses to run as root.
* ``pg_url`` — a fresh, empty database on that server for one test.
* ``store`` — an open :class:`~codewitness.store.Store`, parametrized over SQLite and PostgreSQL.
* ``git_repo`` — an empty git repository in a temp folder, with an identity configured.

Without PostgreSQL binaries the PostgreSQL cases are skipped locally, but fail under CI
(``CI=true``), where ``.ci/run`` installs them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import settings

from codewitness.store import Store, open_store

# Hypothesis's default 200 ms deadline per example is a timing assertion, and the suite makes none
# (performance is measured in benchmarks/): on a loaded CI machine it failed examples that are right.
settings.register_profile("codewitness", deadline=None)
settings.load_profile("codewitness")


@pytest.fixture(autouse=True)
def _isolate_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's CODEWITNESS_* settings."""
    for name in list(os.environ):
        if name.startswith("CODEWITNESS_"):
            monkeypatch.delenv(name)


def _postgres_bindir() -> Path | None:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]), reverse=True)
    if candidates:
        return candidates[0].parent
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class PostgresServer:
    """A running server: connect as ``user`` on 127.0.0.1:``port`` without a password."""

    port: int
    user: str

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    bindir = _postgres_bindir()
    if bindir is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL binaries not found; .ci/run should have installed postgresql")
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    as_root = os.geteuid() == 0
    base = Path(tempfile.mkdtemp(prefix="cw-pg-"))
    base.chmod(0o755)
    data = base / "data"
    data.mkdir()
    prefix: list[str] = []
    if as_root:
        shutil.chown(data, "postgres", "postgres")
        shutil.chown(base, "postgres", "postgres")
        prefix = ["runuser", "-u", "postgres", "--"]
    user = "codewitness"
    port = _free_port()
    subprocess.run(
        [*prefix, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", user, "--no-sync", "-E", "UTF8"],
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
    subprocess.run(
        [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(base / "log"), "-w", "start"],
        check=True,
        capture_output=True,
    )
    try:
        yield PostgresServer(port=port, user=user)
    finally:
        subprocess.run(
            [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
            check=False,
            capture_output=True,
        )
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def pg_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A URL to a new, empty database for this test, dropped after it.

    Dropped at once rather than with the server: each database is a copy of ``template1`` (some
    7.5 MB), and deleting the hundreds a run made took 100 s at the end of the session.
    """
    import psycopg

    name = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(postgres_server.url(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield postgres_server.url(name)
    # FORCE ends what is still connected (a server a test started); a database not dropped here
    # goes with the server's folder at the end.
    with contextlib.suppress(psycopg.Error), psycopg.connect(postgres_server.url(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database URL for a fresh store, once per backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'witness.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    """An open, migrated, empty store, once per backend."""
    opened = open_store(db_url)
    try:
        yield opened
    finally:
        opened.close()


@dataclass
class GitRepo:
    """A git repository in a temp folder; :meth:`git` runs git there and returns stdout."""

    root: Path

    def git(self, *args: str, input: str | None = None, env: dict[str, str] | None = None) -> str:
        proc = subprocess.run(
            ["git", *args],
            cwd=self.root,
            input=input,
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, **(env or {})},
        )
        if proc.returncode != 0:
            raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr.strip()}")
        return proc.stdout

    def write(self, path: str, text: str) -> Path:
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        return target

    def commit(self, message: str, *paths: str, author: str | None = None) -> str:
        self.git("add", *(paths or ["-A"]))
        args = ["commit", "-q", "-m", message]
        if author:
            args += ["--author", author]
        self.git(*args)
        return self.git("rev-parse", "HEAD").strip()


@pytest.fixture
def git_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> GitRepo:
    """A fresh repository with a configured identity and ``main`` as its branch."""
    root = tmp_path / "repo"
    root.mkdir()
    # Keep the developer's global git config (hooks, signing) out of the tests.
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    repo = GitRepo(root)
    repo.git("init", "-q", "-b", "main")
    repo.git("config", "user.name", "Dana Developer")
    repo.git("config", "user.email", "dana@example.com")
    repo.git("config", "commit.gpgsign", "false")
    return repo
