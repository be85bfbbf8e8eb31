"""The runtime record format, shared by the sensor (which writes it) and ingest (which reads it).

A batch is JSON lines, UTF-8, one record per line. Every record is a JSON object with a unique
``id`` (a hex string) and a ``kind`` (:class:`Kind`); the shape of each kind is a ``TypedDict``
below. Latencies travel as sparse log-linear histograms (:class:`Histogram`): ``{bucket: count}``
maps that merge by adding counts, across intervals, processes and hosts.

Standard library only: this module runs inside the host process (the sensor) as well as in the
store's loader.

Example:
    >>> h = Histogram()
    >>> for ns in (1_000, 2_000, 3_000, 4_000, 100_000):
    ...     h.record(ns)
    >>> round(h.quantile(0.5) / 1_000, 1)
    3.0
    >>> batch = encode_batch([{"kind": Kind.AGGREGATE, "id": "a1", "histogram": h.to_json()}])
    >>> records, unreadable = decode_batch(batch.data)
    >>> Histogram.from_json(records[0]["histogram"]).count, unreadable
    (5, 0)
"""

# No ``from __future__ import annotations`` here: the record shapes' ``NotRequired`` fields are
# told apart from the required ones at runtime (``__optional_keys__``), from evaluated annotations.

import contextlib
import enum
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from io import FileIO
from pathlib import Path
from typing import Any, NamedTuple, NotRequired, TypedDict

try:
    import fcntl
except ImportError:  # not on Windows: segments are never known to be finished there
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "BUCKETS",
    "EXACT_BELOW",
    "INT64_MAX",
    "LAST_BUCKET",
    "MAX_TRACKED_NS",
    "SEGMENT_GLOB",
    "SHAPES",
    "SHIFT_BASE",
    "SUB_BUCKET_BITS",
    "AggregateRecord",
    "BadRecord",
    "BreachRecord",
    "Decoded",
    "DependencyRecord",
    "Encoded",
    "ExceptionRecord",
    "FlowContext",
    "FlowStatement",
    "FunctionFields",
    "HealthRecord",
    "Histogram",
    "InvariantRecord",
    "Kind",
    "ReviewRecord",
    "RouteRecord",
    "SampleRecord",
    "SourceFields",
    "StackFrame",
    "UnwatchedRecord",
    "bucket_index",
    "bucket_value",
    "create_segment",
    "decode_batch",
    "encode_batch",
    "finished_segment",
    "merge_histograms",
    "segment_name",
    "timestamp",
]


class Kind(enum.StrEnum):
    """What a record is about; its ``kind`` field (a plain string on the wire)."""

    #: One function's calls, errors and latency histogram over one interval.
    AGGREGATE = "aggregate"
    #: An exception that left a watched function, with redacted arguments and the stack.
    EXCEPTION = "exception"
    #: A sampled call's redacted inputs and output (the replay corpus).
    SAMPLE = "sample"
    #: The sensor's own health over one interval: drops, suppressed captures, errors of its own.
    HEALTH = "sensor"
    #: One broken invariant, with the inputs and output of the call that broke it.
    BREACH = "breach"
    #: One interval's pass, breach and error counts of one invariant rule.
    INVARIANT = "invariant"
    #: A sampled call of a high-stakes function, for a person to review.
    REVIEW = "review"
    #: One route's requests over one interval: statuses, a latency histogram, latency by load.
    ROUTE = "route"
    #: One statement (or outbound call) over one interval, per route and issuing function:
    #: executions, time, and how often one request ran it (N+1 evidence).
    DEPENDENCY = "dependency"
    #: The sensor stopped watching a function, and why (``cheap``: busy, and quicker than worth timing).
    UNWATCHED = "unwatched"


class BadRecord(ValueError):
    """A record, or a value in one, that does not fit the format; the message says which field
    and why, never the value."""


#: The largest count or nanosecond value a record holds (a signed 64-bit integer).
INT64_MAX = 2**63 - 1


def timestamp() -> str:
    """The time now, as records hold times: ISO 8601 in UTC (``2026-11-01T12:00:00.123456+00:00``)."""
    return datetime.now(UTC).isoformat()


# -- record shapes ---------------------------------------------------------------------------


class SourceFields(TypedDict):
    """Where every record comes from (the sensor adds them to every record it sends)."""

    kind: Kind
    id: str
    service: str
    revision: NotRequired[str | None]
    host: str
    pid: int


class FunctionFields(SourceFields):
    """The function a record is about, with its origin as the manifest gave it (``unknown``
    when it gave none)."""

    function: str
    origin: NotRequired[str]
    ai_share: NotRequired[float]
    generation_ids: NotRequired[list[str]]
    models: NotRequired[list[str]]
    path: NotRequired[str | None]
    line: NotRequired[int | None]


