"""The server under load: aggregate rows per second ingested over HTTP, and the function page's render time.

1. **Ingest**: a real ``codewitness serve`` (uvicorn, one process) on a fresh store; client threads POST
   batches the way the sensor's HTTP exporter does (gzip JSON lines, bearer token, batch id) of
   interval aggregates, and the rows stored per second of wall time are reported. On SQLite, and
   on PostgreSQL when ``--pg`` gives a server URL (a database is created in it) or ``--pg auto``
   starts a throwaway server with Debian's ``initdb``/``pg_ctl``.
2. **Function page**: a SQLite store with 1,000 functions x 1,000 intervals (1,000,000 aggregate
   rows, written straight into the table); a server on it; ``GET /functions/<name>`` for random
   functions; p50/p95/max of the full response time.

With ``--baseline REV`` the ingest runs also against the server of that git revision (its ``src``
taken with ``git archive``, run by the same Python and packages), alternating with this tree's for
``--repeat`` rounds on the same batches, and the ratios of the medians are printed: on a shared
machine only figures measured side by side compare.

Run:
    python benchmarks/ingest.py                          # both, SQLite only
    python benchmarks/ingest.py --pg auto                # ingest on PostgreSQL too
    python benchmarks/ingest.py --skip-page --batches 200 --batch 500 --clients 4
    python benchmarks/ingest.py --skip-page --pg auto --baseline main --repeat 3

Goals from the issue: >= 20,000 aggregate rows/s on SQLite; function page p95 <= 200 ms.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from codewitness.facts import Histogram
from codewitness.model import utcnow
from codewitness.store import open_store, schema

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) a process has used so far; ``None`` off Linux."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


ROOT = Path(__file__).resolve().parent.parent


def _env(src: Path | None) -> dict[str, str]:
    """The environment of a process running this tree's codewitness, or (``src``) another tree's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODEWITNESS_")}
    if src is not None:
        env["PYTHONPATH"] = str(src)
    return env


def baseline_src(revision: str, folder: Path) -> Path:
    """The ``src`` folder of ``revision``'s tree, extracted into ``folder`` (nothing to build: the
    server's code is pure Python)."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
    return folder / "src"


#: Run by the code under test: it makes (and migrates) the store, so that a baseline's server
#: finds the schema it knows, and prints a writer token's secret.
_MAKE_STORE = """
import sys
from codewitness.store import open_store
from codewitness.store.tokens import create_token
with open_store(sys.argv[1]) as store:
    print(create_token(store, "bench").secret)
