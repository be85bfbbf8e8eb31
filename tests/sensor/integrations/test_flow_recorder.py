"""The flow plug-in on a running sensor: what a flow records, what its context shows (and never
shows), its bounds, the integrations it sets up and takes back, and the host that never notices
an error of ours.

Flows here are opened by :func:`codewitness.sensor.flow.job` and by the WSGI middleware called
with a real environ; queries run on real SQLite files.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import io
import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import time
import wsgiref.util
from pathlib import Path
from typing import Any

import pytest
from tests.sensor_db import connect

import codewitness.sensor
from codewitness.config import SensorSection
from codewitness.facts import encode_batch
from codewitness.sensor import flow as flow_module
from codewitness.sensor.flow import job
from codewitness.sensor.integrations.wsgi import FlowMiddleware

LOADER = """
def load(conn, ids):
    return [conn.execute("SELECT name FROM items WHERE id = ?", (i,)).fetchone() for i in ids]


def total(conn, order_id):
    conn.execute("SELECT id FROM orders WHERE id = ?", (order_id,)).fetchone()
    conn.execute(f"SELECT price FROM items WHERE order_id = {order_id} AND note = 'card 4111 1111 1111 1111'")
    raise LookupError(f"order {order_id} is empty")


def helper(conn):
    def inner():
        return conn.execute("SELECT 1").fetchone()
    return inner()
