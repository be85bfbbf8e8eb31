"""Throughput of the example shop with and without the runtime sensor, under real HTTP load.

The shop (``examples/shop``) serves on loopback in one process -- plain; under ``codewitness run``
with nothing selected (idle); and with every app function instrumented (``--include 'shop.*'``) --
while a second process sends keep-alive ``POST /quote`` and ``/checkout`` requests as fast as it
can. On a machine with two or more CPUs the server and the load get one CPU each, so they do not
take turns on the same core. Each round runs every variant once, in a rotating order; the loss is
reported from the best and median runs of each kind, and paired round by round (each sensor run
against the same round's plain run), so that noise lasting a round hits both.

Then, in one child process, a plain copy of the shop (``shop_plain``, which no pattern selects)
and a watched copy serve alternate batches of the same requests through the real request handler
on loopback sockets (``--batches``, ``--batch``): a ratio measured in one run, which machine noise
between runs cannot move.

    .venv/bin/python benchmarks/sensor_service.py
    .venv-test/3.12/bin/python benchmarks/sensor_service.py --rounds 3 --seconds 5

``--ab-runs N`` runs only the in-process comparison, N times (``--batches 150`` for the figures in
docs/sensor.md), and ``--control`` makes it watch neither copy, which shows the method's noise;
``benchmarks/by_python.py`` runs it (``--ab-runs 1 --json``) under each Python at hand, side by side.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHOP = ROOT / "examples" / "shop"

LOAD = r"""
import http.client, json, sys, time
port, seconds, connections = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
import threading
bodies = [
    ("/quote", json.dumps({"items": [{"sku": "apple", "quantity": 3}, {"sku": "bread", "quantity": 1}],
                           "coupon": "WELCOME10"})),
    ("/checkout", json.dumps({"items": [{"sku": "coffee", "quantity": 1}], "card": "4111 1111 1111 1111",
                              "token": "tok"})),
    ("/quote", json.dumps({"items": [{"sku": "caviar", "quantity": 1}]})),
]
done = [0] * connections
deadline = time.perf_counter() + seconds
def worker(k):
    conn = http.client.HTTPConnection("127.0.0.1", port)
    i = 0
    while time.perf_counter() < deadline:
        path, body = bodies[i % len(bodies)]
        conn.request("POST", path, body, {"Content-Type": "application/json"})
        conn.getresponse().read()
        i += 1
    done[k] = i
threads = [threading.Thread(target=worker, args=(k,)) for k in range(connections)]
start = time.perf_counter()
for t in threads: t.start()
for t in threads: t.join()
print(sum(done) / (time.perf_counter() - start), sum(done))
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(port: int) -> None:
    for _ in range(200):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"the shop did not start on port {port}")


#: plain: no sensor. idle: ``codewitness run`` with nothing selected (the same process start and
#: export thread, no function watched). sensor: every function of the shop watched.
VARIANTS = ("plain", "idle", "sensor")


def _pinned(cpu: int | None) -> Callable[[], None] | None:
    """A ``preexec_fn`` that keeps the child (and every thread it starts) on one CPU."""
    if cpu is None:
        return None
    return lambda: os.sched_setaffinity(0, {cpu})