"""


def make_store(db: str, src: Path | None) -> str:
    """Create the store at ``db`` with the code under test; returns a writer token."""
    done = subprocess.run(
        [sys.executable, "-c", _MAKE_STORE, db], env=_env(src), capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


@contextmanager
def server(db: str, cwd: Path, src: Path | None = None) -> Iterator[tuple[str, int]]:
    port = _port()
    env = _env(src)
    log = (cwd / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "codewitness", "serve", "--db", db, "--port", str(port)],
        cwd=cwd,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                requests.get(url + "/api/v1/openapi.json", timeout=2)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        yield url, process.pid
    finally:
        process.terminate()
        process.wait(30)
        log.close()


def _histogram() -> dict[str, int]:
    h = Histogram()
    for ns in (900, 1_500, 20_000, 400_000):
        h.record(ns)
    return h.to_json()


HISTOGRAM = _histogram()


def aggregate(function: str, start: datetime) -> dict[str, Any]:
    return {
        "kind": "aggregate",
        "id": uuid.uuid4().hex,
        "service": "shop",
        "revision": "r1",
        "host": "h1",
        "pid": 42,
        "function": function,
        "origin": "ai",
        "ai_share": 1.0,
        "generation_ids": ["gen_1"],
        "models": ["claude-sonnet-4-5"],
        "path": "shop/pricing.py",
        "line": 10,
        "start": start.isoformat(),
        "end": (start + timedelta(seconds=10)).isoformat(),
        "calls": 4,
        "errors": {"ValueError": 1},
        "histogram": HISTOGRAM,
        "total_ns": 422_400,
        "max_ns": 400_000,
    }


def batch_bodies(batches: int, batch: int) -> list[bytes]:
    """The request bodies: gzip JSON lines of ``batch`` aggregates each, over 1,000 functions."""
    return [
        gzip.compress(
            b"".join(
                json.dumps(aggregate(f"shop.f{(b * batch + i) % 1000}", T0), separators=(",", ":")).encode() + b"\n"
                for i in range(batch)
            ),
            compresslevel=5,
        )
        for b in range(batches)
    ]


def ingest_rate(
    db: str, bodies: list[bytes], *, rows: int, clients: int, src: Path | None = None
) -> tuple[float, float | None]:
    """Rows stored per second over HTTP, and the server's CPU time per row (µs; ``None`` off Linux).

    ``db`` is a fresh store; ``src``: run the server of that tree instead of this one.
    The CPU time per row depends far less than the rate on what else the machine is running.
    """
    with tempfile.TemporaryDirectory() as folder:
        token = make_store(db, src)
        with server(db, Path(folder), src) as (url, pid):
            queue = list(range(len(bodies)))
            lock = threading.Lock()
            inserted = [0]

            def work() -> None:
                session = requests.Session()
                while True:
                    with lock:
                        if not queue:
                            return
                        index = queue.pop()
                    answer = session.post(
                        url + "/api/v1/ingest",
                        data=bodies[index],
                        headers={
                            "Authorization": f"Bearer {token}",
                            "Content-Encoding": "gzip",
                            "Content-Type": "application/x-ndjson",
                            "X-Codewitness-Batch": uuid.uuid4().hex,
                        },
                        timeout=120,
                    )
                    answer.raise_for_status()
                    with lock:
                        inserted[0] += answer.json()["inserted"]

            threads = [threading.Thread(target=work) for _ in range(clients)]
            cpu_before = cpu_seconds(pid)
            began = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.perf_counter() - began
            cpu_after = cpu_seconds(pid)
        assert inserted[0] == rows, (inserted[0], rows)
        cpu = None if cpu_before is None or cpu_after is None else (cpu_after - cpu_before) / inserted[0] * 1e6
        return inserted[0] / elapsed, cpu


def fill(db: str, functions: int, intervals: int) -> None:
    """``functions`` x ``intervals`` aggregate rows, inserted straight into the table in chunks."""
    now = utcnow()
    table = schema.runtime_aggregates
    with open_store(db) as store:
        for f in range(functions):
            rows = []
            for i in range(intervals):
                start = T0 + timedelta(seconds=10 * i)
                rows.append(
                    {
                        "id": uuid.uuid4().hex,
                        "service": "shop",
                        "revision": "r1",
                        "host": "h1",
                        "pid": 42,
                        "function": f"shop.module{f % 50}.function{f}",
                        "origin": "ai" if f % 3 else "human",
                        "ai_share": 1.0 if f % 3 else 0.0,
                        "generation_ids": ["gen_1"] if f % 3 else [],
                        "models": ["claude-sonnet-4-5"] if f % 3 else [],
                        "path": f"shop/module{f % 50}.py",
                        "line": 10 + f,
                        "interval_start": start,
                        "interval_end": start + timedelta(seconds=10),
                        "calls": 4,
                        "error_count": 1 if i % 17 == 0 else 0,
                        "errors": {"ValueError": 1} if i % 17 == 0 else {},
                        "histogram": HISTOGRAM,
                        "total_ns": 422_400,
                        "max_ns": 400_000,
                        "ingested_at": now,
                    }
                )
            with store.write() as conn:
                conn.execute(table.insert(), rows)
            if f % 100 == 99:
                print(f"  filled {f + 1:,} functions", file=sys.stderr)


def page_times(db: str, *, functions: int, requests_made: int) -> list[float]:
    with tempfile.TemporaryDirectory() as folder, server(db, Path(folder)) as (url, _pid):
        session = requests.Session()
        times = []
        rng = random.Random(7)
        session.get(url + "/functions/shop.module0.function0", timeout=120)  # warm up
        for _ in range(requests_made):
            f = rng.randrange(functions)
            began = time.perf_counter()
            answer = session.get(url + f"/functions/shop.module{f % 50}.function{f}", timeout=120)
            times.append((time.perf_counter() - began) * 1000)
            answer.raise_for_status()
            assert "shop.module" in answer.text
        return times


@contextmanager
def postgres(spec: str) -> Iterator[str]:
    """The URL of a PostgreSQL server to create databases in: ``spec``, or (``auto``) a throwaway cluster."""
    if spec != "auto":
        yield spec
        return
    bindir = sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1]
    base = Path(tempfile.mkdtemp(prefix="cw-bench-pg-"))
    prefix: list[str] = []
    if os.geteuid() == 0:
        base.chmod(0o755)
        shutil.chown(base, "postgres", "postgres")
        prefix = ["runuser", "-u", "postgres", "--"]
    data, port = base / "data", _port()
    subprocess.run(
        [*prefix, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "bench"],
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(base / "log"), "-w", "start"],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql://bench@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
            check=False,
            capture_output=True,
        )
        shutil.rmtree(base, ignore_errors=True)


def _cpu(us_per_row: float | None) -> str:
    return "" if us_per_row is None else f"; server CPU {us_per_row:.1f} us/row"


def compare_ingest(
    backend: str, databases: Iterator[str], bodies: list[bytes], args: argparse.Namespace, base: Path | None
) -> None:
    """Ingest into fresh stores from ``databases``, this tree's server alternating with the baseline's
    (``base``) for ``args.repeat`` rounds; print each run, and with a baseline the ratios of the medians."""
    rows = len(bodies) * args.batch
    shape = f"{len(bodies)} x {args.batch}, {args.clients} clients"
    runs: dict[str, list[tuple[float, float | None]]] = {"this tree": [], f"baseline {args.baseline}": []}
    for _round in range(args.repeat):
        for label, src in (("this tree", None), (f"baseline {args.baseline}", base)):
            if label != "this tree" and base is None:
                continue
            rate, cpu = ingest_rate(next(databases), bodies, rows=rows, clients=args.clients, src=src)
            runs[label].append((rate, cpu))
            named = "" if base is None else f", {label}"
            print(f"ingest over HTTP, {backend}{named}: {rate:,.0f} aggregate rows/s ({shape}){_cpu(cpu)}", flush=True)
    if base is None:
        return
    mine, theirs = runs["this tree"], runs[f"baseline {args.baseline}"]
    speed = statistics.median(r for r, _ in mine) / statistics.median(r for r, _ in theirs)
    line = f"ingest over HTTP, {backend}: this tree / baseline {args.baseline}: rows/s x{speed:.2f}"
    if all(c is not None for _, c in mine + theirs):
        cost = statistics.median(c for _, c in mine if c) / statistics.median(c for _, c in theirs if c)
        line += f", server CPU per row x{cost:.2f}"
    print(line + f" (medians of {args.repeat})", flush=True)


def _sqlite_stores(folder: Path) -> Iterator[str]:
    n = 0
    while True:
        n += 1
        yield f"sqlite:///{folder}/ingest-{n}.db"


def _postgres_stores(server_url: str) -> Iterator[str]:
    """A fresh database in the server at each ``next``."""
    import psycopg

    while True:
        name = "bench_" + uuid.uuid4().hex[:8]
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        yield server_url.rsplit("/", 1)[0] + "/" + name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, default=100)
    parser.add_argument("--batch", type=int, default=1000, help="records per batch")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--pg", help="a PostgreSQL server URL, or auto")
    parser.add_argument("--baseline", help="a git revision: its server ingests too, alternating with this tree's")
    parser.add_argument("--repeat", type=int, default=1, help="ingest runs per server and backend")
    parser.add_argument("--functions", type=int, default=1000)
    parser.add_argument("--intervals", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--skip-ingest", action="store_true")
    parser.add_argument("--skip-page", action="store_true")
    parser.add_argument("--page-db", type=Path, help="keep the page benchmark's store here (filled once, reused)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        if not args.skip_ingest:
            base = None
            if args.baseline:
                (Path(folder) / "baseline").mkdir()
                base = baseline_src(args.baseline, Path(folder) / "baseline")
            bodies = batch_bodies(args.batches, args.batch)
            compare_ingest("SQLite", _sqlite_stores(Path(folder)), bodies, args, base)
            if args.pg:
                with postgres(args.pg) as url:
                    compare_ingest("PostgreSQL", _postgres_stores(url), bodies, args, base)
        if not args.skip_page:
            path = args.page_db or Path(folder) / "page.db"
            db = f"sqlite:///{path.resolve()}"
            if not path.exists():
                began = time.perf_counter()
                fill(db, args.functions, args.intervals)
                rows = args.functions * args.intervals
                print(f"store: {rows:,} aggregate rows in {time.perf_counter() - began:.0f} s", file=sys.stderr)
            times = page_times(db, functions=args.functions, requests_made=args.requests)
            times.sort()
            p95 = times[int(len(times) * 0.95) - 1]
            print(
                f"function page, {args.functions:,} functions x {args.intervals:,} intervals: "
                f"p50 {statistics.median(times):.1f} ms, p95 {p95:.1f} ms, max {times[-1]:.1f} ms"
                f" ({len(times)} requests)"
            )


if __name__ == "__main__":
    main()