class StackFrame(TypedDict):
    """One frame of a captured stack, innermost last."""

    file: str
    line: int | None
    function: str


class AggregateRecord(FunctionFields):
    """:attr:`Kind.AGGREGATE`: ``calls`` equals the histogram's count; ``total_ns`` and
    ``max_ns`` come from bucket midpoints."""

    start: str
    end: str
    calls: int
    errors: dict[str, int]
    histogram: dict[str, int]
    total_ns: int
    max_ns: int


class FlowStatement(TypedDict):
    """One statement a flow ran: SQL with its literals out, or an outbound call (``GET host/path``)."""

    system: str
    statement: str
    duration_ns: int
    rows: int
    error: bool


class FlowContext(TypedDict):
    """The request (or job) an event happened in, redacted: the ``flow`` field of exceptions,
    samples, breaches and review items captured inside one."""

    kind: str
    id: str
    method: str | None
    route: str | None
    function: str | None
    path_params: dict[str, Any]
    query: dict[str, Any]
    in_flight: int
    elapsed_ns: int
    statements: list[FlowStatement]
    statements_dropped: int
    path: NotRequired[str]
    headers: NotRequired[dict[str, Any]]


class ExceptionRecord(FunctionFields):
    """:attr:`Kind.EXCEPTION`: one capture of a failure. ``fingerprint`` tells failures apart
    (function, type, message pattern, innermost frames); ``count`` is how many occurrences in its
    interval the capture stands for (summed over a fingerprint's captures: all of them)."""

    time: str
    type: str
    message: NotRequired[str]
    stack: NotRequired[list[StackFrame]]
    arguments: NotRequired[dict[str, Any]]
    fingerprint: NotRequired[str]
    count: NotRequired[int]
    flow: NotRequired[FlowContext]


class SampleRecord(FunctionFields):
    """:attr:`Kind.SAMPLE`: one call kept for its input shape.

    ``arguments`` and ``result`` are redacted snapshots for people. ``input`` (arguments by
    name) and ``output`` (``{"ok": value}``) are exact encodings for replay
    (:mod:`codewitness.sensor.exact`), and ``input_digest`` names the input; a call without them
    says why in ``not_replayable`` (an output left out says why in ``output_unkept``).
    ``shape_calls`` is how many calls of the ``shape`` the interval saw; ``source`` is
    ``sensor`` (the default) or ``pytest`` (``--codewitness-record``).
    """

    time: str
    duration_ns: int
    arguments: NotRequired[dict[str, Any]]
    result: NotRequired[Any]
    flow: NotRequired[FlowContext]
    shape: NotRequired[str]
    shape_calls: NotRequired[int]
    source: NotRequired[str]
    input: NotRequired[dict[str, Any]]
    input_digest: NotRequired[str]
    output: NotRequired[dict[str, Any]]
    output_unkept: NotRequired[str]
    not_replayable: NotRequired[str]


class HealthRecord(SourceFields):
    """:attr:`Kind.HEALTH`: sent only for an interval in which something went wrong."""

    start: str
    end: str
    dropped_events: NotRequired[int]
    suppressed_exceptions: NotRequired[int]
    internal_errors: NotRequired[dict[str, int]]
    exporters: NotRequired[dict[str, int]]


class BreachRecord(FunctionFields):
    """:attr:`Kind.BREACH`. ``result`` is ``None`` for a ``require`` rule (it runs before the call)."""

    time: str
    rule: str
    rule_kind: str
    expression: NotRequired[str]
    mode: NotRequired[str]
    arguments: NotRequired[dict[str, Any]]
    result: NotRequired[Any]
    detail: NotRequired[str | None]
    flow: NotRequired[FlowContext]


class InvariantRecord(SourceFields):
    """:attr:`Kind.INVARIANT`. ``source`` is ``decorator`` or ``config``."""

    time: str
    function: str
    rule: str
    rule_kind: str
    expression: NotRequired[str]
    source: NotRequired[str]
    passed: int
    breached: int
    errors: NotRequired[int]


class ReviewRecord(FunctionFields):
    """:attr:`Kind.REVIEW`. ``rule`` is the review rule's function pattern; ``input`` is the exact
    encoding of the arguments (for replay), or ``not_replayable`` says why there is none."""

    time: str
    rule: NotRequired[str]
    arguments: NotRequired[dict[str, Any]]
    result: NotRequired[Any]
    flow: NotRequired[FlowContext]
    input: NotRequired[dict[str, Any]]
    not_replayable: NotRequired[str]


