"""Throughput of the example shop with and without the runtime sensor, under real HTTP load.

The shop (``examples/shop``) serves on loopback in one process -- plain, then under
``codewitness run`` with every app function instrumented (``--include 'shop.*'``) -- while a
second process sends keep-alive ``POST /quote`` and ``/checkout`` requests as fast as it can.
Runs alternate (plain, sensor, plain, sensor, ...) and the best requests/second of each kind is
compared, so machine noise hits both alike.

    .venv/bin/python benchmarks/sensor_service.py
    .venv312/bin/python benchmarks/sensor_service.py --rounds 3 --seconds 5
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
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
print(sum(done) / (time.perf_counter() - start))
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


def one_run(instrumented: bool, seconds: float, connections: int, workdir: Path) -> float:
    port = free_port()
    server_cmd = [sys.executable, "-m", "shop.server", "--port", str(port)]
    if instrumented:
        server_cmd = [
            sys.executable, "-m", "codewitness", "run", "--include", "shop.*", "--interval", "1",
            "--spool-dir", str(workdir / "spool"), "--", *server_cmd,
        ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODEWITNESS_")}
    env["PYTHONPATH"] = os.pathsep.join([str(SHOP), env.get("PYTHONPATH", "")])
    server = subprocess.Popen(server_cmd, cwd=workdir, env=env, stdout=subprocess.DEVNULL)
    try:
        wait_for(port)
        load = subprocess.run(
            [sys.executable, "-c", LOAD, str(port), str(seconds), str(connections)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        return float(load.stdout)
    finally:
        server.terminate()
        server.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--connections", type=int, default=4)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="cw-shop-"))
    (workdir / ".git").mkdir()  # a project root of its own, so no outside configuration applies
    plain: list[float] = []
    sensor: list[float] = []
    for _ in range(args.rounds):
        plain.append(one_run(False, args.seconds, args.connections, workdir))
        sensor.append(one_run(True, args.seconds, args.connections, workdir))
    from codewitness.sensor.export import read_spool

    calls = sum(
        r["calls"] for _, records, _ in read_spool(workdir / "spool") for r in records if r["kind"] == "aggregate"
    )
    best_plain, best_sensor = max(plain), max(sensor)
    print(f"Python {sys.version.split()[0]}, {args.rounds} rounds x {args.seconds:g} s, {args.connections} connections")
    print(f"  plain       {best_plain:9.1f} req/s   (runs: {', '.join(f'{v:.0f}' for v in plain)})")
    print(f"  with sensor {best_sensor:9.1f} req/s   (runs: {', '.join(f'{v:.0f}' for v in sensor)})")
    print(f"  throughput loss: {(1 - best_sensor / best_plain) * 100:.1f}%  ({calls:,} instrumented calls recorded)")
    print(json.dumps({"plain_rps": best_plain, "sensor_rps": best_sensor, "recorded_calls": calls}))


if __name__ == "__main__":
    main()
