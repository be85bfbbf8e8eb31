"""The cost of failures that take turns: two messages of one exception type raised alternately
through two watched functions (as datasette's ``malformed JSON`` and ``no such table``).

Each variant runs in a fresh process (one round of ``--calls``, below the meter's per-type limit of
10,000 hand-overs per interval, so that the probe's path is what is measured), its thread's CPU
time per raising call: without the sensor, with this tree's sensor, and with the sensor of
``--baseline-src`` (a ``src`` folder whose compiled meter is built for this Python, e.g. made by
``git archive REV | tar -x -C DIR && (cd DIR && python setup.py build_ext --inplace)``).

    python benchmarks/sensor_turns.py --rounds 3 --baseline-src /tmp/base/src
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

APP = '''
class OperationalError(Exception):
    pass


def execute(sql):
    if sql.startswith("json"):
        raise OperationalError("malformed JSON")
    raise OperationalError(f"no such table: {sql}")


def query(sql):
    return execute(sql)
'''

RUN = r"""
import sys, time
if sys.argv[1] != "plain":
    import codewitness
    codewitness.init(service="turns", include=["turnsapp.*"], spool_dir="", endpoint="", otel=False, interval=3600)
import turnsapp
n = int(sys.argv[2])
started = time.thread_time()
for i in range(n):
    try:
        turnsapp.query("json" if i % 2 else "t1")
    except turnsapp.OperationalError:
        pass
print((time.thread_time() - started) / n * 1e9)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline-src", type=Path, help="a src folder with a built meter, to compare with")
    args = parser.parse_args()
    variants = ["plain", "sensor"] + (["baseline"] if args.baseline_src else [])
    ns: dict[str, list[float]] = {v: [] for v in variants}
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "turnsapp.py").write_text(APP)
        for _ in range(args.rounds):
            for variant in variants:
                env = {k: v for k, v in os.environ.items() if not k.startswith("CODEWITNESS_")}
                paths = [tmp] + ([str(args.baseline_src)] if variant == "baseline" else [])
                env["PYTHONPATH"] = os.pathsep.join(paths)
                done = subprocess.run(
                    [sys.executable, "-c", RUN, variant, str(args.calls)], capture_output=True, text=True, env=env
                )
                if done.returncode:
                    raise SystemExit(done.stderr)
                ns[variant].append(float(done.stdout.split()[-1]))
    print(f"Python {sys.version.split()[0]}: CPU time per raising call, median of {args.rounds} fresh processes")
    for variant in variants:
        extra = statistics.median(ns[variant]) - statistics.median(ns["plain"])
        shown = "" if variant == "plain" else f" ({extra:+.0f} ns for the sensor)"
        print(f"  {variant}: {statistics.median(ns[variant]):.0f} ns{shown}")


if __name__ == "__main__":
    main()