class RouteRecord(SourceFields):
    """:attr:`Kind.ROUTE`. ``function`` is the route's handler (``None`` when not known), with its
    origin; ``flow`` is ``http`` or ``job``; ``errors`` counts server errors (5xx, or an exception
    that left the application); ``statuses`` counts by class (``2xx``, ..., ``none``);
    ``concurrency`` maps requests in flight at the start (``1``, ``2``, ``3-4``, ... ``129+``) to
    ``[requests, total_ns]``; ``requests`` equals the histogram's count."""

    start: str
    end: str
    function: str | None
    origin: NotRequired[str]
    ai_share: NotRequired[float]
    generation_ids: NotRequired[list[str]]
    models: NotRequired[list[str]]
    path: NotRequired[str | None]
    line: NotRequired[int | None]
    flow: str
    method: str | None
    route: str | None
    requests: int
    errors: int
    statuses: dict[str, int]
    histogram: dict[str, int]
    total_ns: int
    max_ns: int
    concurrency: dict[str, list[int]]


class DependencyRecord(SourceFields):
    """:attr:`Kind.DEPENDENCY`: one normalised statement (``system`` ``sqlite``, ``postgresql``,
    ...) or outbound call (``system`` ``http``) per route and issuing function (the innermost
    watched function on the stack, ``None`` when there was none) over one interval. ``requests``
    counts the flows that ran it, ``repeated`` those that ran it more than once,
    ``max_per_request`` the most runs in one flow; ``details`` holds system-specific counts (an
    outbound call's ``2xx``/``4xx``/... and ``no_timeout``)."""

    start: str
    end: str
    function: str | None
    origin: NotRequired[str]
    ai_share: NotRequired[float]
    generation_ids: NotRequired[list[str]]
    models: NotRequired[list[str]]
    path: NotRequired[str | None]
    line: NotRequired[int | None]
    route: str | None
    method: str | None
    system: str
    statement: str
    fingerprint: str
    calls: int
    errors: int
    total_ns: int
    max_ns: int
    rows: int
    requests: int
    repeated: int
    max_per_request: int
    details: NotRequired[dict[str, int]]


class UnwatchedRecord(FunctionFields):
    """:attr:`Kind.UNWATCHED`: from ``time`` on, the function's calls are no longer counted.
    ``reason`` is ``cheap``: in the interval before, it ran ``calls`` calls at a mean of
    ``mean_ns`` (both counted in that interval's aggregate)."""

    time: str
    reason: str
    calls: int
    mean_ns: int


#: The shape of each kind.
SHAPES: dict[Kind, type[SourceFields]] = {
    Kind.AGGREGATE: AggregateRecord,
    Kind.EXCEPTION: ExceptionRecord,
    Kind.SAMPLE: SampleRecord,
    Kind.HEALTH: HealthRecord,
    Kind.BREACH: BreachRecord,
    Kind.INVARIANT: InvariantRecord,
    Kind.REVIEW: ReviewRecord,
    Kind.ROUTE: RouteRecord,
    Kind.DEPENDENCY: DependencyRecord,
    Kind.UNWATCHED: UnwatchedRecord,
}


# -- the latency histogram -------------------------------------------------------------------
#
# Log-linear (the HDR idea): each power of two is cut into 32 equal buckets, so a bucket is
# never wider than 1/32 of its lower bound, and its midpoint is within 1/64 (1.6%) of any value
# in it: every quantile is within the 2% the sensor promises.

#: log2 of the buckets per power of two.
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


#: Buckets of a recorded latency (every index below ``MAX_TRACKED_NS``); the last takes the rest.
BUCKETS = bucket_index(MAX_TRACKED_NS - 1) + 1
LAST_BUCKET = BUCKETS - 1


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

    def merge(self, other: "Histogram | Mapping[int, int]") -> None:
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
    def from_json(cls, value: Any) -> "Histogram":
        """Inverse of :meth:`to_json`, checked: buckets 0 to :data:`LAST_BUCKET`, counts 0 to 2**63-1.

        Raises:
            BadRecord: ``value`` is not such a map (the message says how, without the values).
        """
        if not isinstance(value, dict):
            raise BadRecord("histogram: not an object")
        buckets: dict[int, int] = {}
        for key, n in value.items():
            if not (isinstance(key, str) and key.isascii() and key.isdigit()):
                raise BadRecord("histogram: a bucket that is not a number")
            index = int(key) if len(key) <= 6 else LAST_BUCKET + 1
            if index > LAST_BUCKET:
                raise BadRecord(f"histogram: a bucket out of range (0 to {LAST_BUCKET})")
            if type(n) is not int or not 0 <= n <= INT64_MAX:
                raise BadRecord("histogram: a count that is not an integer from 0 to 2**63-1")
            buckets[index] = buckets.get(index, 0) + n
        return cls(buckets)


def _ceil(x: float) -> int:
    whole = int(x)
    return whole if whole == x else whole + 1