"""


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "shop.db"
    conn = connect(path)
    conn.executescript(
        "CREATE TABLE items (id INTEGER PRIMARY KEY, order_id INTEGER, name TEXT, price REAL, note TEXT);"
        "CREATE TABLE orders (id INTEGER PRIMARY KEY);"
        "INSERT INTO orders VALUES (7);"
    )
    conn.executemany("INSERT INTO items (order_id, name, price) VALUES (7, ?, 1.0)", [(f"n{i}",) for i in range(9)])
    conn.commit()
    conn.close()
    return path


def _manifest_with(app: Any, module: str, names: tuple[str, ...]) -> Any:
    manifest = app.manifest(names)
    functions = tuple(dataclasses.replace(f, module=module) for f in manifest.functions)
    return dataclasses.replace(manifest, functions=functions)


def test_a_job_counts_its_statements_per_run_and_names_the_watched_function_that_issued_them(
    app: Any, memory: Any, start: Any, backend: str, db: Path
) -> None:
    module = app.write("loader", LOADER)
    sensor = start(app, memory, backend, manifest=_manifest_with(app, module, ("load", "total", "helper")))
    loader = importlib.import_module(module)
    conn = connect(db)
    with job("nightly-report") as flow:
        assert flow is not None and flow_module.current() is flow
        assert len(loader.load(conn, range(1, 8))) == 7
    assert flow_module.current() is None
    with job("nightly-report"):
        loader.load(conn, [1, 2])
    loader.load(conn, [3])  # outside any flow: not recorded
    sensor.flush()
    (statement,) = memory.of("dependency")
    assert statement["function"] == f"{module}.load" and statement["origin"] == "ai"
    assert statement["generation_ids"] == ["gen_00000000000000000001"]
    assert (statement["route"], statement["method"], statement["system"]) == ("nightly-report", None, "sqlite")
    assert statement["statement"] == "SELECT name FROM items WHERE id = ?"
    counts = {k: statement[k] for k in ("calls", "requests", "repeated", "max_per_request", "errors")}
    assert counts == {"calls": 9, "requests": 2, "repeated": 2, "max_per_request": 7, "errors": 0}
    (route,) = memory.of("route")
    assert (route["flow"], route["route"], route["requests"], route["errors"]) == ("job", "nightly-report", 2, 0)
    assert route["statuses"] == {"none": 2} and route["concurrency"]["1"][0] == 2
    assert route["total_ns"] >= statement["total_ns"] > 0


def test_an_inner_function_s_statement_is_issued_by_the_innermost_watched_function(
    app: Any, memory: Any, start: Any, db: Path
) -> None:
    module = app.write("loader", LOADER)
    sensor = start(app, memory, "wrapping", manifest=_manifest_with(app, module, ("helper",)))
    loader = importlib.import_module(module)
    with job("j"):
        loader.helper(connect(db))
    sensor.flush()
    (statement,) = memory.of("dependency")
    assert statement["function"] == f"{module}.helper"  # inner() is not watched; helper is


def test_an_exception_inside_a_flow_carries_the_flow_with_its_statements_literals_out(
    app: Any, memory: Any, start: Any, backend: str, db: Path
) -> None:
    module = app.write("loader", LOADER)
    sensor = start(app, memory, backend, manifest=_manifest_with(app, module, ("total",)))
    loader = importlib.import_module(module)
    conn = connect(db)
    with pytest.raises(LookupError), job("checkout"):
        loader.total(conn, 7)
    with pytest.raises(LookupError):
        loader.total(conn, 8)  # outside any flow
    sensor.flush()
    inside, outside = memory.of("exception")
    assert "flow" not in outside
    flow = inside["flow"]
    assert (flow["kind"], flow["route"], flow["method"], flow["in_flight"]) == ("job", "checkout", None, 1)
    assert [s["statement"] for s in flow["statements"]] == [
        "SELECT id FROM orders WHERE id = ?",
        "SELECT price FROM items WHERE order_id = ? AND note = ?",
    ]
    assert flow["statements_dropped"] == 0 and flow["elapsed_ns"] > 0
    assert b"4111 1111" not in encode_batch(memory.records).data


def test_a_flow_keeps_its_first_statements_and_counts_the_rest(
    app: Any, memory: Any, start: Any, db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = app.write("loader", LOADER)
    settings = SensorSection(flow_statements=3)
    sensor = start(app, memory, "wrapping", manifest=_manifest_with(app, module, ("total",)), settings=settings)
    monkeypatch.setattr(flow_module, "MAX_DISTINCT", 4)
    loader = importlib.import_module(module)
    conn = connect(db)
    with pytest.raises(LookupError), job("busy"):
        for i in range(6):
            conn.execute(f"SELECT {i} AS n{i}").fetchone()  # six distinct statements
        loader.total(conn, 7)
    sensor.flush()
    (captured,) = memory.of("exception")
    assert len(captured["flow"]["statements"]) == 3 and captured["flow"]["statements_dropped"] == 5
    shapes = {r["statement"]: r["calls"] for r in memory.of("dependency")}
    # Four distinct statements are told apart; the rest are folded into one.
    assert len(shapes) == 5 and shapes["(other)"] == 4


def _environ(query: str, headers: dict[str, str]) -> dict[str, Any]:
    environ: dict[str, Any] = {"PATH_INFO": f"/reset/{PATH_TOKEN}", "QUERY_STRING": query}
    environ.update({"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()})
    wsgiref.util.setup_testing_defaults(environ)
    environ["wsgi.errors"] = io.StringIO()
    return environ


def _call(app: Any, environ: dict[str, Any]) -> tuple[str, bytes]:
    seen: list[str] = []
    body = b"".join(app(environ, lambda status, headers, exc_info=None: seen.append(status)))
    return seen[0], body


PATH_TOKEN = "ghp_" + "A1b2C3d4E5" * 3 + "f6g7h8"
SECRET_QUERY = "q=shoes&page=2&access_token=tok_9f8e7d6c5b4a39281706&card=4111111111111111&q=boots"
SECRET_HEADERS = {
    "Authorization": "Bearer abcdef0123456789abcdef0123",
    "Cookie": "session=s3cr3t-cookie-value",
    "X-Api-Key": "key_live_0123456789abcdef",
    "User-Agent": "pytest",
    "X-Request-ID": "req-7f3a",
}


@pytest.mark.parametrize("parts", [None, ("method", "route", "path_params", "path", "headers")])
def test_the_context_of_a_request_never_holds_a_secret_and_holds_headers_and_path_only_when_asked(
    app: Any, memory: Any, start: Any, db: Path, parts: tuple[str, ...] | None
) -> None:
    module = app.write("loader", LOADER)
    # A generous capture time: on a loaded machine the default 5 ms may run out and mark values.
    settings = (
        SensorSection(capture_time_ms=2000)
        if parts is None
        else SensorSection(request_parts=parts, capture_time_ms=2000)
    )
    sensor = start(app, memory, "wrapping", manifest=_manifest_with(app, module, ("total",)), settings=settings)
    loader = importlib.import_module(module)

    def application(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        try:
            loader.total(connect(db), 7)
        except LookupError:
            start_response("500 Internal Server Error", [("Content-Type", "text/plain")])
            return [b"sorry"]
        raise AssertionError("total() should have raised")

    status, body = _call(FlowMiddleware(application), _environ(SECRET_QUERY, SECRET_HEADERS))
    assert (status, body) == ("500 Internal Server Error", b"sorry")
    sensor.flush()
    (captured,) = memory.of("exception")
    flow = captured["flow"]
    assert flow["id"] == "req-7f3a"  # the client's request id
    assert flow["query"] == {"q": ["shoes", "boots"], "page": "2", "access_token": "[REDACTED]", "card": "[REDACTED]"}
    if parts is None:
        assert "headers" not in flow and "path" not in flow
    else:
        assert flow["path"] == "/reset/[REDACTED]"
        headers = flow["headers"]
        assert headers["user-agent"] == "pytest"
        assert {headers[k] for k in ("authorization", "cookie", "x-api-key")} == {"[REDACTED]"}
    exported = encode_batch(memory.records).data.decode()
    secrets = ("tok_9f8e7d6c5b4a39281706", "4111111111111111", "abcdef0123456789abcdef0123", "s3cr3t", "key_live_01")
    for secret in (*secrets, "ghp_"):
        assert secret not in exported
    (route,) = memory.of("route")
    assert (route["route"], route["statuses"], route["errors"]) == (None, {"5xx": 1}, 1)


def test_flows_can_be_turned_off_and_each_integration_on_its_own(app: Any, memory: Any, start: Any) -> None:
    original = sqlite3.connect
    sensor = start(app, memory, "wrapping", settings=SensorSection(integrations=()))
    assert [p.name for p in sensor.plugins] == [] and sqlite3.connect is original
    codewitness.sensor.shutdown()

    import flask

    flask_call = flask.Flask.__call__
    sensor = start(app, memory, "wrapping", settings=SensorSection(integrations=("sqlite3",)))
    (plugin,) = sensor.plugins
    assert list(plugin.enabled) == ["sqlite3"] and sqlite3.connect is not original
    assert sqlite3.connect.__wrapped__ is original and sqlite3.dbapi2.connect is not original
    assert flask.Flask.__call__ is flask_call
    codewitness.sensor.shutdown()
    assert sqlite3.connect is original and sqlite3.dbapi2.connect is original


def test_shutdown_takes_every_patch_back_and_connections_made_meanwhile_keep_working(
    app: Any, memory: Any, start: Any, db: Path
) -> None:
    import flask
    import psycopg
    import sqlalchemy.engine
    import starlette.applications
    import urllib3

    assert starlette.applications.Starlette is not None

    before = (
        sqlite3.connect,
        flask.Flask.__dict__["__call__"],
        psycopg.Cursor.__dict__["execute"],
        urllib3.connectionpool.HTTPConnectionPool.__dict__["urlopen"],
        sqlalchemy.create_engine,
        sqlalchemy.engine.create.create_engine,
    )
    sensor = start(app, memory, "wrapping")
    (plugin,) = sensor.plugins
    assert {"sqlite3", "flask", "psycopg", "urllib3", "sqlalchemy", "starlette"} <= set(plugin.enabled)
    during = (
        sqlite3.connect,
        flask.Flask.__dict__["__call__"],
        psycopg.Cursor.__dict__["execute"],
        urllib3.connectionpool.HTTPConnectionPool.__dict__["urlopen"],
        sqlalchemy.create_engine,
        sqlalchemy.engine.create.create_engine,
    )
    assert all(a is not b for a, b in zip(before, during, strict=True))
    conn = connect(db)
    codewitness.sensor.shutdown()
    after = (
        sqlite3.connect,
        flask.Flask.__dict__["__call__"],
        psycopg.Cursor.__dict__["execute"],
        urllib3.connectionpool.HTTPConnectionPool.__dict__["urlopen"],
        sqlalchemy.create_engine,
        sqlalchemy.engine.create.create_engine,
    )
    assert after == before
    with job("after shutdown"):  # no recorder any more: nothing happens, the query runs
        assert conn.execute("SELECT count(*) FROM items").fetchone() == (9,)


def test_an_error_of_ours_is_counted_and_the_application_never_notices(
    app: Any, memory: Any, start: Any, db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = app.write("loader", LOADER)
    sensor = start(app, memory, "wrapping", manifest=_manifest_with(app, module, ("load",)))
    loader = importlib.import_module(module)
    recorder = flow_module.recorder()
    assert recorder is not None

    def broken(statement: Any) -> Any:
        raise RuntimeError("normaliser bug")

    monkeypatch.setattr(recorder, "normalize", broken)
    conn = connect(db)
    with job("nightly"):
        assert loader.load(conn, [1, 2]) == [("n0",), ("n1",)]

    def bad_resolver(flow: Any) -> Any:
        raise KeyError("route")

    application = FlowMiddleware(lambda environ, start_response: start_response("200 OK", []) or [b"ok"], bad_resolver)
    assert _call(application, _environ("", {})) == ("200 OK", b"ok")
    sensor.flush()
    (health,) = memory.of("sensor")
    assert health["internal_errors"] == {"flow.sqlite": 2, "flow.wsgi": 1, "flow.end": 1}


def test_a_library_imported_after_the_sensor_started_is_set_up_when_it_is_imported(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import json, sys
        import codewitness.sensor
        from codewitness.config import SensorSection

        assert "flask" not in sys.modules
        sensor = codewitness.sensor.init(service="t", manifest="none.json", spool_dir="", endpoint="",
                                         settings=SensorSection())
        (plugin,) = sensor.plugins
        before = sorted(plugin.enabled)
        import flask
        wrapped = hasattr(flask.Flask.__call__, "__wrapped__")
        after = sorted(plugin.enabled)
        codewitness.sensor.shutdown()
        print(json.dumps({"before": before, "after": after, "wrapped": wrapped,
                          "restored": not hasattr(flask.Flask.__call__, "__wrapped__")}))
        """
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, check=True)
    seen = json.loads(out.stdout.splitlines()[-1])
    assert "flask" not in seen["before"] and "flask" in seen["after"]
    assert seen["wrapped"] and seen["restored"]


