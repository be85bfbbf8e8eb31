"""Django under ``codewitness run``, over WSGI (the standard library's server) and ASGI (uvicorn),
on loopback: each request is a flow with its URL pattern, its view and the queries Django's ORM
ran, and an N+1 view is seen as one statement many times per request.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from tests.sensor_db import connect

pytest.importorskip("django")

PROJECT = """
import sys

import django
from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY="test-only",
    ROOT_URLCONF=__name__,
    ALLOWED_HOSTS=["*"],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": sys.argv[2]}},
    INSTALLED_APPS=[],
    MIDDLEWARE=[],
)
django.setup()

from django.db import connection
from django.http import JsonResponse
from django.urls import path


def shelf(request, shelf_id):
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM books WHERE shelf = %s", [shelf_id])
        ids = [row[0] for row in cursor.fetchall()]
        titles = []
        for book in ids:
            cursor.execute("SELECT title FROM books WHERE id = %s", [book])
            titles.append(cursor.fetchone()[0])
    return JsonResponse({"titles": titles})


urlpatterns = [path("shelves/<int:shelf_id>/", shelf)]

if sys.argv[1] == "wsgi":
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    from django.core.wsgi import get_wsgi_application

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args):
            pass

    make_server("127.0.0.1", int(sys.argv[3]), get_wsgi_application(), handler_class=Quiet).serve_forever()
else:
    import uvicorn

    from django.core.asgi import get_asgi_application

    uvicorn.run(get_asgi_application(), host="127.0.0.1", port=int(sys.argv[3]), log_level="warning")
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("interface", ["wsgi", "asgi"])
def test_a_django_view_s_requests_and_queries_are_flows(tmp_path: Path, interface: str) -> None:

    db = tmp_path / "books.db"
    conn = connect(db)
    conn.execute("CREATE TABLE books (id INTEGER PRIMARY KEY, shelf INTEGER, title TEXT)")
    conn.executemany("INSERT INTO books (shelf, title) VALUES (3, ?)", [(f"t{i}",) for i in range(6)])
    conn.commit()
    conn.close()
    (tmp_path / "bookshop.py").write_text(textwrap.dedent(PROJECT))
    port = _free_port()
    command = [
        sys.executable, "-m", "codewitness", "run", "--service", "books", "--spool-dir", str(tmp_path / "spool"),
        "--interval", "0.5", "--", sys.executable, "bookshop.py", interface, str(db), str(port),
    ]  # fmt: skip
    log = (tmp_path / "server.log").open("w")
    proc = subprocess.Popen(command, cwd=tmp_path, env={**os.environ}, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/shelves/3/", timeout=5) as response:
                    assert json.loads(response.read())["titles"] == [f"t{i}" for i in range(6)]
                    break
            except (urllib.error.URLError, ConnectionError):
                assert proc.poll() is None, (tmp_path / "server.log").read_text()
                assert time.monotonic() < deadline
                time.sleep(0.1)
        for _ in range(2):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/shelves/3/?sort=title", timeout=5) as response:
                assert response.status == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        log.close()
    records = [
        json.loads(line)
        for segment in sorted((tmp_path / "spool").glob("seg-*.jsonl"))
        for line in segment.read_text().splitlines()
    ]
    routes = [r for r in records if r["kind"] == "route"]
    assert {(r["method"], r["route"], r["function"]) for r in routes} == {
        ("GET", "shelves/<int:shelf_id>/", "__main__.shelf")
    }
    assert sum(r["requests"] for r in routes) == 3 and {s for r in routes for s in r["statuses"]} == {"2xx"}
    by_statement: dict[str, list[dict]] = {}
    for r in records:
        if r["kind"] == "dependency":
            by_statement.setdefault(r["statement"], []).append(r)
    titles = by_statement["SELECT title FROM books WHERE id = %s"]
    assert sum(r["calls"] for r in titles) == 18 and max(r["max_per_request"] for r in titles) == 6
    assert {r["route"] for r in titles} == {"shelves/<int:shelf_id>/"}
    assert {r["system"] for rs in by_statement.values() for r in rs} == {"sqlite"}