def merge_histograms(maps: Iterable[Mapping[str, Any]]) -> Histogram:
    """One histogram from several :meth:`Histogram.to_json` maps (e.g. rows of the store)."""
    merged = Histogram()
    for data in maps:
        merged.merge(Histogram.from_json(data))
    return merged


# -- the batch codec -------------------------------------------------------------------------

#: The spool's segment files (see :func:`segment_name`), oldest first when sorted by name.
SEGMENT_GLOB = "seg-*.jsonl"


def segment_name(time_ns: int, pid: int) -> str:
    """The file name of a spool segment begun at ``time_ns`` (epoch nanoseconds) by process ``pid``."""
    return f"seg-{time_ns:020d}-{pid}.jsonl"


# A segment's writer holds an exclusive ``flock`` on it from before it has its name (it is made
# under a hidden name, locked, then renamed) until it is closed for good: a reader that can take
# the lock knows nothing more will be written, and may delete the segment once it stored it. The
# lock belongs to the open file, so it holds across processes, containers sharing the folder, and
# a forked child that inherited the file. Where ``fcntl`` is missing, no segment is ever finished.


def create_segment(directory: Path, name: str) -> FileIO:
    """A new segment ``name`` in ``directory``, open for appending (unbuffered, owner-only), locked
    by its writer before it appears under its name.

    Raises:
        OSError: it cannot be made.
    """
    hidden = directory / f".{name}.new"
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(hidden, flags, 0o600)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.rename(hidden, directory / name)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(hidden)
        raise
    return open(fd, "ab", buffering=0)


@contextlib.contextmanager
def finished_segment(path: Path) -> Iterator[bool]:
    """Whether the writer of segment ``path`` has closed it for good; while the block runs, it
    cannot begin writing it again (nothing can: the segment is never reopened). ``False`` when
    the segment cannot be opened or locked, or the platform has no ``flock``."""
    if fcntl is None:
        yield False
        return
    try:
        # Non-blocking and not through a link: a FIFO named like a segment must not wait for a writer.
        flags = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(path, flags)
    except OSError:
        yield False
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            finished = True
        except OSError:
            finished = False
        yield finished
    finally:
        os.close(fd)


# A code point UTF-8 cannot hold: half of a surrogate pair on its own (a file name decoded with
# ``surrogateescape``, a slice through an emoji of a UTF-16 string, a C extension's bytes).
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


class Encoded(NamedTuple):
    """One batch as JSON lines, and what encoding it cost."""

    data: bytes
    #: Records written with a lone surrogate spelled out as text (``\udc80``: six characters).
    repaired: int
    #: Records JSON could not hold at all (nested too deep, a value whose ``str()`` raises): left out.
    dropped: int


def encode_batch(records: Sequence[Mapping[str, Any]]) -> Encoded:
    """JSON lines, UTF-8, each record on its own: one bad value costs one record, never the batch.

    Values JSON cannot hold become strings. A lone surrogate is written as the six characters
    ``\\ud800`` (so the line stays valid UTF-8 and the value readable); a record that cannot be
    encoded at all is left out. Both are counted in the result.
    """
    lines: list[bytes] = []
    repaired = dropped = 0
    for record in records:
        try:
            text = json.dumps(record, separators=(",", ":"), ensure_ascii=False, default=str)
        except Exception:  # RecursionError, a circular value, a str() that raises: one record
            dropped += 1
            continue
        try:
            line = text.encode()
        except UnicodeEncodeError:
            line = _LONE_SURROGATE.sub(_spelled_out, text).encode()
            repaired += 1
        lines.append(line + b"\n")
    return Encoded(b"".join(lines), repaired, dropped)


def _spelled_out(match: re.Match[str]) -> str:
    # Inside a JSON string: an escaped backslash, then ``uXXXX`` as plain text.
    return f"\\\\u{ord(match.group()):04x}"


class Decoded(NamedTuple):
    """The records of one batch, and how many of its lines were not records."""

    records: list[dict[str, Any]]
    unreadable: int


def decode_batch(data: bytes) -> Decoded:
    """The records of a JSON-lines batch (a spool segment, an HTTP body once unzipped).

    A line that is not a JSON object with a string ``id`` and ``kind`` -- a half-written last line
    of a process that died mid-write, bytes that are not UTF-8 -- is counted, never fatal. Empty
    lines are skipped. Whether each record's fields fit its kind is ingest's to check.
    """
    records: list[dict[str, Any]] = []
    unreadable = 0
    for line in data.splitlines():
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (ValueError, UnicodeDecodeError, RecursionError):
            unreadable += 1
            continue
        if isinstance(record, dict) and isinstance(record.get("id"), str) and isinstance(record.get("kind"), str):
            records.append(record)
        else:
            unreadable += 1
    return Decoded(records, unreadable)
