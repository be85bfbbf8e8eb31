"""A real ``codewitness serve`` (uvicorn) on a free loopback port, on SQLite or PostgreSQL.

``live_server(url, root=..., auth="read")`` starts one as a subprocess and waits until it answers;
every server started is stopped (by its process id) when the test ends.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from codewitness.store import open_store
from codewitness.store.tokens import create_token


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    """A running server: its base URL, a valid token, the store URL, the process."""

    url: str
    token: str
    db: str
    process: subprocess.Popen[bytes]
    log: Path

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def get(self, path: str, **kw: object) -> requests.Response:
        return requests.get(self.url + path, timeout=60, **kw)  # type: ignore[arg-type]

    def post(self, path: str, **kw: object) -> requests.Response:
        return requests.post(self.url + path, timeout=60, **kw)  # type: ignore[arg-type]


def start_server(db: str, cwd: Path, log: Path, *extra: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODEWITNESS_")}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "codewitness", "serve", "--db", db, "--port", str(port), *extra],
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited: {log.read_text()}")
        try:
            requests.get(url + "/api/v1/openapi.json", timeout=2)
            return process, url
        except requests.ConnectionError:
            time.sleep(0.1)
    process.kill()
    raise AssertionError(f"the server did not answer in time: {log.read_text()}")


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    started: list[subprocess.Popen[bytes]] = []

    def make(db: str, *, root: Path | None = None, auth: str = "write") -> LiveServer:
        with open_store(db) as store:
            token = create_token(store, "tests").secret
        cwd = root or tmp_path
        log = tmp_path / f"server-{len(started)}.log"
        process, url = start_server(db, cwd, log, "--auth", auth)
        started.append(process)
        return LiveServer(url=url, token=token, db=db, process=process, log=log)

    yield make
    for process in started:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
