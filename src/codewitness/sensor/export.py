"""Where the sensor's records go: a spool folder, an HTTP endpoint, OpenTelemetry.

Every exporter runs on the sensor's exporter thread only; it may block there (a slow server, a
retry's backoff) without the application noticing, and it never raises into the sensor for an
outside failure: a full disk, a dead server or a rejected batch is counted in :meth:`health`.

Records are JSON objects (``kind``: ``aggregate``, ``exception``, ``sample`` or ``sensor``, each
with a unique ``id``); the spool and the HTTP body hold them one per line.

* :class:`Spool` -- append-only segments ``seg-<ns>-<pid>.jsonl`` in one folder; a segment is
  closed at ``segment_bytes``; beyond ``max_bytes`` the oldest segments are deleted and their
  records counted as dropped. ``codewitness ingest`` reads the folder (:func:`read_spool`).
* :class:`HttpExporter` -- ``POST`` of a gzip JSON-lines body with a bearer token; retries with
  exponential backoff on connection errors, 408, 429 and 5xx.
* :class:`OtelExporter` -- counters, a latency gauge and exception/sample spans through the
  OpenTelemetry API (extra ``otel``), on the host's providers. One OTel call per function per
  interval, never one per function call.

Example:
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> spool = Spool(folder, max_bytes=1 << 20, segment_bytes=1 << 16)
    >>> spool.export([{"kind": "aggregate", "id": "a1", "calls": 3}])
    >>> spool.close()
    >>> [r["calls"] for _, records, _ in read_spool(folder) for r in records]
    [3]
"""

from __future__ import annotations

import gzip
import json
import os
import random
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from codewitness import semconv
from codewitness.errors import MissingExtraError

__all__ = ["HttpExporter", "OtelExporter", "Spool", "encode_batch", "read_spool"]

SEGMENT_GLOB = "seg-*.jsonl"


def encode_batch(records: Sequence[dict[str, Any]]) -> bytes:
    """JSON lines, UTF-8; values JSON cannot hold become strings."""
    return b"".join(
        json.dumps(record, separators=(",", ":"), ensure_ascii=False, default=str).encode() + b"\n"
        for record in records
    )


