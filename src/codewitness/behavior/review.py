"""Review sampling: a share of the calls of high-stakes functions goes to a human review queue.

``[[tool.codewitness.review]] function = "payments.*"  rate = 0.01`` makes the runtime sensor copy
1% of the calls of matching functions — inputs and output, redacted like every capture, and the
inputs' exact encoding for replay (:mod:`codewitness.sensor.exact`; none when a value would be
redacted or has no exact form, with the reason) — into ``review`` records. ``codewitness ingest``
stores them; ``codewitness review list | next | mark`` works through the queue, and a call marked
wrong becomes a regression case and a corpus entry (with the corrected expectation, when the
reviewer gives one) for replay.

Runs inside the host process: standard library only; at most :data:`PER_INTERVAL` items per
function per interval leave the process (further sampled calls of that interval are passed over).
The budget takes no lock (a signal handler that calls a sampled function while its thread is in
here must not wait for itself; a forked child inherits no lock another thread held).
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from codewitness.facts import Kind
from codewitness.sensor._rng import RNG
from codewitness.sensor._sampling import exact_arguments, redaction_of

if TYPE_CHECKING:
    from codewitness.config import ReviewRule
    from codewitness.sensor.plugins import Check, CheckFactory, Host

__all__ = ["PER_INTERVAL", "ReviewPlugin"]

PER_INTERVAL = 20
#: The largest exact encoding of one review item's inputs.
_MAX_BYTES = 65_536


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


class ReviewPlugin:
    """Samples calls of the functions the ``[[review]]`` rules name into ``review`` records.

    Args:
        rules: the configuration's review rules (a rule without a function or with a rate of 0
            samples nothing).
        chance: a number in [0, 1) per call; a call is sampled when it is below the rule's rate.
    """

    name = "review"

    def __init__(self, rules: Iterable[ReviewRule], *, chance: Callable[[], float] = RNG.random) -> None:
        self.rules = tuple(rule for rule in rules if rule.function and rule.rate > 0)
        self._chance = chance

    def setup(self, host: Host) -> None:
        """A check factory per rule and, when there is any, the budget's reset each interval."""
        budget = _Budget()
        for rule in self.rules:
            pattern = rule.function.replace(":", ".")
            host.add_check_factory(pattern, _factory(host, pattern, rule.rate, budget, self._chance))
        if self.rules:
            host.add_collector(budget.reset)

    def teardown(self, host: Host) -> None:
        """Nothing to undo: the checks end with the sensor."""


def _factory(host: Host, pattern: str, rate: float, budget: _Budget, chance: Callable[[], float]) -> CheckFactory:
    redaction = redaction_of(host.redactor)

    def make(function: str, _parameters: tuple[str, ...] | None) -> Check:
        def check(arguments: Mapping[str, Any], result: Any) -> None:
            if chance() >= rate or not budget.take(function):
                return
            snapshot = host.redactor.snapshot_arguments(arguments)
            encoded, reason = exact_arguments(arguments, snapshot, redaction, _MAX_BYTES)
            exact = {"input": encoded} if encoded is not None else {"not_replayable": reason}
            record = {  # a ReviewRecord but for the source and origin fields, which the sensor adds
                "kind": Kind.REVIEW,
                "id": uuid.uuid4().hex,
                "time": datetime.now(UTC).isoformat(),
                "function": function,
                "rule": pattern,
                "arguments": snapshot,
                "result": host.redactor.snapshot(result),
                **exact,
            }
            host.report_event(function, record)

        return check

    return make
