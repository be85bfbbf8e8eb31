"""The server under load: aggregate rows per second ingested over HTTP, and the function page's render time.

1. **Ingest**: a real ``codewitness serve`` (uvicorn, one process) on a fresh store; client threads POST
   batches the way the sensor's HTTP exporter does (gzip JSON lines, bearer token, batch id) of
   interval aggregates, and the rows stored per second of wall time are reported. On SQLite, and
   on PostgreSQL when ``--pg`` gives a server URL (a database is created in it) or ``--pg auto``
   starts a throwaway server with Debian's ``initdb``/``pg_ctl``.
2. **Function page**: a SQLite store with 1,000 functions x 1,000 intervals (1,000,000 aggregate
   rows, written straight into the table); a server on it; ``GET /functions/<name>`` for random
   functions; p50/p95/max of the full response time.

Run:
    python benchmarks/ingest.py                          # both, SQLite only
    python benchmarks/ingest.py --pg auto                # ingest on PostgreSQL too
    python benchmarks/ingest.py --skip-page --batches 200 --batch 500 --clients 4

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
from codewitness.store.tokens import create_token

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


@contextmanager
def server(db: str, cwd: Path) -> Iterator[tuple[str, int]]:
    port = _port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODEWITNESS_")}
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


def ingest_rate(db: str, *, batches: int, batch: int, clients: int) -> tuple[float, float | None]:
    """Rows stored per second over HTTP, and the server's CPU time per row (µs; ``None`` off Linux).

    The CPU time per row depends far less than the rate on what else the machine is running.
    """
    with tempfile.TemporaryDirectory() as folder, open_store(db) as store:
        token = create_token(store, "bench").secret
        bodies = [
            gzip.compress(
                b"".join(
                    json.dumps(aggregate(f"shop.f{(b * batch + i) % 1000}", T0), separators=(",", ":")).encode() + b"\n"
                    for i in range(batch)
                ),
                compresslevel=5,
            )
            for b in range(batches)
        ]
        with server(db, Path(folder)) as (url, pid):
            queue = list(range(batches))
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
        assert inserted[0] == batches * batch, inserted
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
    """A fresh database: in the server ``spec`` names, or (``auto``) in a throwaway cluster."""
    import psycopg

    if spec != "auto":
        name = "bench_" + uuid.uuid4().hex[:8]
        with psycopg.connect(spec, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        yield spec.rsplit("/", 1)[0] + "/" + name
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
        with psycopg.connect(f"postgresql://bench@127.0.0.1:{port}/postgres", autocommit=True) as conn:
            conn.execute('CREATE DATABASE "bench"')
        yield f"postgresql://bench@127.0.0.1:{port}/bench"
    finally:
        subprocess.run(
            [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
            check=False,
            capture_output=True,
        )
        shutil.rmtree(base, ignore_errors=True)


def _cpu(us_per_row: float | None) -> str:
    return "" if us_per_row is None else f"; server CPU {us_per_row:.1f} us/row"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, default=100)
    parser.add_argument("--batch", type=int, default=1000, help="records per batch")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--pg", help="a PostgreSQL server URL, or auto")
    parser.add_argument("--functions", type=int, default=1000)
    parser.add_argument("--intervals", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--skip-ingest", action="store_true")
    parser.add_argument("--skip-page", action="store_true")
    parser.add_argument("--page-db", type=Path, help="keep the page benchmark's store here (filled once, reused)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        if not args.skip_ingest:
            rate, cpu = ingest_rate(
                f"sqlite:///{folder}/ingest.db", batches=args.batches, batch=args.batch, clients=args.clients
            )
            shape = f"{args.batches} x {args.batch}, {args.clients} clients"
            print(f"ingest over HTTP, SQLite: {rate:,.0f} aggregate rows/s ({shape}){_cpu(cpu)}")
            if args.pg:
                with postgres(args.pg) as url:
                    rate, cpu = ingest_rate(url, batches=args.batches, batch=args.batch, clients=args.clients)
                print(f"ingest over HTTP, PostgreSQL: {rate:,.0f} aggregate rows/s{_cpu(cpu)}")
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
