"""Per-call cost of the sensor's slow path: sampled calls, review sampling, invariant breaches.

The fast path (a call that is only counted) is measured by ``sensor_overhead.py``. A call takes
the slow path when it is offered to the sample reservoir (``sample_rate``), checked by a review
rule or a configured invariant. This measures one tiny function, on the default backend, with:

* ``sample``: ``sample_rate = 1`` (every call offered to the reservoir of 5);
* ``review``: a ``[[review]]`` rule at rate 1 (20 items per interval leave, the rest are passed over);
* ``breach``: a ``[[invariants]]`` rule in record mode that every call breaks (a redacted capture
  per call, queued until the queue is full, then counted as dropped).

Run it with each interpreter::

    .venv/bin/python benchmarks/sensor_slow_path.py

It prints nanoseconds per call (best of several repeats); ``benchmarks/by_python.py`` runs it under
each Python at hand and puts the figures side by side.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import codewitness.sensor
from codewitness import invariants
from codewitness.behavior.review import ReviewPlugin
from codewitness.config import InvariantRule, ReviewRule, SensorSection
from codewitness.sensor.meter import COMPILED


def per_call_ns(fn: Any, calls: int, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter_ns()
        for i in range(calls):
            fn(i)
        best = min(best, (time.perf_counter_ns() - start) / calls)
    return best


def measure(folder: Path, case: str, calls: int, repeats: int) -> float:
    name = f"cw_slow_{case}"
    (folder / f"{name}.py").write_text("def tiny(x):\n    return x + 1\n")
    sensor = codewitness.sensor.init(
        service="bench",
        manifest=folder / "none.json",
        include=[f"{name}.tiny"],
        spool_dir="",
        interval=0.2,  # the exporter thread drains reservoirs, budgets and counts meanwhile
        settings=SensorSection(unwatch_cheap_calls=0),  # the slow path's cost: never unwatched here
        sample_rate=1.0 if case == "sample" else 0.0,
        exporters=[Discard()],
    )
    assert sensor is not None
    if case == "review":
        sensor.add_plugin(ReviewPlugin([ReviewRule(function=f"{name}.tiny", rate=1.0)]))
    elif case == "breach":
        rules, problems = invariants.compile_config_rules([InvariantRule(function=f"{name}.tiny", ensure="result < 0")])
        assert not problems
        sensor.add_plugin(invariants.InvariantsPlugin(rules))
    result = per_call_ns(importlib.import_module(name).tiny, calls, repeats)
    codewitness.sensor.shutdown()
    return result


class Discard:
    """An exporter that drops every batch (the cost measured is the host's, not the export's)."""

    def export(self, records: list[dict[str, Any]]) -> None:
        pass

    def close(self) -> None:
        pass

    def after_fork(self) -> None:
        pass

    def health(self) -> dict[str, int]:
        return {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="end with one JSON line of the figures (by_python.py)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="cw-bench-slow-"))
    sys.path.insert(0, str(folder))
    version = sys.version.split()[0]
    print(f"Python {version}, {args.calls:,} calls x {args.repeats} repeats (best), ns per call")
    rows = {}
    for case in ("sample", "review", "breach"):
        rows[case] = measure(folder, case, args.calls, args.repeats)
        print(f"  {case:<8} {rows[case]:10.0f}")
    if args.json:
        print(json.dumps({"python": version, "compiled": COMPILED, "unit": "ns per call", "rows": rows}))


if __name__ == "__main__":
    main()
