"""Per-call cost of one invariant, as ratios measured in one run.

Compares, in this process and on this Python, one small business function
(``total(items) -> sum of price * qty``) called:

* bare (the baseline);
* with one ``@codewitness.ensure(lambda result: result >= 0)`` — the decorator alone, no sensor;
* with one ``@codewitness.ensure`` whose predicate reads an argument as well as the result
  (``lambda result, items: result >= 0 and len(items) >= 0``: the arguments are bound per call);
* under the runtime sensor with no rule (the sensor's own cost, for reference);
* under the runtime sensor with the same rule declared in configuration
  (``ensure = "result >= 0"``, parsed once, evaluated by the safe interpreter on every call).

Run::

    .venv/bin/python benchmarks/invariants_overhead.py [--calls 200000] [--repeats 5]

It prints nanoseconds per call (best of the repeats) and each variant's ratio to the baseline,
plus the added cost of the rule in nanoseconds; ``benchmarks/by_python.py`` runs it under each
Python at hand and puts the figures side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import codewitness
import codewitness.sensor
from codewitness import invariants
from codewitness.config import SensorSection
from codewitness.model import Manifest, ManifestFunction
from codewitness.sensor.meter import COMPILED

SOURCE = """
class Item:
    __slots__ = ("price", "qty")

    def __init__(self, price, qty):
        self.price = price
        self.qty = qty


def total(items):
    return sum(i.price * i.qty for i in items)
"""


def best_ns(fn: Callable[[Any], Any], arg: Any, calls: int, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter_ns()
        for _ in range(calls):
            fn(arg)
        best = min(best, (time.perf_counter_ns() - start) / calls)
    return best


def load(folder: Path, name: str) -> Any:
    (folder / f"{name}.py").write_text(textwrap.dedent(SOURCE))
    __import__(name)
    return sys.modules[name]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="end with one JSON line of the figures (by_python.py)")
    args = parser.parse_args()
    invariants.set_default_mode("record")

    folder = Path(tempfile.mkdtemp(prefix="cw-bench-inv-"))
    sys.path.insert(0, str(folder))
    plain = load(folder, "bench_plain")
    items = [plain.Item(3, 2), plain.Item(5, 1), plain.Item(7, 3)]

    results: dict[str, float] = {}
    results["bare"] = best_ns(plain.total, items, args.calls, args.repeats)
    results["@ensure(result)"] = best_ns(
        codewitness.ensure(lambda result: result >= 0, name="bench_result")(plain.total),
        items,
        args.calls,
        args.repeats,
    )
    results["@ensure(result, items)"] = best_ns(
        codewitness.ensure(lambda result, items: result >= 0 and len(items) >= 0, name="bench_args")(plain.total),
        items,
        args.calls,
        args.repeats,
    )

    settings = SensorSection(spool_dir="", interval=3600.0)
    manifest = Manifest(
        revision="bench",
        functions=(ManifestFunction("bench_sensor", "total", "bench_sensor.py", 1, 2, 1.0),),
    )
    sensor = codewitness.sensor.init(service="bench", manifest=manifest, settings=settings)
    sensed = load(folder, "bench_sensor")
    results["sensor, no rule"] = best_ns(sensed.total, items, args.calls, args.repeats)
    codewitness.sensor.shutdown()
    del sys.modules["bench_sensor"]

    project = folder / "project"
    project.mkdir()
    (project / "codewitness.toml").write_text(
        '[sensor]\nspool_dir = ""\ninterval = 3600\n'
        '[[invariants]]\nfunction = "bench_ruled:total"\nensure = "result >= 0"\nname = "bench_config"\n'
    )
    os.chdir(project)
    manifest = Manifest(
        revision="bench",
        functions=(ManifestFunction("bench_ruled", "total", "bench_ruled.py", 1, 2, 1.0),),
    )
    sensor = codewitness.init(service="bench", manifest=manifest)
    ruled = load(folder, "bench_ruled")
    results["sensor + config rule"] = best_ns(ruled.total, items, args.calls, args.repeats)
    codewitness.sensor.shutdown()
    assert sensor is not None

    counted = {s.rule.name: s.passed for s in invariants.stats()}
    assert counted.get("bench_config", 0) >= args.calls, "the configured rule did not run"
    base = results["bare"]
    version = ".".join(map(str, sys.version_info[:3]))
    print(f"Python {version}, {args.calls} calls x {args.repeats} repeats, best ns/call")
    print(f"{'variant':<26}{'ns/call':>10}{'ratio':>9}{'added ns':>10}")
    for name, ns in results.items():
        print(f"{name:<26}{ns:>10.0f}{ns / base:>8.2f}x{ns - base:>10.0f}")
    rule_cost = results["sensor + config rule"] - results["sensor, no rule"]
    print(f"one configured rule on top of the sensor: +{rule_cost:.0f} ns/call")
    if args.json:
        rows = {"bare": base} | {f"added: {name}": ns - base for name, ns in results.items() if name != "bare"}
        rows["added: a configured rule on top of the sensor"] = rule_cost
        print(json.dumps({"python": version, "compiled": COMPILED, "unit": "ns per call", "rows": rows}))


if __name__ == "__main__":
    main()
