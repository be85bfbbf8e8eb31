"""What watching every datasette function costs, in instructions: a count the machine's load cannot move.

On a shared machine, CPU time per request moves by several percent from one run to the next, more
than the sensor's cost. This counts the instructions datasette executes for the same requests
under valgrind (callgrind, counting only while the requests run): without the sensor, with every
``datasette`` function watched by this tree's sensor, and with ``--baseline REV``'s sensor. The
requests go through datasette's own in-process ASGI client on one thread (no server, no SQL
threads), datasette's time limits lifted, so every variant does exactly the same work and the
difference is the sensor's. Instructions are not time (cache misses are not counted), but a
change that makes the sensor do more shows here, run after run.

Each variant takes a few minutes (valgrind runs the interpreter some 50 times slower). Uses the
venv of ``sensor_datasette.py`` (``--venv``), made if missing.

    python benchmarks/sensor_instructions.py --python python3.12 --baseline 7ac48c5
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sensor_datasette import _baseline, _database, _venv  # type: ignore[import-not-found]

#: Requests made before counting (imports, caches), then the counted ones: the load mix of
#: sensor_datasette.py, every path once per 37 requests.
REQUESTS = r"""
import asyncio, os, sys
watch = sys.argv[2] == "watch"
if watch:
    import codewitness
    codewitness.init(service="bench", include=["datasette.*"], spool_dir=sys.argv[3], interval=3600)
from datasette.app import Datasette
limits = {"sql_time_limit_ms": 600000, "facet_time_limit_ms": 600000, "facet_suggest_time_limit_ms": 600000}
ds = Datasette([sys.argv[1]], settings={"num_sql_threads": 0, **limits})
paths = [
    "/fixture/items", "/fixture/items.json?_size=20", "/fixture/items/7.json", "/fixture/orders.json?_size=10",
    "/fixture.json?sql=select+count(*)+from+items", "/fixture/items.json?price__gt=50&_size=5",
    "/fixture.json?sql=select+json_extract(note,'$.a')+from+items+limit+3",
    "/fixture/orders.json?_sort=quantity&_size=5", "/fixture/items.json?_facet=kind",
] * 4 + ["/fixture.json?sql=select+*+from+nosuch"]
async def serve(n):
    for i in range(n):
        await ds.client.get(paths[i % len(paths)])
async def warm():
    await ds.invoke_startup()
    await serve(2 * len(paths))
loop = asyncio.new_event_loop()
loop.run_until_complete(warm())
sys.call_tracing(loop.run_until_complete, (serve(int(sys.argv[4])),))  # callgrind counts inside this call only
"""


def count(python: Path, workdir: Path, variant: str, requests: int, baseline_src: Path | None) -> int:
    """Instructions executed while ``requests`` requests are served, in one variant."""
    kind, _, at = variant.partition("@")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODEWITNESS_")}
    if at and baseline_src is not None:
        env["PYTHONPATH"] = str(baseline_src)
    out = workdir / f"callgrind-{variant}"
    spool = workdir / f"spool-{variant}"
    command = [
        "valgrind", "--tool=callgrind", "--collect-atstart=no", "--toggle-collect=sys_call_tracing",
        f"--callgrind-out-file={out}", str(python), "-c", REQUESTS, str(workdir / "fixture.db"),
        "plain" if kind == "plain" else "watch", str(spool), str(requests),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=workdir, check=False)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode or found is None:
        raise SystemExit(f"{variant}: {done.stderr[-2000:]}")
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--python", default=sys.executable, help="the interpreter to make the venv with")
    parser.add_argument("--venv", type=Path, default=Path(tempfile.gettempdir()) / "cw-datasette-venv")
    parser.add_argument("--requests", type=int, default=37, help="requests counted (37: the mix once)")
    parser.add_argument("--baseline", help="git revision whose sensor is counted too (all@base)")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
    python = _venv(args.venv, args.python)
    variants = ["plain", "all"] + (["all@base"] if args.baseline else [])
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        _database(workdir / "fixture.db")
        baseline_src = _baseline(python, args.baseline, workdir) if args.baseline else None
        counted = {}
        for variant in variants:
            counted[variant] = count(python, workdir, variant, args.requests, baseline_src)
            print(f"{variant}: {counted[variant]:,} instructions, {counted[variant] / args.requests:,.0f} per request")
    plain = counted["plain"]
    for variant in variants[1:]:
        label = f"{variant} ({args.baseline})" if "@" in variant else variant
        print(f"  {label}: {counted[variant] / plain - 1:+.2%} instructions against plain")


if __name__ == "__main__":
    main()