def test_an_integration_whose_library_it_does_not_know_is_left_out_with_its_reason(
    app: Any, memory: Any, start: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import starlette.applications

    monkeypatch.delattr(starlette.applications, "Starlette")
    sensor = start(app, memory, "wrapping")
    (plugin,) = sensor.plugins
    assert plugin.not_enabled == {"starlette": "starlette.applications has no Starlette class"}
    assert "sqlite3" in plugin.enabled
    sensor.flush()
    assert memory.of("sensor") == []  # not an error: a reason, logged


def test_requests_are_counted_by_how_many_were_in_flight_as_each_began(app: Any, memory: Any, start: Any) -> None:
    import threading

    sensor = start(app, memory, "wrapping")
    everyone_in = threading.Barrier(4, timeout=10)

    def slow(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        everyone_in.wait()  # four requests in flight at once
        start_response("200 OK", [])
        return [b"ok"]

    application = FlowMiddleware(slow)
    # One at a time, so that each begins with one more in flight than the one before.
    started: list[threading.Thread] = []
    recorder = flow_module.recorder()
    assert recorder is not None
    for _ in range(4):
        thread = threading.Thread(target=_call, args=(application, _environ("", {})), daemon=True)
        thread.start()
        started.append(thread)
        deadline = time.monotonic() + 10
        while len(started) < 4 and len(recorder.active) < len(started):  # the fourth lets them all go
            assert time.monotonic() < deadline, f"{len(recorder.active)} in flight, {len(started)} started"
            time.sleep(0.001)
    for thread in started:
        thread.join(10)
    sensor.flush()
    (route,) = memory.of("route")
    assert {label: n for label, (n, _) in route["concurrency"].items()} == {"1": 1, "2": 1, "3-4": 2}
    assert route["requests"] == 4 and route["statuses"] == {"2xx": 4}


def test_ended_requests_are_counted_in_batches_and_at_each_drain_each_once(app: Any, memory: Any, start: Any) -> None:
    import threading

    sensor = start(app, memory, "wrapping")
    recorder = flow_module.recorder()
    assert recorder is not None
    outcomes = ("200", "404", "503", "boom")

    def answer(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        outcome = environ["PATH_INFO"].strip("/")
        if outcome == "boom":
            raise RuntimeError("boom")
        start_response(f"{outcome} Whatever", [])
        return [b""]

    application = FlowMiddleware(answer)
    longest: list[int] = []

    def serve(requests: int) -> None:
        for i in range(requests):
            environ = _environ("", {})
            environ["PATH_INFO"] = f"/{outcomes[i % 4]}"
            with contextlib.suppress(RuntimeError):
                _call(application, environ)
            longest.append(len(recorder._ended))

    threads = [threading.Thread(target=serve, args=(101,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    sensor.flush()
    serve(6)
    sensor.flush()
    first, second = memory.of("route")
    assert first["requests"] == 404 and first["statuses"] == {"2xx": 104, "4xx": 100, "5xx": 100, "none": 100}
    assert first["errors"] == 200 and sum(n for n, _ in first["concurrency"].values()) == 404
    assert second["requests"] == 6 and second["statuses"] == {"2xx": 2, "4xx": 2, "5xx": 1, "none": 1}
    # Never more waiting to be counted than one batch (and a request per thread ending meanwhile).
    assert max(longest) < flow_module.ENDED_BATCH + len(threads)


FORKED = """
import json, os, sqlite3, sys
import codewitness.sensor
from codewitness.config import SensorSection
from codewitness.sensor.flow import job

sensor = codewitness.sensor.init(service="t", manifest="none.json", spool_dir="spool", endpoint="",
                                 interval=3600, settings=SensorSection())
conn = sqlite3.connect(":memory:")
with job("parent"):
    conn.execute("SELECT 1").fetchone()
pid = os.fork()
if pid == 0:
    with job("child"):
        conn.execute("SELECT 2 AS two").fetchone()
    codewitness.sensor.shutdown()
    os._exit(0)
os.waitpid(pid, 0)
codewitness.sensor.shutdown()
print(json.dumps({"parent": os.getpid(), "child": pid}))
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_reports_its_own_flows_only(tmp_path: Path) -> None:
    (tmp_path / "host.py").write_text(FORKED)
    out = subprocess.run([sys.executable, "host.py"], cwd=tmp_path, capture_output=True, text=True, check=True)
    pids = json.loads(out.stdout.splitlines()[-1])
    seen: dict[int, list[str]] = {}
    for segment in (tmp_path / "spool").glob("seg-*.jsonl"):
        for line in segment.read_text().splitlines():
            record = json.loads(line)
            if record["kind"] in ("route", "dependency"):
                seen.setdefault(record["pid"], []).append(f"{record['kind']} {record['route']}")
    assert sorted(seen[pids["parent"]]) == ["dependency parent", "route parent"]
    assert sorted(seen[pids["child"]]) == ["dependency child", "route child"]


def test_two_flask_apps_with_the_same_rule_each_name_their_own_handler_and_status_lines_are_read_each_time(
    app: Any, memory: Any, start: Any
) -> None:
    # The Flask integration remembers what each URL rule routes to, and the WSGI one each status
    # line it parsed: neither may hand one application's answer to another.
    import flask

    sensor = start(app, memory, "wrapping")

    def make(name: str, status: int) -> Any:
        application = flask.Flask(name)

        def item(item_id: int) -> Any:
            return ("ok", status)

        item.__qualname__ = f"{name}_item"
        application.add_url_rule("/items/<int:item_id>", view_func=item)
        return application

    first, second = make("first", 200), make("second", 599)
    one, two = first.test_client(), second.test_client()
    for _ in range(3):
        assert one.get("/items/1").status_code == 200
        assert two.get("/items/2").status_code == 599
    sensor.flush()
    routes = {r["function"]: r for r in memory.of("route")}
    assert set(routes) == {f"{__name__}.first_item", f"{__name__}.second_item"}
    assert {r["route"] for r in routes.values()} == {"/items/<int:item_id>"}
    assert routes[f"{__name__}.first_item"]["statuses"] == {"2xx": 3}
    assert routes[f"{__name__}.second_item"]["statuses"] == {"5xx": 3}
    assert routes[f"{__name__}.second_item"]["errors"] == 3 and routes[f"{__name__}.first_item"]["errors"] == 0


AROUND = """
from codewitness.sensor.flow import job


def around(run):
    return run()


def opener(conn):
    with job("own"):
        return conn.execute("SELECT 2 AS own").fetchone()


def direct(conn):
    with job("direct"):
        cursor = conn.cursor()
        cursor.execute("SELECT 3 AS direct")  # right above the driver's execute: the search starts here
        return cursor.fetchone()
"""


def test_a_watched_function_above_where_the_flow_began_is_not_its_statements_issuer(
    app: Any, memory: Any, start: Any, db: Path
) -> None:
    # A watched function that calls a whole request (a test harness, a server) or that calls code
    # which opens a job did not issue the statements run inside: the issuer search stops at the
    # frame the flow began in. The function with the ``with job(...)`` itself still counts.
    module = app.write("around", AROUND)
    sensor = start(app, memory, "wrapping", manifest=_manifest_with(app, module, ("around", "opener", "direct")))
    around = importlib.import_module(module)
    conn = connect(db)

    def queries(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        conn.execute("SELECT 1 AS request").fetchone()
        start_response("200 OK", [])
        return [b"ok"]

    def nightly() -> None:
        with job("nightly"):
            conn.execute("SELECT 1 AS nightly").fetchone()

    assert around.around(lambda: _call(FlowMiddleware(queries), _environ("", {}))) == ("200 OK", b"ok")
    around.around(nightly)
    assert around.opener(conn) == (2,)
    assert around.direct(conn) == (3,)
    sensor.flush()
    issuers = {d["statement"]: d["function"] for d in memory.of("dependency")}
    assert issuers == {
        "SELECT ? AS request": None,
        "SELECT ? AS nightly": None,
        "SELECT ? AS own": f"{module}.opener",
        "SELECT ? AS direct": f"{module}.direct",
    }
