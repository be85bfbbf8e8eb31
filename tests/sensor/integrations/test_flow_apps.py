"""Flow context end to end: real FastAPI (under uvicorn) and Flask (under Werkzeug's server)
applications on loopback, run with ``codewitness run``, requested over HTTP, their spool ingested
into a real store, and read back through the views every face uses.

The application is a small shop whose ``orders`` module is AI-written (the manifest says so):

* ``order_total`` runs three SQLite queries and raises for an order without items: the captured
  exception must carry the route, the path parameter and the three statements, literals out;
* ``item_names`` runs one query per item (N+1): reported as ``n_plus_one`` with that function;
* ``quote`` is rewritten by a later generation (revision ``r2``) with a slow loop: reported as
  ``slower`` at ``r2``, naming that generation.
"""

from __future__ import annotations

import contextlib
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
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.sensor_db import connect

from codewitness.ingest import ingest_spool
from codewitness.model import Manifest, ManifestFunction
from codewitness.store import open_store
from codewitness.views.incidents import incident_detail, list_incidents
from codewitness.views.insights import insights

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
pytest.importorskip("flask")

ORDERS_R1 = """
import time

from shopflow.db import connect


def order_total(order_id):
    conn = connect()
    conn.execute("SELECT id, customer FROM orders WHERE id = ?", (order_id,)).fetchone()
    items = conn.execute("SELECT price, qty FROM items WHERE order_id = ?", (order_id,)).fetchall()
    coupon = conn.execute(f"SELECT percent FROM coupons WHERE code = 'SECRET-{order_id}-sk_live_51HxQ2'").fetchone()
    if not items:
        raise LookupError(f"order {order_id} has no items")
    total = sum(price * qty for price, qty in items)
    return total * (100 - (coupon[0] if coupon else 0)) / 100


def item_names(order_id):
    conn = connect()
    ids = [row[0] for row in conn.execute("SELECT id FROM items WHERE order_id = ?", (order_id,))]
    return [conn.execute("SELECT name FROM items WHERE id = ?", (i,)).fetchone()[0] for i in ids]


def quote(amount):
    return round(amount * 1.2, 2)
"""

# Revision r2: a later generation rewrote quote() with a pointless loop.
ORDERS_R2 = ORDERS_R1.replace(
    """def quote(amount):
    return round(amount * 1.2, 2)""",
    """def quote(amount):
    total = 0.0
    for step in range(60_000):
        total += amount * 1.2 / 60_000
    return round(total, 2)""",
)

DB = """
import os
import sqlite3


def connect():
    return sqlite3.connect(os.environ["SHOP_DB"])
"""

FASTAPI_APP = """
from fastapi import FastAPI

from shopflow import orders

app = FastAPI()


@app.get("/orders/{order_id}/total")
def total(order_id: int):
    return {"total": orders.order_total(order_id)}


@app.get("/orders/{order_id}/items")
def items(order_id: int):
    return {"items": orders.item_names(order_id)}


@app.get("/quote")
def quote(amount: float):
    return {"quote": orders.quote(amount)}


@app.get("/health")
def health():
    return {"ok": True}
"""

FLASK_APP = """
import sys

from flask import Flask, request
from werkzeug.serving import make_server

from shopflow import orders

app = Flask(__name__)


@app.get("/orders/<int:order_id>/total")
def total(order_id):
    return {"total": orders.order_total(order_id)}


@app.get("/orders/<int:order_id>/items")
def items(order_id):
    return {"items": orders.item_names(order_id)}


@app.get("/quote")
def quote():
    return {"quote": orders.quote(float(request.args["amount"]))}


@app.get("/health")
def health():
    return {"ok": True}


if __name__ == "__main__":
    make_server("127.0.0.1", int(sys.argv[1]), app, threaded=True).serve_forever()
"""

ROUTES = {
    "fastapi": {"total": "/orders/{order_id}/total", "items": "/orders/{order_id}/items", "quote": "/quote"},
    "flask": {"total": "/orders/<int:order_id>/total", "items": "/orders/<int:order_id>/items", "quote": "/quote"},
}
GENERATIONS = {"order_total": "gen_total_1", "item_names": "gen_items_1"}
QUOTE_GENERATION = {"r1": "gen_quote_1", "r2": "gen_quote_2"}
THREE_STATEMENTS = [
    "SELECT id, customer FROM orders WHERE id = ?",
    "SELECT price, qty FROM items WHERE order_id = ?",
    "SELECT percent FROM coupons WHERE code = ?",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _manifest(root: Path, revision: str) -> Path:
    functions = [
        ManifestFunction(
            module="shopflow.orders",
            qualname=name,
            path="shopflow/orders.py",
            start_line=1,
            end_line=2,
            ai_share=1.0,
            generation_ids=(generation,),
            models=("claude-sonnet-4-5",),
            agents=("claude-code",),
        )
        for name, generation in {**GENERATIONS, "quote": QUOTE_GENERATION[revision]}.items()
    ]
    path = root / f"manifest-{revision}.json"
    path.write_text(Manifest(revision=revision, functions=tuple(functions)).to_json())
    return path


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    """The shop's source and database in a temp folder."""
    package = tmp_path / "shopflow"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "db.py").write_text(textwrap.dedent(DB))
    (package / "api.py").write_text(textwrap.dedent(FASTAPI_APP))
    (package / "web.py").write_text(textwrap.dedent(FLASK_APP))
    conn = connect(tmp_path / "shop.db")
    conn.executescript(
        """
        CREATE TABLE orders (id INTEGER PRIMARY KEY, customer TEXT);
        CREATE TABLE items (id INTEGER PRIMARY KEY, order_id INTEGER, name TEXT, price REAL, qty INTEGER);
        CREATE TABLE coupons (code TEXT PRIMARY KEY, percent INTEGER);
        INSERT INTO orders VALUES (7, 'ann'), (13, 'bob');
        """
    )
    conn.executemany(
        "INSERT INTO items (order_id, name, price, qty) VALUES (7, ?, ?, 1)", [(f"item-{i}", i) for i in range(10)]
    )
    conn.commit()
    conn.close()
    return tmp_path