class _Counters:
    """Health counters that reset when read."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}

    def add(self, key: str, n: int = 1) -> None:
        with self._lock:
            self._counts[key] = self._counts.get(key, 0) + n

    def take(self) -> dict[str, int]:
        with self._lock:
            counts, self._counts = self._counts, {}
        return counts


class Spool:
    """Append-only, size-bounded, rotated JSON-lines segments in one folder.

    Args:
        directory: the spool folder (created when missing).
        max_bytes: the folder's size limit; oldest segments are deleted beyond it.
        segment_bytes: a segment is closed once it reaches this size.
    """

    def __init__(self, directory: str | os.PathLike[str], *, max_bytes: int, segment_bytes: int) -> None:
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.segment_bytes = min(segment_bytes, max_bytes)
        self._file: IO[bytes] | None = None
        self._path: Path | None = None
        self._counts = _Counters()

    def export(self, records: list[dict[str, Any]]) -> None:
        """Append one batch; a write failure (disk full, no permission) drops it and counts it."""
        data = encode_batch(records)
        try:
            handle = self._open()
            handle.write(data)
            handle.flush()
            if handle.tell() >= self.segment_bytes:
                self._close_segment()
            self._enforce_limit()
        except OSError:
            self._counts.add("spool_write_failures")
            self._counts.add("spool_dropped_records", len(records))
            self._close_segment()

    def _open(self) -> IO[bytes]:
        if self._file is None:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._path = self.directory / f"seg-{time.time_ns():020d}-{os.getpid()}.jsonl"
            self._file = _open_private(self._path)
        return self._file

    def _close_segment(self) -> None:
        handle, self._file, self._path = self._file, None, None
        if handle is not None:
            try:
                handle.close()
            except OSError:
                self._counts.add("spool_write_failures")

    def _enforce_limit(self) -> None:
        segments = sorted(self.directory.glob(SEGMENT_GLOB))
        sizes = {path: _size(path) for path in segments}
        total = sum(sizes.values())
        for path in segments:
            if total <= self.max_bytes:
                break
            if path == self._path:
                continue
            try:
                with path.open("rb") as handle:
                    lost = sum(1 for _ in handle)
                path.unlink()
            except OSError:
                continue
            total -= sizes[path]
            self._counts.add("spool_dropped_records", lost)
            self._counts.add("spool_deleted_segments")

    def close(self) -> None:
        """Close the open segment."""
        self._close_segment()

    def after_fork(self) -> None:
        """In a child: never write to the parent's open segment; start a new one when needed.

        The inherited handle is closed: that closes only the child's copy of the descriptor, and
        its buffer is empty because every batch is flushed as it is written.
        """
        self._close_segment()
        self._counts = _Counters()

    def health(self) -> dict[str, int]:
        """Write failures and dropped records since the last call."""
        return self._counts.take()


def _open_private(path: Path) -> IO[bytes]:
    """A new segment for appending, readable by its owner only (records hold captured values)."""
    return open(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600), "ab")


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def read_spool(directory: str | os.PathLike[str]) -> Iterator[tuple[Path, list[dict[str, Any]], int]]:
    """Each segment of a spool folder, oldest first, as (path, records, unreadable line count).

    A half-written last line (the process died mid-write) or any line that is not a JSON object
    with a string ``id`` and ``kind`` is counted, never fatal.
    """
    folder = Path(directory)
    for path in sorted(folder.glob(SEGMENT_GLOB)):
        records: list[dict[str, Any]] = []
        bad = 0
        try:
            raw = path.read_bytes()
        except OSError:
            continue
        for line in raw.splitlines():
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except (ValueError, UnicodeDecodeError, RecursionError):
                bad += 1
                continue
            if isinstance(record, dict) and isinstance(record.get("id"), str) and isinstance(record.get("kind"), str):
                records.append(record)
            else:
                bad += 1
        yield path, records, bad


class HttpExporter:
    """POSTs batches as gzip JSON lines, with a bearer token and retries.

    Args:
        endpoint: the URL to POST to.
        token: sent as ``Authorization: Bearer <token>`` when given.
        timeout: seconds per request.
        retries: further attempts after the first, on retryable failures.
        backoff: the first retry's delay in seconds; each further one doubles (with jitter).
        stop: when set (the sensor is shutting down), no more waiting between retries.
    """

    _RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})

    def __init__(
        self,
        endpoint: str,
        *,
        token: str | None = None,
        timeout: float = 5.0,
        retries: int = 3,
        backoff: float = 0.5,
        stop: threading.Event | None = None,
    ) -> None:
        if not endpoint.startswith(("http://", "https://")):
            raise ValueError(f"sensor endpoint must be an http:// or https:// URL, got {endpoint!r}")
        self.endpoint = endpoint
        self.token = token
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.stop = stop or threading.Event()
        self._counts = _Counters()

    def export(self, records: list[dict[str, Any]]) -> None:
        """Send one batch; after the last failed attempt the batch is dropped and counted."""
        body = gzip.compress(encode_batch(records), compresslevel=5)
        headers = {
            "Content-Type": "application/x-ndjson",
            "Content-Encoding": "gzip",
            "User-Agent": "codewitness-sensor",
        }
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        attempts = 1 if self.stop.is_set() else self.retries + 1
        for attempt in range(attempts):
            if attempt:
                self._counts.add("http_retries")
                delay = self.backoff * (2 ** (attempt - 1)) * (0.5 + random.random())  # noqa: S311
                if self.stop.wait(delay):
                    break
            status = self._post(body, headers)
            if status is not None and 200 <= status < 300:
                self._counts.add("http_sent_batches")
                return
            if status is not None and status not in self._RETRY_STATUS:
                self._counts.add("http_rejected_batches")
                self._counts.add("http_dropped_records", len(records))
                return
        self._counts.add("http_failed_batches")
        self._counts.add("http_dropped_records", len(records))

    def _post(self, body: bytes, headers: dict[str, str]) -> int | None:
        request = urllib.request.Request(self.endpoint, data=body, headers=headers, method="POST")  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 - checked scheme
                response.read()
                status: int = response.status
                return status
        except urllib.error.HTTPError as exc:
            return exc.code
        except (OSError, ValueError):
            return None

    def close(self) -> None:
        """Nothing is held open between batches."""

    def after_fork(self) -> None:
        """A child starts with fresh counters."""
        self._counts = _Counters()

    def health(self) -> dict[str, int]:
        """Sent, retried, rejected and dropped counts since the last call (``http_sent_batches`` excluded)."""
        counts = self._counts.take()
        counts.pop("http_sent_batches", None)
        return counts


class OtelExporter:
    """Metrics and spans through the OpenTelemetry API, on the host's providers by default.

    Metrics per function per interval: ``codewitness.function.calls`` and
    ``codewitness.function.errors`` (counters) and ``codewitness.function.duration`` (a gauge in
    seconds with a ``quantile`` attribute of 0.5, 0.95, 0.99). Spans: one per captured exception
    (status error, an ``exception`` event) and one per sampled call.

    Args:
        meter_provider: defaults to the global provider (the host's, if it set one).
        tracer_provider: defaults to the global provider.

    Raises:
        MissingExtraError: ``opentelemetry-api`` is not installed.
    """

    def __init__(self, meter_provider: Any = None, tracer_provider: Any = None) -> None:
        try:
            from opentelemetry import metrics, trace
        except ImportError:
            raise MissingExtraError("otel", "OpenTelemetry export from the sensor") from None
        from codewitness._version import __version__

        meter = (meter_provider or metrics.get_meter_provider()).get_meter("codewitness.sensor", __version__)
        self._tracer = (tracer_provider or trace.get_tracer_provider()).get_tracer("codewitness.sensor", __version__)
        self._status_error = trace.Status(trace.StatusCode.ERROR)
        self._calls = meter.create_counter(
            semconv.METRIC_FUNCTION_CALLS, unit="{call}", description="Calls of an instrumented function"
        )
        self._errors = meter.create_counter(
            semconv.METRIC_FUNCTION_ERRORS, unit="{error}", description="Calls that raised, by exception type"
        )
        self._duration = meter.create_gauge(
            semconv.METRIC_FUNCTION_DURATION,
            unit="s",
            description="Call duration quantiles over the interval",
        )
        self._counts = _Counters()

    @staticmethod
    def _attributes(record: dict[str, Any]) -> dict[str, Any]:
        attributes: dict[str, Any] = {
            semconv.CODE_FUNCTION_NAME: record.get("function", ""),
            semconv.CW_ORIGIN: record.get("origin", "unknown"),
            semconv.SERVICE_NAME: record.get("service", ""),
        }
        if record.get("path"):
            attributes[semconv.CODE_FILE_PATH] = record["path"]
        if record.get("line"):
            attributes[semconv.CODE_LINE_NUMBER] = record["line"]
        if record.get("generation_ids"):
            attributes[semconv.CW_GENERATION_ID] = list(record["generation_ids"])
        if record.get("models"):
            attributes[semconv.GEN_AI_REQUEST_MODEL] = record["models"][0]
        if record.get("revision"):
            attributes[semconv.CW_REVISION] = record["revision"]
        return attributes

    def export(self, records: list[dict[str, Any]]) -> None:
        """Turn one batch into metric points and spans."""
        from codewitness.sensor.aggregate import Histogram

        for record in records:
            kind = record.get("kind")
            try:
                if kind == "aggregate":
                    attributes = self._attributes(record)
                    self._calls.add(record["calls"], attributes)
                    for error_type, n in record["errors"].items():
                        self._errors.add(n, {**attributes, semconv.EXCEPTION_TYPE: error_type})
                    histogram = Histogram.from_json(record["histogram"])
                    for q in (0.5, 0.95, 0.99):
                        self._duration.set(histogram.quantile(q) / 1e9, {**attributes, semconv.CW_QUANTILE: q})
                elif kind == "exception":
                    self._exception_span(record)
                elif kind == "sample":
                    attributes = self._attributes(record)
                    attributes[semconv.CW_SAMPLE_ARGUMENTS] = json.dumps(record.get("arguments"), default=str)
                    attributes[semconv.CW_SAMPLE_RESULT] = json.dumps(record.get("result"), default=str)
                    self._tracer.start_span(f"sample {record.get('function', '')}", attributes=attributes).end()
            except (KeyError, TypeError, ValueError):
                self._counts.add("otel_bad_records")

    def _exception_span(self, record: dict[str, Any]) -> None:
        attributes = self._attributes(record)
        attributes[semconv.CW_EXCEPTION_ARGUMENTS] = json.dumps(record.get("arguments"), default=str)
        span = self._tracer.start_span(f"exception {record.get('function', '')}", attributes=attributes)
        stack = "\n".join(
            f'  File "{f.get("file")}", line {f.get("line")}, in {f.get("function")}' for f in record.get("stack", ())
        )
        span.add_event(
            "exception",
            {
                semconv.EXCEPTION_TYPE: record.get("type", ""),
                semconv.EXCEPTION_MESSAGE: record.get("message", ""),
                semconv.EXCEPTION_STACKTRACE: stack,
            },
        )
        span.set_status(self._status_error)
        span.end()

    def close(self) -> None:
        """The host owns the providers; it flushes and shuts them down."""

    def after_fork(self) -> None:
        """The OpenTelemetry SDK re-initializes its own exporters after fork."""
        self._counts = _Counters()

    def health(self) -> dict[str, int]:
        """Records that could not be turned into metrics or spans."""
        return self._counts.take()
