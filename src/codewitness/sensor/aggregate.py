"""Per-function, per-interval aggregates: calls, errors by type, and a latency histogram.

A :class:`FunctionStats` holds one watched function's running totals; once per interval the
exporter thread drains them into an :class:`IntervalStats`, which becomes one ``aggregate``
record. The per-call counting itself is done by a meter (:mod:`codewitness.sensor.meter`), in
the buckets of the record format's latency histogram (:class:`codewitness.facts.Histogram`).

Standard library only.

Example:
    >>> stats = FunctionStats()
    >>> for ns in (1_000, 2_000, 3_000):
    ...     stats.ok(ns)
    >>> stats.error("ValueError")
    >>> drained = stats.drain()
    >>> drained.calls, drained.errors
    (3, {'ValueError': 1})
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from codewitness.facts import Histogram, bucket_value
from codewitness.sensor.meter import PyMeter

__all__ = ["FunctionStats", "IntervalStats", "error_name"]


@dataclass(frozen=True)
class IntervalStats:
    """What one function did in one interval (the unit that leaves the process).

    ``total_ns`` and ``max_ns`` come from the histogram's bucket midpoints (within 1.6%): keeping
    exact ones would cost every call two more operations.
    """

    calls: int
    errors: dict[str, int]
    histogram: Histogram
    total_ns: int
    max_ns: int
    #: Exceptions the meter counted but left uncaptured (beyond the per-type budget).
    suppressed: int = 0

    def quantile_ms(self, q: float) -> float:
        """A latency quantile in milliseconds."""
        return self.histogram.quantile(q) / 1e6


#: ``id(cls)`` -> ``(cls, name)``: keyed by identity, so that naming a class never runs its
#: metaclass's ``__hash__`` or ``__eq__`` (the sensor names exceptions on the host's threads).
_ERROR_NAMES: dict[int, tuple[type, str]] = {}
# The class's own module and qualified name, past any property a metaclass defines for them.
_MODULE_OF = type.__dict__["__module__"].__get__
_QUALNAME_OF = type.__dict__["__qualname__"].__get__


def error_name(cls: type) -> str:
    """How an exception class is named in ``errors``: ``ValueError``, ``shop.pricing.PricingError``."""
    known = _ERROR_NAMES.get(id(cls))
    if known is not None and known[0] is cls:
        return known[1]
    module, qualname = _MODULE_OF(cls), _QUALNAME_OF(cls)
    name = qualname if type(module) is not str or module == "builtins" else f"{module}.{qualname}"
    if len(_ERROR_NAMES) < 4096:  # bounded: exception classes made on the fly must not grow it
        _ERROR_NAMES[id(cls)] = (cls, name)
    return name


class FunctionStats:
    """Running totals for one function since the last :meth:`drain`.

    Calls and latencies are counted by a meter (:mod:`codewitness.sensor.meter`: compiled, or
    pure Python), errors by type here. ``ok``/``error`` run on the application's threads,
    ``drain`` on the exporter thread once per interval, and none of them takes a lock: under
    the GIL (CPython 3.11/3.12) the compiled meter's methods run whole, and a statement such as
    ``self.counts[i] += 1`` runs without a thread switch (the interpreter only switches threads
    at calls and backward jumps, and it contains neither). The meter's ``take`` and the swap of
    ``errors`` are each such a step, so every count lands wholly in one interval: counts stay
    exact across threads (a test hammers this) at a fraction of a lock's cost.
    """

    __slots__ = ("errors", "meter")

    def __init__(self, meter: Any = None) -> None:
        self.meter = meter if meter is not None else PyMeter()
        self.errors: defaultdict[str, int] = defaultdict(int)

    def reinit_after_fork(self) -> None:
        """In a forked child: no inherited counts (the parent reports those)."""
        self.meter.take()
        self.errors = defaultdict(int)

    def ok(self, ns: int) -> None:
        """Count one call that took ``ns`` nanoseconds."""
        self.meter.add(ns)

    def error(self, error_type: str) -> None:
        """Count one call that raised ``error_type`` (its latency is counted by :meth:`ok` or the meter)."""
        self.errors[error_type] += 1

    def drain(self) -> IntervalStats | None:
        """Take the totals so far and start again; ``None`` when nothing was called."""
        fresh_errors: defaultdict[str, int] = defaultdict(int)
        errors, self.errors = self.errors, fresh_errors
        by_type, suppressed = self.meter.take_errors()  # what rewritten functions raised
        for cls, n in by_type:
            errors[error_name(cls)] += n
        histogram = Histogram(self.meter.take())
        if not histogram.buckets:
            return None
        return IntervalStats(
            calls=histogram.count,
            errors=dict(errors),
            histogram=histogram,
            total_ns=round(histogram.total()),
            max_ns=int(bucket_value(max(histogram.buckets))),
            suppressed=suppressed,
        )