@contextlib.contextmanager
def serving(shop: Path, framework: str, revision: str) -> Iterator[str]:
    """The shop at ``revision`` served by ``framework`` under ``codewitness run``; yields its base URL."""
    (shop / "shopflow" / "orders.py").write_text(textwrap.dedent(ORDERS_R1 if revision == "r1" else ORDERS_R2))
    port = _free_port()
    program = (
        [sys.executable, "-m", "uvicorn", "shopflow.api:app", "--host", "127.0.0.1", "--port", str(port)]
        if framework == "fastapi"
        else [sys.executable, "-m", "shopflow.web", str(port)]
    )
    command = [
        sys.executable, "-m", "codewitness", "run", "--service", "shop", "--manifest", str(_manifest(shop, revision)),
        "--spool-dir", str(shop / "spool"), "--interval", "0.5", "--", *program,
    ]  # fmt: skip
    env = {**os.environ, "SHOP_DB": str(shop / "shop.db"), "PYTHONPATH": str(shop)}
    log = (shop / f"{framework}-{revision}.log").open("w")
    proc = subprocess.Popen(command, cwd=shop, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=2):
                    break
            except (urllib.error.URLError, ConnectionError):
                assert proc.poll() is None, (shop / f"{framework}-{revision}.log").read_text()
                assert time.monotonic() < deadline, "the app did not start"
                time.sleep(0.1)
        yield base
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
            log.close()


def get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


@pytest.mark.parametrize("framework", ["fastapi", "flask"])
def test_a_failing_request_an_n_plus_one_and_a_slower_revision_are_told_with_their_function(
    shop: Path, framework: str
) -> None:
    with serving(shop, framework, "r1") as base:
        assert [get(f"{base}/orders/7/items") for _ in range(3)] == [200] * 3
        assert get(f"{base}/orders/13/total?page=2&access_token=tok_9f8e7d6c5b4a39281706") == 500
        assert {get(f"{base}/quote?amount=10") for _ in range(60)} == {200}
    with serving(shop, framework, "r2") as base:
        assert {get(f"{base}/quote?amount=10") for _ in range(60)} == {200}

    spooled = "".join(p.read_text() for p in sorted((shop / "spool").glob("seg-*.jsonl")))
    assert "SECRET" not in spooled and "sk_live" not in spooled and "tok_9f8e7d6c5b4a39281706" not in spooled
    captured = [json.loads(line) for line in spooled.splitlines() if '"kind":"exception"' in line]
    (failure,) = [r for r in captured if r["function"] == "shopflow.orders.order_total"]
    flow = failure["flow"]
    # As each framework gives them: Starlette keeps the path's text, Flask converts by the rule.
    order_id = "13" if framework == "fastapi" else 13
    assert (flow["method"], flow["route"], flow["path_params"]) == (
        "GET",
        ROUTES[framework]["total"],
        {"order_id": order_id},
    )
    assert flow["query"] == {"page": "2", "access_token": "[REDACTED]"}
    assert [s["statement"] for s in flow["statements"]] == THREE_STATEMENTS
    assert all(s["system"] == "sqlite" and not s["error"] for s in flow["statements"])

    url = f"sqlite:///{shop / 'witness.db'}"
    with open_store(url) as store:
        loaded, _ = ingest_spool(store, shop / "spool")
        assert loaded.bad == 0, loaded.reasons
        (incident,) = [i for i in list_incidents(store).incidents if i.function == "shopflow.orders.order_total"]
        (sample,) = incident_detail(store, incident.id).samples
        assert sample["flow"] is not None and sample["flow"]["route"] == ROUTES[framework]["total"]
        assert [s["statement"] for s in sample["flow"]["statements"]] == THREE_STATEMENTS

        found = insights(store).insights
        (n_plus_one,) = [i for i in found if i.kind == "n_plus_one"]
        assert (n_plus_one.function, n_plus_one.route, n_plus_one.origin) == (
            "shopflow.orders.item_names",
            ROUTES[framework]["items"],
            "ai",
        )
        assert n_plus_one.generation_ids == ("gen_items_1",)
        assert n_plus_one.evidence["statement"] == "SELECT name FROM items WHERE id = ?"
        assert (n_plus_one.evidence["per_request"], n_plus_one.evidence["requests"]) == (10, 3)

        (slower,) = [i for i in found if i.kind == "slower"]
        assert (slower.function, slower.revision, slower.generation_ids) == (
            "shopflow.orders.quote",
            "r2",
            ("gen_quote_2",),
        )
        assert slower.evidence["previous"] == "r1" and slower.evidence["ratio"] > 5
        assert slower.evidence["p95_ci_ms"][0] > slower.evidence["previous_p95_ci_ms"][1]
        assert not [i for i in found if i.function == "shopflow.orders.order_total"]
    stored = b"".join(p.read_bytes() for p in shop.glob("witness.db*"))  # the database and its WAL
    assert b"SELECT percent FROM coupons WHERE code = ?" in stored
    for secret in (b"SECRET-13", b"sk_live_51HxQ2", b"tok_9f8e7d6c5b4a39281706"):
        assert secret not in stored
