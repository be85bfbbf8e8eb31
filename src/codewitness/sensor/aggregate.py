"""Per-function, per-interval aggregates: calls, errors by type, and a latency histogram.

The histogram is log-linear (the HDR idea): each power of two is cut into 32 equal buckets, so a
bucket is never wider than 1/32 of its lower bound. Reporting a bucket's midpoint therefore puts
any quantile within 1.6% of the true sample value -- inside the 2% the sensor promises.
Exported histograms are sparse ``{index: count}`` maps, so histograms from many intervals and
processes merge by adding counts, and the store keeps them as they are.

Standard library only. The per-call counting itself is done by a meter
(:mod:`codewitness.sensor.meter`), which fills the same buckets.

Example:
    >>> h = Histogram()
    >>> for ns in (1_000, 2_000, 3_000, 4_000, 100_000):
    ...     h.record(ns)
    >>> round(h.quantile(0.5) / 1_000, 1)
    3.0
    >>> h.count
    5
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "BUCKETS",
    "BUCKET_OF",
    "EXACT_BELOW",
    "LAST_BUCKET",
    "MAX_TRACKED_NS",
    "SHIFT_BASE",
    "SUB_BUCKET_BITS",
    "TABLE_BELOW",
    "FunctionStats",
    "Histogram",
    "IntervalStats",
    "bucket_index",
    "bucket_value",
    "error_name",
    "merge_histograms",
]

#: log2 of the buckets per power of two. 5 -> 32 buckets: a bucket is at most 1/32 of its lower
#: bound wide, so its midpoint is within 1/64 (1.6%) of any value in it.
SUB_BUCKET_BITS = 5
_SUB = 1 << SUB_BUCKET_BITS
SHIFT_BASE = SUB_BUCKET_BITS + 1
#: Values below this get a bucket of their own.
EXACT_BELOW = 2 * _SUB
#: Latencies at or above this (2**36 ns, about 69 s) are counted in the last bucket.
MAX_TRACKED_NS = 1 << 36


def bucket_index(value: int) -> int:
    """The bucket of a non-negative integer (nanoseconds); values below 128 get exact buckets."""
    if value < EXACT_BELOW:
        return max(value, 0)
    shift = value.bit_length() - SHIFT_BASE
    # (value >> shift) is in [_SUB, 2 * _SUB); each further power of two adds _SUB buckets.
    return (shift << SUB_BUCKET_BITS) + (value >> shift)


def bucket_value(index: int) -> float:
    """A representative value (the midpoint) of bucket ``index``; inverse of :func:`bucket_index`."""
    if index < EXACT_BELOW:
        return float(index)
    shift, mantissa = divmod(index, _SUB)
    shift -= 1
    low = (mantissa + _SUB) << shift
    return low + ((1 << shift) - 1) / 2


@dataclass
class Histogram:
    """A sparse log-linear histogram of non-negative integers (latencies in nanoseconds)."""

    buckets: dict[int, int] = field(default_factory=dict)

    @property
    def count(self) -> int:
        """How many values were recorded."""
        return sum(self.buckets.values())

    def record(self, value: int, times: int = 1) -> None:
        """Add ``value`` (``times`` times)."""
        index = bucket_index(value)
        self.buckets[index] = self.buckets.get(index, 0) + times

    def merge(self, other: Histogram | Mapping[int, int]) -> None:
        """Add every count of ``other`` (a histogram or its bucket map) to this one."""
        items = other.buckets if isinstance(other, Histogram) else other
        for index, n in items.items():
            self.buckets[index] = self.buckets.get(index, 0) + n

    def quantile(self, q: float) -> float:
        """The ``q``-quantile (0..1, nearest rank) as a bucket midpoint; 0.0 when empty."""
        total = self.count
        if total == 0:
            return 0.0
        rank = max(1, min(total, _ceil(q * total)))
        seen = 0
        for index in sorted(self.buckets):
            seen += self.buckets[index]
            if seen >= rank:
                return bucket_value(index)
        return bucket_value(max(self.buckets))  # pragma: no cover - rank <= total guarantees a return

    def total(self) -> float:
        """The sum of all values, from bucket midpoints (within 1.6%, like every value)."""
        return sum(bucket_value(index) * n for index, n in self.buckets.items())

    def to_json(self) -> dict[str, int]:
        """The bucket map with string keys (JSON objects need them)."""
        return {str(k): v for k, v in sorted(self.buckets.items())}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Histogram:
        """Inverse of :meth:`to_json`; raises ``ValueError``/``TypeError`` on bad data."""
        buckets: dict[int, int] = {}
        for key, n in data.items():
            index, count = int(key), int(n)
            if index < 0 or count < 0:
                raise ValueError(f"bad histogram bucket {key}: {n}")
            buckets[index] = buckets.get(index, 0) + count
        return cls(buckets)


def _ceil(x: float) -> int:
    whole = int(x)
    return whole if whole == x else whole + 1


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


#: Buckets of a :class:`FunctionStats` (every index below ``MAX_TRACKED_NS``); the last takes the rest.
BUCKETS = bucket_index(MAX_TRACKED_NS - 1) + 1
LAST_BUCKET = BUCKETS - 1

#: Latencies below this (about 16 µs) find their bucket in :data:`BUCKET_OF` by one list lookup.
TABLE_BELOW = 1 << 14
_INDEXES = list(range(BUCKETS))  # one int object per bucket, shared by the table's entries
#: ``BUCKET_OF[ns] == bucket_index(ns)`` for ``ns < TABLE_BELOW``: the per-call hot path of the
#: sensor's rewritten functions (a short call is where a few instructions show the most).
BUCKET_OF: list[int] = [_INDEXES[bucket_index(ns)] for ns in range(TABLE_BELOW)]


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
        if meter is None:
            from codewitness.sensor.meter import PyMeter

            meter = PyMeter()
        self.meter = meter
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


def merge_histograms(maps: Iterable[Mapping[str, Any]]) -> Histogram:
    """One histogram from several :meth:`Histogram.to_json` maps (e.g. rows of the store)."""
    merged = Histogram()
    for data in maps:
        merged.merge(Histogram.from_json(data))
    return merged
