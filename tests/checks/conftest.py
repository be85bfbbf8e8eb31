"""Fixtures for the merge-gate tests: a real package index on loopback, and git repos in tmp dirs.

The index server speaks the JSON Simple API (PEP 691/700/792), the PyPI JSON API's vulnerability
field, npm registry metadata, and serves a popularity ranking. It counts requests so tests can
prove that cached and offline runs do not ask it.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

NOW = datetime.now(UTC)


def _iso(days_ago: float) -> str:
    return (NOW - timedelta(days=days_ago)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _project(
    name: str, versions: list[str], first_days_ago: float, status: str | None = None, yanked: bool = False
) -> dict:
    files = [
        {
            "filename": f"{name}-{v}.tar.gz",
            "url": f"../../files/{name}-{v}.tar.gz",
            "hashes": {"sha256": "0" * 64},
            "upload-time": _iso(first_days_ago - i),
            "yanked": yanked,
            "size": 1000,
        }
        for i, v in enumerate(versions)
    ]
    doc: dict = {"meta": {"api-version": "1.4"}, "name": name, "files": files, "versions": versions}
    if status:
        doc["project-status"] = {"status": status, "reason": "test"}
        if status == "quarantined":
            doc["files"] = []
    return doc


PYPI = {
    "requests": _project("requests", ["2.31.0", "2.32.0", "2.32.3"], 4000),
    "flask": _project("flask", ["2.0.0", "3.0.0"], 5000),
    "freshpkg": _project("freshpkg", ["0.1.0", "0.1.1"], 5),
    "lonely": _project("lonely", ["1.0.0"], 900),
    "evilpkg": _project("evilpkg", ["1.0"], 400, status="quarantined"),
    "oldstuff": _project("oldstuff", ["1.0", "1.1"], 3000, status="archived"),
    "reqeusts": _project("reqeusts", ["1.0", "1.1"], 2000),
    "pyyaml": _project("PyYAML", ["6.0.1", "6.0.2"], 6000),
    "django": _project("Django", ["4.2.0", "5.0.0"], 6000),
    "importlib-metadata": _project("importlib_metadata", ["6.0.0", "8.0.0"], 2500),
    "importlib-resources": _project("importlib_resources", ["5.0.0", "6.4.0"], 2500),
}
VULNS = {
    ("django", "4.2.0"): [
        {
            "id": "PYSEC-2099-1",
            "aliases": ["CVE-2099-1"],
            "fixed_in": ["4.2.1"],
            "withdrawn": None,
            "summary": "test advisory",
        }
    ]
}
NPM = {
    "left-pad": {
        "name": "left-pad",
        "dist-tags": {"latest": "1.3.0"},
        "versions": {"1.0.0": {}, "1.3.0": {"deprecated": "use String.prototype.padStart()"}},
        "time": {"created": _iso(3000), "modified": _iso(1000)},
    },
    "express": {
        "name": "express",
        "dist-tags": {"latest": "4.19.2"},
        "versions": {"4.18.0": {}, "4.19.2": {}},
        "time": {"created": _iso(5000)},
    },
    "brand-new-npm": {
        "name": "brand-new-npm",
        "dist-tags": {"latest": "0.0.1"},
        "versions": {"0.0.1": {}},
        "time": {"created": _iso(2)},
    },
    "@scope/tool": {
        "name": "@scope/tool",
        "dist-tags": {"latest": "1.0.0"},
        "versions": {"1.0.0": {}, "1.1.0": {}},
        "time": {"created": _iso(800)},
    },
}
RANKING = {
    "last_update": "2026-11-01 00:00:00",
    "rows": [
        {"project": "boto3", "download_count": 100},
        {"project": "requests", "download_count": 90},
        {"project": "numpy", "download_count": 80},
    ],
}


@dataclass
class IndexServer:
    """The loopback index: base URLs and a request log."""

    url: str
    requests: list[str] = field(default_factory=list)
    down: bool = False

    @property
    def simple(self) -> str:
        return f"{self.url}/simple"

    @property
    def npm(self) -> str:
        return f"{self.url}/npm"


def _handler(state: IndexServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # keep test output clean
            pass

        def _send(self, status: int, body: object, ctype: str = "application/json") -> None:
            data = json.dumps(body).encode() if body is not None else b""
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            state.requests.append(self.path)
            if state.down:
                self._send(503, {"error": "down"})
                return
            parts = [p for p in self.path.split("/") if p]
            if len(parts) == 2 and parts[0] == "simple":
                doc = PYPI.get(parts[1])
                if doc is None:
                    self._send(404, {"message": "not found"})
                elif "application/vnd.pypi.simple.v1+json" in self.headers.get("Accept", ""):
                    self._send(200, doc, "application/vnd.pypi.simple.v1+json")
                else:
                    self._send(406, None)
            elif len(parts) == 4 and parts[0] == "pypi" and parts[3] == "json":
                if parts[1] not in PYPI:
                    self._send(404, {"message": "not found"})
                else:
                    self._send(
                        200,
                        {"info": {"name": parts[1]}, "vulnerabilities": VULNS.get((parts[1], parts[2]), [])},
                    )
            elif parts and parts[0] == "npm":
                from urllib.parse import unquote

                name = unquote("/".join(parts[1:]))
                doc = NPM.get(name)
                self._send(200, doc) if doc else self._send(404, {"error": "Not found"})
            elif parts == ["top.json"]:
                self._send(200, RANKING)
            elif parts == ["broken.json"]:
                self._send(200, {"nothing": []})
            else:
                self._send(404, {"error": "no route"})

    return Handler


@pytest.fixture
def index_server() -> Iterator[IndexServer]:
    """A real HTTP server on 127.0.0.1 serving the package metadata above."""
    state = IndexServer(url="")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def git(cwd: Path, *args: str, message_env: dict | None = None) -> str:
    """Run git in ``cwd`` with a fixed identity; returns stdout."""
    env = {
        "GIT_AUTHOR_NAME": "Dev",
        "GIT_AUTHOR_EMAIL": "dev@example.com",
        "GIT_COMMITTER_NAME": "Dev",
        "GIT_COMMITTER_EMAIL": "dev@example.com",
        "HOME": str(cwd),
        "PATH": "/usr/bin:/bin:/usr/local/bin",
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    env.update(message_env or {})
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """An empty git repository with one initial commit."""
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "README.md").write_text("demo\n")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "initial")
    return root
