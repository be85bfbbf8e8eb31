"""Added cost of the flow integrations: per request (web frameworks) and per statement (drivers).

Paired runs in one process, on this Python: each round times a batch of requests (or statements)
without the integration and a batch with it, in alternating order, and the added cost is the
median over rounds of the difference per request. Without means a running sensor with flows off
(``sensor.integrations = []``: the library as it is); with means the same sensor whose flow plug-in
has only the integration measured (for a statement: the driver's integration, inside a flow opened
by :func:`codewitness.sensor.flow.job`, whose own cost is measured apart and taken out).
The applications are the smallest of their kind, called in-process (no socket), so the figure is
the integration's own cost, not lost in a network round trip:

* ``asgi`` -- a bare ASGI callable wrapped in ``FlowMiddleware`` (scope, status, route resolution);
* ``starlette`` -- a Starlette app with one route (the patched ``Starlette.__call__``);
* ``wsgi`` -- a bare WSGI callable wrapped in ``FlowMiddleware``;
* ``flask`` -- a Flask app with one route (the patched ``Flask.__call__``), called through Werkzeug's test environ;
* ``sqlite3`` -- ``cursor.execute("SELECT ?", ...)`` on an in-memory database, 10 per flow;
* ``sqlalchemy`` -- ``conn.execute(text(...))`` on SQLite through SQLAlchemy Core, 10 per flow, with
  the sqlite3 integration reporting (the default); ``sa-listeners`` -- the same with SQLAlchemy's own
  statement listeners (as for a driver no integration watches);
* ``httpx`` -- ``client.get`` through httpx's ``MockTransport`` (httpx's own code, no socket).

Run::

    .venv/bin/python benchmarks/flow_overhead.py [--rounds 15] [--batch 2000] [--only sqlite3 ...] [--json]

The issue's goal is 2 µs per request per integration and 1 µs per statement.

Times are the calling thread's CPU time (``time.thread_time_ns``), not the wall clock: on a machine
shared with other work, time spent waiting for a core is not the integration's cost. The sensor's
exporter thread is not on the request path and is not counted. The cost of an empty function call
is printed beside the figures: it tells how fast this machine ran at the time (about 30 ns on an
idle recent x86 core with CPython 3.12).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import codewitness.sensor
from codewitness.config import SensorSection
from codewitness.sensor.flow import job


@contextlib.contextmanager
def sensor(integrations: tuple[str, ...]) -> Iterator[None]:
    started = codewitness.sensor.init(
        service="bench",
        manifest="no-manifest.json",
        spool_dir="",
        endpoint="",
        otel=False,
        interval=3600,
        settings=SensorSection(integrations=integrations),
    )
    assert started is not None
    try:
        yield
    finally:
        codewitness.sensor.shutdown()


def paired(run: Callable[[int], None], integrations: tuple[str, ...], rounds: int, batch: int, per: int) -> float:
    """Median added nanoseconds per unit (``per`` units in one ``run`` step) over ``rounds`` pairs."""
    run(batch // 10)  # warm up both paths once
    with sensor(integrations):
        run(batch // 10)
    added: list[float] = []
    for r in range(rounds):
        times = {}
        for instrumented in (r % 2 == 0, r % 2 == 1):
            with sensor(integrations if instrumented else ()):
                start = time.thread_time_ns()
                run(batch)
                times[instrumented] = (time.thread_time_ns() - start) / (batch * per)
        added.append(times[True] - times[False])
    return statistics.median(added)


def baseline(run: Callable[[int], None], batch: int, per: int) -> float:
    with sensor(()):
        start = time.thread_time_ns()
        run(batch)
        return (time.thread_time_ns() - start) / (batch * per)


# -- web frameworks --------------------------------------------------------------------------------


def asgi_scope() -> dict[str, Any]:
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
        "path": "/items/42", "raw_path": b"/items/42", "query_string": b"page=2", "root_path": "",
        "headers": [(b"host", b"bench"), (b"user-agent", b"bench")], "client": ("127.0.0.1", 1),
        "server": ("bench", 80),
    }  # fmt: skip


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _send(message: dict[str, Any]) -> None:
    return None


def asgi_runner(make_app: Callable[[], Any]) -> Callable[[int], None]:
    def run(n: int) -> None:
        app = make_app()
        scope = asgi_scope()

        async def many() -> None:
            for _ in range(n):
                await app(dict(scope), _receive, _send)

        asyncio.run(many())

    return run


async def bare_asgi(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok"})


def make_asgi() -> Any:
    from codewitness.sensor.integrations.asgi import FlowMiddleware

    # With no sensor the middleware finds no recorder and calls straight through: the baseline
    # keeps the wrapper, so the difference is the flow's own work.
    return FlowMiddleware(bare_asgi)


def make_starlette() -> Any:
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    async def item(request: Any) -> Any:
        return PlainTextResponse("ok")

    return Starlette(routes=[Route("/items/{item_id}", item)])


def wsgi_environ() -> dict[str, Any]:
    import io

    return {
        "REQUEST_METHOD": "GET", "PATH_INFO": "/items/42", "QUERY_STRING": "page=2", "SERVER_NAME": "bench",
        "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1", "HTTP_HOST": "bench", "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""), "wsgi.errors": io.StringIO(), "wsgi.multithread": False,
        "wsgi.multiprocess": False, "wsgi.run_once": False, "wsgi.version": (1, 0),
    }  # fmt: skip


def _start_response(status: str, headers: Any, exc_info: Any = None) -> None:
    return None


def wsgi_runner(make_app: Callable[[], Any]) -> Callable[[int], None]:
    def run(n: int) -> None:
        app = make_app()
        environ = wsgi_environ()
        for _ in range(n):
            for _ in app(dict(environ), _start_response):
                pass

    return run


def bare_wsgi(environ: Any, start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


def make_wsgi() -> Any:
    from codewitness.sensor.integrations.wsgi import FlowMiddleware

    return FlowMiddleware(bare_wsgi)


def make_flask() -> Any:
    import flask

    app = flask.Flask("bench")

    @app.get("/items/<int:item_id>")
    def item(item_id: int) -> str:
        return "ok"

    return app


# -- drivers and clients -----------------------------------------------------------------------------

PER_FLOW = 10


def sqlite_runner(n: int) -> None:
    conn = sqlite3.connect(":memory:")
    cursor = conn.cursor()
    for _ in range(n):
        with job("bench"):
            for i in range(PER_FLOW):
                cursor.execute("SELECT ?", (i,))


def sqlite_jobs_only(n: int) -> None:
    for _ in range(n):
        with job("bench"):
            pass


def sqlalchemy_runner(n: int) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine("sqlite://")
    query = text("SELECT :x")
    with engine.connect() as conn:
        for _ in range(n):
            with job("bench"):
                for i in range(PER_FLOW):
                    conn.execute(query, {"x": i})
    engine.dispose()


def httpx_runner(n: int) -> None:
    import httpx

    transport = httpx.MockTransport(lambda request: httpx.Response(200, text="ok"))
    with httpx.Client(transport=transport, base_url="http://api.example.test") as client:
        for _ in range(n):
            with job("bench"):
                client.get("/users/42")


def calibration_ns(calls: int = 1_000_000) -> float:
    """The cost of one call of an empty Python function here and now (the machine's pace: figures
    measured on a busy machine scale with it)."""

    def empty() -> None:
        return None

    best = float("inf")
    for _ in range(5):
        start = time.thread_time_ns()
        for _ in range(calls):
            empty()
        best = min(best, (time.thread_time_ns() - start) / calls)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--batch", type=int, default=2000, help="requests (or flows of statements) per timed batch")
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    cases: list[tuple[str, str, Callable[[int], None], tuple[str, ...], int, int]] = [
        # name, unit, runner, integrations, units per run step, batch divisor
        ("asgi", "request", asgi_runner(make_asgi), (), 1, 1),
        ("starlette", "request", asgi_runner(make_starlette), ("starlette",), 1, 1),
        ("wsgi", "request", wsgi_runner(make_wsgi), (), 1, 1),
        ("flask", "request", wsgi_runner(make_flask), ("flask",), 1, 2),
        ("sqlite3", "statement", sqlite_runner, ("sqlite3",), PER_FLOW, 4),
        # SQLAlchemy over a driver with an integration (the default: the driver reports), and with
        # its own statement listeners, as for a driver without one (simulated on sqlite3).
        ("sqlalchemy", "statement", sqlalchemy_runner, ("sqlite3", "sqlalchemy"), PER_FLOW, 20),
        ("sa-listeners", "statement", sqlalchemy_runner, ("sqlalchemy",), PER_FLOW, 20),
        ("httpx", "call", httpx_runner, ("httpx",), 1, 10),
    ]
    results = []
    for name, unit, run, integrations, per, divisor in cases:
        if args.only and name not in args.only:
            continue
        batch = max(10, args.batch // divisor)
        # ``asgi``/``wsgi`` need a recorder but no patch: a sensor whose flow plug-in has no
        # integration to set up would have no flow plug-in at all, so give it one it will not use.
        wanted = integrations or ("django",)
        added = paired(run, wanted, args.rounds, batch, per)
        if unit == "statement" or unit == "call":
            # The flow each batch step opens is measured on its own and taken out.
            added -= paired(sqlite_jobs_only, wanted, args.rounds, batch, per)
        base = baseline(run, batch, per)
        results.append({"integration": name, "unit": unit, "added_ns": round(added), "baseline_ns": round(base)})
    pace = calibration_ns()
    if args.json:
        print(json.dumps({"python": sys.version.split()[0], "empty_call_ns": round(pace, 1), "results": results}))
        return 0
    print(
        f"Python {sys.version.split()[0]}; median of {args.rounds} paired rounds;"
        f" an empty function call costs {pace:.0f} ns here (load average {os.getloadavg()[0]:.1f})"
    )
    print(f"{'integration':<12} {'unit':<10} {'baseline':>12} {'added':>10}")
    for r in results:
        print(
            f"{r['integration']:<12} {r['unit']:<10} {r['baseline_ns'] / 1000:>10.2f}µs {r['added_ns'] / 1000:>8.2f}µs"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