def one_run(
    variant: str, seconds: float, connections: int, workdir: Path, cpus: tuple[int, int] | None
) -> tuple[float, float, float]:
    """(requests per second, server CPU microseconds per request, server CPU busy share) for one run."""
    port = free_port()
    server_cmd = [sys.executable, "-m", "shop.server", "--port", str(port)]
    if variant != "plain":
        include = "shop.*" if variant == "sensor" else "no.such.module.*"
        server_cmd = [
            sys.executable, "-m", "codewitness", "run", "--include", include, "--interval", "1",
            "--spool-dir", str(workdir / variant), "--", *server_cmd,
        ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODEWITNESS_")}
    env["PYTHONPATH"] = os.pathsep.join([str(SHOP), env.get("PYTHONPATH", "")])
    server_cpu, load_cpu = cpus if cpus else (None, None)
    server = subprocess.Popen(
        server_cmd, cwd=workdir, env=env, stdout=subprocess.DEVNULL, preexec_fn=_pinned(server_cpu)
    )  # fmt: skip
    try:
        wait_for(port)
        before, started = _cpu_seconds(server.pid), time.perf_counter()
        load = subprocess.run(
            [sys.executable, "-c", LOAD, str(port), str(seconds), str(connections)],
            capture_output=True, text=True, check=True, preexec_fn=_pinned(load_cpu),
        )  # fmt: skip
        used = _cpu_seconds(server.pid) - before
        busy = used / (time.perf_counter() - started)
        rps, requests = (float(x) for x in load.stdout.split())
        return rps, used / requests * 1e6, busy
    finally:
        server.terminate()
        server.wait(10)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a running process (Linux /proc), so startup cost is left out."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


# -- the same comparison inside one process ---------------------------------------------------------

BODIES = [
    ("/quote", {"items": [{"sku": "apple", "quantity": 3}, {"sku": "bread", "quantity": 1}], "coupon": "WELCOME10"}),
    ("/checkout", {"items": [{"sku": "coffee", "quantity": 1}], "card": "4111 1111 1111 1111", "token": "tok"}),
    ("/quote", {"items": [{"sku": "caviar", "quantity": 1}]}),
]


class _Connection:
    """One keep-alive HTTP connection on loopback, served by a ``Handler`` driven in this thread."""

    def __init__(self, handler_class: type) -> None:
        with socket.create_server(("127.0.0.1", 0)) as listener:
            self.client = socket.create_connection(listener.getsockname())
            served, address = listener.accept()
        self.client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.handler = handler_class.__new__(handler_class)
        self.handler.request, self.handler.client_address, self.handler.server = served, address, None
        self.handler.setup()
        self.requests = []
        for path, payload in BODIES:
            body = json.dumps(payload)
            head = f"POST {path} HTTP/1.1\r\nHost: shop\r\nContent-Type: application/json\r\n"
            self.requests.append(f"{head}Content-Length: {len(body)}\r\n\r\n{body}".encode())

    def serve(self, count: int) -> None:
        for i in range(count):
            self.client.sendall(self.requests[i % len(self.requests)])
            self.handler.handle_one_request()
            self._read_response()

    def _read_response(self) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            data += self.client.recv(65536)
        head, _, body = data.partition(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length:", 1)[1].split(b"\r\n", 1)[0])
        while len(body) < length:
            body += self.client.recv(65536)


def _plain_copy(workdir: Path) -> Path:
    """The shop's package copied as ``shop_plain``, which no include pattern of the sensor matches."""
    root = workdir / "plain"
    package = root / "shop_plain"
    package.mkdir(parents=True, exist_ok=True)
    for source in (SHOP / "shop").glob("*.py"):
        text = source.read_text().replace("from shop import", "from shop_plain import")
        (package / source.name).write_text(text.replace("from shop.", "from shop_plain."))
    return root


def ab_child(workdir: Path, batches: int, batch: int, control: bool = False) -> None:
    """In a child process: a plain copy and a watched copy of the shop serve alternate batches.

    ``control``: the sensor runs but watches neither copy (what the method reads with no cost)."""
    sys.path[:0] = [str(_plain_copy(workdir)), str(SHOP)]
    plain_server = importlib.import_module("shop_plain.server")
    import codewitness.sensor

    spool = str(workdir / "ab-spool")
    include = ["no.such.module.*"] if control else ["shop.*"]
    codewitness.sensor.init(service="shop-ab", include=include, spool_dir=spool, interval=1, endpoint="", otel=False)
    watched_server = importlib.import_module("shop.server")
    connections = {"plain": _Connection(plain_server.Handler), "sensor": _Connection(watched_server.Handler)}
    for connection in connections.values():
        connection.serve(300)  # warm up: caches, the interpreter's specialisation
    seconds: dict[str, list[float]] = {name: [] for name in connections}
    for round_no in range(batches):
        order = list(connections) if round_no % 2 == 0 else list(reversed(connections))
        for name in order:
            start = time.perf_counter()
            connections[name].serve(batch)
            seconds[name].append((time.perf_counter() - start) / batch)
    print(json.dumps(seconds))


def in_process(workdir: Path, batches: int, batch: int, control: bool = False) -> dict[str, list[float]]:
    """Per-request seconds of each batch, for the plain and the watched copy (run in a child)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODEWITNESS_")}
    command = [sys.executable, __file__, "--ab-child", str(workdir), "--batches", str(batches), "--batch", str(batch)]
    child = subprocess.run(
        [*command, *(["--control"] if control else [])], capture_output=True, text=True, check=True, cwd=workdir,
        env=env,
    )  # fmt: skip
    result: dict[str, list[float]] = json.loads(child.stdout)
    return result


def report_in_process(seconds: dict[str, list[float]]) -> dict[str, float]:
    best = {name: min(values) * 1e6 for name, values in seconds.items()}
    paired = [s / p - 1 for s, p in zip(seconds["sensor"], seconds["plain"], strict=True)]
    cost = statistics.median(paired)
    print(f"In one process, {len(paired)} alternating batches through the real handler on loopback sockets:")
    print(f"  plain copy {best['plain']:6.1f} us/request, watched copy {best['sensor']:6.1f} us/request (best batch)")
    print(f"  added time per request: {(best['sensor'] / best['plain'] - 1) * 100:+.1f}% (best batches), ", end="")
    print(f"{cost * 100:+.1f}% (median of paired batches); throughput loss {(1 - 1 / (1 + cost)) * 100:.1f}%")
    return {"plain_us": best["plain"], "sensor_us": best["sensor"], "paired_cost_median": cost}


def repeated_in_process(runs: int, batches: int, batch: int, control: bool, as_json: bool = False) -> None:
    """The in-process comparison in ``runs`` fresh children: each run's figure, and their mean."""
    workdir = Path(tempfile.mkdtemp(prefix="cw-shop-"))
    (workdir / ".git").mkdir()
    figures = []
    what = "neither copy watched (control)" if control else "every shop function watched"
    version = sys.version.split()[0]
    print(f"Python {version}, {runs} runs of {batches} alternating batches x {batch} requests, {what}")
    for _ in range(runs):
        figures.append(report_in_process(in_process(workdir, batches, batch, control)))
    costs = [figure["paired_cost_median"] for figure in figures]
    mean = statistics.mean(costs)
    shown = ", ".join(f"{c * 100:+.2f}%" for c in costs)
    spread = f", sd {statistics.stdev(costs) * 100:.2f}%" if len(costs) > 1 else ""
    print(f"added time per request, median of paired batches: {shown}")
    print(f"  mean {mean * 100:+.2f}%{spread}; throughput loss {(1 - 1 / (1 + mean)) * 100:.2f}%")
    if as_json:
        from codewitness.sensor.meter import COMPILED

        rows = {
            "added time per request (%)": mean * 100,
            "plain copy, us per request (best batch)": min(f["plain_us"] for f in figures),
            "watched copy, us per request (best batch)": min(f["sensor_us"] for f in figures),
        }
        print(json.dumps({"python": version, "compiled": COMPILED, "unit": "in one process", "rows": rows}))


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--no-pin", action="store_true", help="let the OS place server and load (default: a CPU each)")
    parser.add_argument("--batches", type=int, default=40, help="alternating batches of the in-process comparison")
    parser.add_argument("--batch", type=int, default=150, help="requests per batch")
    parser.add_argument("--ab-runs", type=int, default=0, help="only the in-process comparison, this many times")
    parser.add_argument(
        "--control", action="store_true", help="with --ab-runs: watch neither copy (the method's own noise)"
    )
    parser.add_argument(
        "--json", action="store_true", help="with --ab-runs: end with one JSON line of the figures (by_python.py)"
    )
    parser.add_argument("--ab-child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.ab_child:
        ab_child(args.ab_child, args.batches, args.batch, args.control)
        return
    if args.ab_runs:
        repeated_in_process(args.ab_runs, args.batches, args.batch, args.control, args.json)
        return
    available = sorted(os.sched_getaffinity(0))
    cpus = (available[0], available[1]) if len(available) >= 2 and not args.no_pin else None
    workdir = Path(tempfile.mkdtemp(prefix="cw-shop-"))
    (workdir / ".git").mkdir()  # a project root of its own, so no outside configuration applies
    runs: dict[str, list[float]] = {v: [] for v in VARIANTS}
    cpu: dict[str, list[float]] = {v: [] for v in VARIANTS}
    busy: dict[str, list[float]] = {v: [] for v in VARIANTS}
    for round_no in range(args.rounds):
        # Rotate the order, so no variant always runs first (or right after a given other one).
        order = VARIANTS[round_no % 3 :] + VARIANTS[: round_no % 3]
        for variant in order:
            rps, cpu_us, share = one_run(variant, args.seconds, args.connections, workdir, cpus)
            runs[variant].append(rps)
            cpu[variant].append(cpu_us)
            busy[variant].append(share)
    from codewitness.ingest import read_spool

    spooled = [r for _, records, _ in read_spool(workdir / "sensor") for r in records]
    calls = sum(r["calls"] for r in spooled if r["kind"] == "aggregate")
    requests_served = sum(runs["sensor"]) * args.seconds
    best = {v: max(values) for v, values in runs.items()}
    median = {v: statistics.median(values) for v, values in runs.items()}
    cpu_median = {v: statistics.median(values) for v, values in cpu.items()}
    # Each round's sensor run against the same round's plain run: noise that lasts a round hits both.
    paired = [1 - sensor / plain for sensor, plain in zip(runs["sensor"], runs["plain"], strict=True)]
    paired_cpu = [sensor / plain - 1 for sensor, plain in zip(cpu["sensor"], cpu["plain"], strict=True)]
    version = sys.version.split()[0]
    placement = f"server on CPU {cpus[0]}, load on CPU {cpus[1]}" if cpus else "not pinned"
    print(f"Python {version}, {args.rounds} rounds x {args.seconds:g} s, {args.connections} connections, {placement}")
    for variant in VARIANTS:
        shown = ", ".join(f"{v:.0f}" for v in runs[variant])
        figures = f"best {best[variant]:7.1f} req/s, median {median[variant]:7.1f}"
        share = statistics.median(busy[variant]) * 100
        server = f"server CPU {cpu_median[variant]:6.1f} us/request, {share:3.0f}% busy"
        print(f"  {variant:<7} {figures}, {server}   (runs: {shown})")
    for label, stat in (("best", best), ("median", median)):
        vs_plain = (1 - stat["sensor"] / stat["plain"]) * 100
        vs_idle = (1 - stat["sensor"] / stat["idle"]) * 100
        print(f"  throughput loss ({label}): {vs_plain:+.1f}% vs plain, {vs_idle:+.1f}% vs idle sensor")
    shown = ", ".join(f"{x * 100:+.1f}%" for x in paired)
    print(f"  throughput loss, paired by round: median {statistics.median(paired) * 100:+.1f}%   (rounds: {shown})")
    extra = statistics.median(paired_cpu) * 100
    print(f"  server CPU per request: {extra:+.1f}% with the sensor (median of rounds)")
    print(f"  {calls:,} instrumented calls recorded, {calls / requests_served:.1f} per request")
    in_one = report_in_process(in_process(workdir, args.batches, args.batch))
    summary = {
        "in_process": in_one,
        "best": best,
        "median": median,
        "paired_loss_median": statistics.median(paired),
        "cpu_us_per_request": cpu_median,
        "recorded_calls": calls,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
