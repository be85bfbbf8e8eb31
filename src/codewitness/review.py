"""Review sampling: a share of the calls of high-stakes functions goes to a human review queue.

``[[tool.codewitness.review]] function = "payments.*"  rate = 0.01`` makes the runtime sensor copy
1% of the calls of matching functions — inputs and output, redacted like every capture — into
``review`` records. ``codewitness ingest`` stores them; ``codewitness review list | next | mark``
works through the queue, and a call marked wrong becomes a regression case for later replay.

Runs inside the host process: standard library only; at most :data:`PER_INTERVAL` items per
function per interval leave the process (further sampled calls of that interval are passed over).
The budget takes no lock (a signal handler that calls a sampled function while its thread is in
here must not wait for itself; a forked child inherits no lock another thread held).
"""

from __future__ import annotations

import itertools
import random
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from codewitness.config import ReviewRule
    from codewitness.sensor import Sensor

__all__ = ["PER_INTERVAL", "install"]

PER_INTERVAL = 20


class _Budget:
    """Review items per function in the current interval.

    Each function's items are numbered by an ``itertools.count``: ``next()`` on it is one step
    (a C call) that neither a thread switch nor a signal handler can split, so the budget is exact
    without a lock. ``setdefault`` with a string key is one such step as well.
    """

    def __init__(self) -> None:
        self.used: dict[str, itertools.count[int]] = {}

    def take(self, function: str) -> bool:
        numbers = self.used.get(function)
        if numbers is None:
            numbers = self.used.setdefault(function, itertools.count())
        return next(numbers) < PER_INTERVAL

    def reset(self) -> list[dict[str, Any]]:
        """Start a new interval (a collector: it adds no records)."""
        self.used = {}
        return []


def install(sensor: Sensor, rules: Iterable[ReviewRule], *, chance: Callable[[], float] = random.random) -> int:
    """Sample calls of the functions the rules name into review records; returns how many rules."""
    budget = _Budget()
    count = 0
    for rule in rules:
        if not rule.function or rule.rate <= 0:
            continue
        pattern = rule.function.replace(":", ".")
        sensor.add_check_factory(pattern, _factory(sensor, pattern, rule.rate, budget, chance))
        count += 1
    if count:
        sensor.add_collector(budget.reset)
    return count


def _factory(
    sensor: Sensor, pattern: str, rate: float, budget: _Budget, chance: Callable[[], float]
) -> Callable[[str, tuple[str, ...] | None], Callable[[Mapping[str, Any], Any], None]]:
    def make(function: str, _parameters: tuple[str, ...] | None) -> Callable[[Mapping[str, Any], Any], None]:
        def check(arguments: Mapping[str, Any], result: Any) -> None:
            if chance() >= rate or not budget.take(function):
                return
            record = {
                "kind": "review",
                "id": uuid.uuid4().hex,
                "time": datetime.now(UTC).isoformat(),
                "function": function,
                "rule": pattern,
                "arguments": sensor.redactor.snapshot_arguments(arguments),
                "result": sensor.redactor.snapshot(result),
            }
            sensor.report_event(function, record)

        return check

    return make
