"""Per-function, per-interval aggregates: calls, errors by type, and a latency histogram.

The histogram is log-linear (the HDR idea): each power of two is cut into 64 equal buckets, so a
bucket is never wider than 1/64 of its lower bound. Reporting a bucket's midpoint therefore puts
any quantile within 0.8% of the true sample value -- comfortably inside the 2% the sensor
promises. Buckets are sparse ``{index: count}`` maps, so histograms from many intervals and
processes merge by adding counts, and the store keeps them as they are.

Standard library only; :meth:`FunctionStats.ok` and :meth:`FunctionStats.fail` run on every call
of an instrumented function, so they are kept short and never block for long (one uncontended
lock acquisition).

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

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "SUB_BUCKET_BITS",
    "FunctionStats",
    "Histogram",
    "IntervalStats",
    "bucket_index",
    "bucket_value",
    "merge_histograms",
]

#: log2 of the buckets per power of two. 6 -> 64 buckets, relative width <= 1/64.
SUB_BUCKET_BITS = 6
_SUB = 1 << SUB_BUCKET_BITS
_SHIFT_BASE = SUB_BUCKET_BITS + 1


def bucket_index(value: int) -> int:
    """The bucket of a non-negative integer (nanoseconds); values below 128 get exact buckets."""
    if value < 2 * _SUB:
        return max(value, 0)
    shift = value.bit_length() - _SHIFT_BASE
    # (value >> shift) is in [64, 128); each further power of two adds 64 buckets.
    return (shift << SUB_BUCKET_BITS) + (value >> shift)


def bucket_value(index: int) -> float:
    """A representative value (the midpoint) of bucket ``index``; inverse of :func:`bucket_index`."""
    if index < 2 * _SUB:
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
    """What one function did in one interval (the unit that leaves the process)."""

    calls: int
    errors: dict[str, int]
    histogram: Histogram
    total_ns: int
    max_ns: int

    def quantile_ms(self, q: float) -> float:
        """A latency quantile in milliseconds."""
        return self.histogram.quantile(q) / 1e6


class FunctionStats:
    """Running totals for one function since the last :meth:`drain`. Thread-safe.

    ``ok``/``fail`` are called from the application's threads on every call; ``drain`` from the
    exporter thread once per interval. A lock (never held for more than a few dictionary
    operations) keeps counts exact across threads.
    """

    __slots__ = ("_buckets", "_calls", "_errors", "_lock", "_max", "_total")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self._calls = 0
        self._total = 0
        self._max = 0
        self._errors: dict[str, int] = {}
        self._buckets: dict[int, int] = {}

    def reinit_after_fork(self) -> None:
        """In a forked child: a fresh lock (the parent's may be held) and no inherited counts."""
        self._lock = threading.Lock()
        self._reset()

    def ok(self, ns: int) -> None:
        """Count one call that returned after ``ns`` nanoseconds."""
        if ns < 128:
            index = ns if ns > 0 else 0
        else:
            shift = ns.bit_length() - _SHIFT_BASE
            index = (shift << SUB_BUCKET_BITS) + (ns >> shift)
        with self._lock:
            self._calls += 1
            self._total += ns
            if ns > self._max:
                self._max = ns
            buckets = self._buckets
            buckets[index] = buckets.get(index, 0) + 1

    def fail(self, ns: int, error_type: str) -> None:
        """Count one call that raised ``error_type`` after ``ns`` nanoseconds."""
        self.ok(ns)
        with self._lock:
            self._errors[error_type] = self._errors.get(error_type, 0) + 1

    def drain(self) -> IntervalStats | None:
        """Take the totals so far and start again; ``None`` when nothing was called."""
        with self._lock:
            if self._calls == 0:
                return None
            stats = IntervalStats(
                calls=self._calls,
                errors=self._errors,
                histogram=Histogram(self._buckets),
                total_ns=self._total,
                max_ns=self._max,
            )
            self._reset()
        return stats


def merge_histograms(maps: Iterable[Mapping[str, Any]]) -> Histogram:
    """One histogram from several :meth:`Histogram.to_json` maps (e.g. rows of the store)."""
    merged = Histogram()
    for data in maps:
        merged.merge(Histogram.from_json(data))
    return merged
