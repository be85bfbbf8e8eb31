"""Per-call cost of ``pytest --codewitness-tests``: the tracker that notes which AI functions a test runs.

Compares, in this process and on this Python, a loop calling two small functions -- one listed as
AI-written (a :class:`~codewitness.metrics.testruns.Target`), one not -- run:

* with no tracker (the baseline);
* under the tracker (``sys.monitoring`` on 3.12+, where the non-AI function is switched off after its
  first call; ``sys.setprofile`` on 3.11, where every call pays a Python callback).

Run::

    .venv/bin/python benchmarks/tests_tracker.py [--calls 200000] [--repeats 5]

It prints nanoseconds per call of each function (best of the repeats) and the ratio to the baseline.
"""

from __future__ import annotations

import argparse
import inspect
import sys
import time
from collections.abc import Callable

from codewitness.metrics.testruns import Target, Tracker


def ai_written(x: int) -> int:
    return x + 1


def human_written(x: int) -> int:
    return x - 1


def _per_call(function: Callable[[int], int], calls: int, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter_ns()
        for n in range(calls):
            function(n)
        best = min(best, (time.perf_counter_ns() - start) / calls)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    lines, first = inspect.getsourcelines(ai_written)
    target = Target(__file__, first, first + len(lines) - 1, "tests_tracker.ai_written", ("gen_bench",))
    base = {f.__name__: _per_call(f, args.calls, args.repeats) for f in (ai_written, human_written)}
    tracker = Tracker([target])
    tracker.start()
    try:
        tracker.begin()
        tracked = {f.__name__: _per_call(f, args.calls, args.repeats) for f in (ai_written, human_written)}
        seen = tracker.end()
    finally:
        tracker.stop()
    assert [t.name for t in seen] == ["tests_tracker.ai_written"], seen
    print(f"Python {sys.version.split()[0]}, tracker: {tracker.method}, {args.calls} calls x {args.repeats}")
    for name in base:
        ratio = tracked[name] / base[name]
        print(f"  {name:14} {base[name]:7.1f} ns/call bare  {tracked[name]:7.1f} ns/call tracked  x{ratio:.2f}")


if __name__ == "__main__":
    main()
