"""Where the sensor's records go: a spool folder, an HTTP endpoint, OpenTelemetry.

Every exporter runs on the sensor's exporter thread only; it may block there (a slow server, a
retry's backoff) without the application noticing, and it never raises into the sensor for an
outside failure: a full disk, a dead server or a rejected batch is counted in :meth:`health`.

Records are those of :mod:`codewitness.facts` (JSON objects with a ``kind`` and a unique ``id``);
the spool and the HTTP body hold them one per line (:func:`codewitness.facts.encode_batch`).

* :class:`Spool` -- append-only segments ``seg-<ns>-<pid>.jsonl`` in one folder; a segment is
  closed at ``segment_bytes``; beyond ``max_bytes`` the oldest segments are deleted and their
  records counted as dropped. The open segment is locked (:func:`codewitness.facts.create_segment`):
  ``codewitness ingest`` reads the folder (:mod:`codewitness.ingest`) and deletes the segments it
  stored whose writer has closed them.
* :class:`HttpExporter` -- ``POST`` of a gzip JSON-lines body with a bearer token and a batch id
  (``X-Codewitness-Batch``: the same on each retry of a batch, so a server can tell a retry from a
  new batch); retries with exponential backoff on connection errors, 408, 429 and 5xx. Each
  request has a wall-clock deadline (a server that trickles its answer is cut off); redirects are never followed.
* :class:`OtelExporter` -- counters, a latency gauge and exception/sample spans through the
  OpenTelemetry API (extra ``otel``), on the host's providers. One OTel call per function per
  interval, never one per function call.

Example:
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> spool = Spool(folder, max_bytes=1 << 20, segment_bytes=1 << 16)
    >>> spool.export([{"kind": "aggregate", "id": "a1", "calls": 3}])
    >>> spool.close()
    >>> from codewitness.facts import decode_batch
    >>> [r["calls"] for path in Path(folder).iterdir() for r in decode_batch(path.read_bytes()).records]
    [3]
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import http.client
import json
import logging
import os
import socket
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from io import FileIO
from pathlib import Path
from typing import Any, Protocol

from codewitness import semconv
from codewitness.errors import MissingExtraError
from codewitness.facts import SEGMENT_GLOB, Encoded, Histogram, Kind, create_segment, encode_batch, segment_name
from codewitness.sensor._rng import RNG

__all__ = ["Exporter", "HttpExporter", "OtelExporter", "Spool"]

log = logging.getLogger("codewitness.sensor")


class Exporter(Protocol):
    """Where records go. Called on the exporter thread only; may block there."""

    def export(self, records: list[dict[str, Any]]) -> None:
        """Deliver one batch."""

    def close(self) -> None:
        """Flush and release resources (at shutdown)."""

    def after_fork(self) -> None:
        """Forget parent-only state in a forked child (open files, connections)."""

    def health(self) -> dict[str, int]:
        """Counters to report (drops, failures) since the last call."""


class _Counters:
    """Health counters that reset when read.

    No lock: an exporter's ``export`` and ``health`` run only on the sensor's exporter thread (or,
    with no exporter thread, under the sensor's flush lock), one at a time.
    """

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}

    def add(self, key: str, n: int = 1) -> None:
        self._counts[key] = self._counts.get(key, 0) + n

    def encoded(self, prefix: str, batch: Encoded) -> None:
        """Count the records a batch's encoding repaired or left out."""
        if batch.repaired:
            self.add(f"{prefix}_repaired_records", batch.repaired)
        if batch.dropped:
            self.add(f"{prefix}_unencodable_records", batch.dropped)

    def take(self) -> dict[str, int]:
        counts, self._counts = self._counts, {}
        return counts


class Spool:
    """Append-only, size-bounded, rotated JSON-lines segments in one folder.

    Args:
        directory: the spool folder (created when missing).
        max_bytes: the folder's size limit; oldest segments are deleted beyond it.
        segment_bytes: a segment is closed once it reaches this size.

    Raises:
        ValueError: ``directory`` is empty (which would mean the working directory).
    """

    def __init__(self, directory: str | os.PathLike[str], *, max_bytes: int, segment_bytes: int) -> None:
        if not os.fspath(directory):
            raise ValueError("the spool folder is empty: give a folder (default .codewitness/spool)")
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.segment_bytes = min(segment_bytes, max_bytes)
        # Unbuffered: every batch is written whole at once, and a failed write leaves nothing
        # behind in a buffer that closing the file would try (and fail) to write again.
        self._file: FileIO | None = None
        self._path: Path | None = None
        self._counts = _Counters()

    def export(self, records: list[dict[str, Any]]) -> None:
        """Append one batch; a write failure (disk full, no permission) drops it and counts it.

        A failed write leaves the spool as it was: the segment is cut back to where the batch began
        (no torn line), and a segment this batch would have begun is removed (a full disk gets no
        empty segments).
        """
        batch = encode_batch(records)
        self._counts.encoded("spool", batch)
        if not batch.data:
            return
        lines = len(records) - batch.dropped
        try:
            handle = self._open()
        except OSError:
            self._failed(lines)
            return
        start = handle.tell()
        try:
            view = memoryview(batch.data)
            while view:
                view = view[handle.write(view) :]
        except OSError:
            self._failed(lines)
            self._undo(start)
            return
        if start + len(batch.data) >= self.segment_bytes:
            self._close_segment()
        try:
            self._enforce_limit()
        except OSError:
            self._counts.add("spool_limit_failures")

    def _failed(self, lines: int) -> None:
        self._counts.add("spool_write_failures")
        self._counts.add("spool_dropped_records", lines)

    def _open(self) -> FileIO:
        if self._file is None:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            name = segment_name(time.time_ns(), os.getpid())
            self._file = create_segment(self.directory, name)
            self._path = self.directory / name
        return self._file

    def _undo(self, start: int) -> None:
        """After a failed write: cut the segment back to ``start`` (and go on writing it), or
        remove it when this write would have begun it."""
        handle, path = self._file, self._path
        if handle is None or path is None:
            return
        try:
            if start:
                os.ftruncate(handle.fileno(), start)
                return
            path.unlink()
        except OSError:
            self._counts.add("spool_write_failures")
        self._file = self._path = None
        self._close(handle)

    def _close_segment(self) -> None:
        handle, self._file, self._path = self._file, None, None
        if handle is not None:
            self._close(handle)

    def _close(self, handle: FileIO) -> None:
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

        The inherited handle is closed: that closes only the child's copy of the descriptor
        (nothing is buffered: every batch is written as it comes).
        """
        self._close_segment()
        self._counts = _Counters()

    def health(self) -> dict[str, int]:
        """Write failures, dropped and repaired records since the last call."""
        return self._counts.take()


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


#: Once the sensor is stopping, no request lasts longer than this from then on: a slow
#: collector must not hold up the end of the process (see ``Sensor.shutdown``).
STOPPING_DEADLINE = 2.0
#: The most of a collector's answer that is read (the status is what counts).
_ANSWER_BYTES = 64 * 1024
#: The request header carrying a batch's id: random per batch, the same on each of its retries.
BATCH_HEADER = "X-Codewitness-Batch"


class HttpExporter:
    """POSTs batches as gzip JSON lines, with a bearer token and retries.

    Every request has a wall-clock deadline, ``timeout``: connecting, sending and reading the
    answer together (a server that trickles its answer a byte at a time is cut off there, as is
    one that never answers). A redirect (3xx) is a failure: it is never followed, so the token
    never goes to another host; the batch is dropped and counted, and the first one is logged.

    Args:
        endpoint: the URL to POST to.
        token: sent as ``Authorization: Bearer <token>`` when given.
        timeout: seconds a request may take, all of it.
        retries: further attempts after the first, on retryable failures.
        backoff: the first retry's delay in seconds; each further one doubles (with jitter).
        stop: when set (the sensor is shutting down), no more retries, and no request lasts more
            than :data:`STOPPING_DEADLINE` seconds from then on.

    Raises:
        ValueError: ``endpoint`` is not an ``http://`` or ``https://`` URL.
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
        self._told_redirect = False
        handlers: list[urllib.request.BaseHandler] = [_NoRedirect(), _DeadlineHTTPHandler()]
        if endpoint.startswith("https://"):
            handlers.append(_DeadlineHTTPSHandler(ssl.create_default_context()))
        self._opener = urllib.request.build_opener(*handlers)

    def export(self, records: list[dict[str, Any]]) -> None:
        """Send one batch; after the last failed attempt the batch is dropped and counted."""
        batch = encode_batch(records)
        self._counts.encoded("http", batch)
        if not batch.data:
            return
        lines = len(records) - batch.dropped
        body = gzip.compress(batch.data, compresslevel=5)
        headers = {
            "Content-Type": "application/x-ndjson",
            "Content-Encoding": "gzip",
            "User-Agent": "codewitness-sensor",
            BATCH_HEADER: os.urandom(16).hex(),
        }
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        attempts = 1 if self.stop.is_set() else self.retries + 1
        for attempt in range(attempts):
            if attempt:
                self._counts.add("http_retries")
                delay = self.backoff * (2 ** (attempt - 1)) * (0.5 + RNG.random())
                if self.stop.wait(delay):
                    break
            status = self._post(body, headers)
            if status is not None and 200 <= status < 300:
                self._counts.add("http_sent_batches")
                return
            if status is not None and status not in self._RETRY_STATUS:
                self._counts.add("http_redirected_batches" if 300 <= status < 400 else "http_rejected_batches")
                self._counts.add("http_dropped_records", lines)
                return
        self._counts.add("http_failed_batches")
        self._counts.add("http_dropped_records", lines)

    def _post(self, body: bytes, headers: dict[str, str]) -> int | None:
        deadline = _Deadline(self.timeout, self.stop)
        request = _Request(self.endpoint, data=body, headers=headers, method="POST", deadline=deadline)
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                response.read(_ANSWER_BYTES)
                status: int = response.status
                return status
        except urllib.error.HTTPError as exc:
            exc.close()
            if 300 <= exc.code < 400:
                self._redirected(exc.code, exc.headers.get("Location"))
            return exc.code
        except (OSError, ValueError, http.client.HTTPException):
            return None
        finally:
            deadline.done()

    def _redirected(self, status: int, location: str | None) -> None:
        if self._told_redirect:
            return
        self._told_redirect = True
        where = urllib.parse.urlsplit(location).netloc if location else ""
        log.warning(
            "codewitness: the sensor endpoint answered %d (a redirect%s); redirects are not followed, so the"
            " batch was dropped: set sensor.endpoint to the final URL",
            status,
            f" to {where}" if where else "",
        )

    def close(self) -> None:
        """Nothing is held open between batches."""

    def after_fork(self) -> None:
        """A child starts with fresh counters."""
        self._counts = _Counters()

    def health(self) -> dict[str, int]:
        """Retried, rejected, redirected and dropped counts since the last call (``http_sent_batches`` excluded)."""
        counts = self._counts.take()
        counts.pop("http_sent_batches", None)
        return counts


class _Deadline:
    """The wall-clock end of one request: a watchdog thread shuts the request's socket down then.

    Socket timeouts bound each read and write, not their sum: a server that sends one byte every
    few seconds would hold a request (and with it the exporter thread) forever. Shutting the
    socket down wakes the blocked read or write, which then fails. Once ``stop`` is set, the end
    moves to at most :data:`STOPPING_DEADLINE` seconds later.
    """

    def __init__(self, seconds: float, stop: threading.Event) -> None:
        self._end = time.monotonic() + seconds
        self._stop = stop
        self._finished = threading.Event()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._expired = False
        self._watchdog: threading.Thread | None = None

    def watch(self, sock: socket.socket) -> None:
        """Cut ``sock`` at the deadline (called once the connection is made)."""
        with self._lock:
            if self._expired:
                _cut(sock)
                return
            self._sockets.append(sock)
            if self._watchdog is None:
                watchdog = threading.Thread(target=self._run, name="codewitness-http-deadline", daemon=True)
                try:
                    watchdog.start()
                except RuntimeError:
                    # The interpreter is exiting (3.12+ starts no thread then): the last batch goes
                    # out with the socket timeouts alone, and shutdown() waits for it a bounded time.
                    return
                self._watchdog = watchdog

    def done(self) -> None:
        """The request is over (its sockets are about to close): the watchdog leaves them alone."""
        with self._lock:
            self._sockets.clear()
        self._finished.set()

    def _run(self) -> None:
        end = self._end
        while True:
            now = time.monotonic()
            if self._stop.is_set():
                end = min(end, now + STOPPING_DEADLINE)
                stopping = True
            else:
                stopping = False
            if now >= end:
                break
            # Wake up now and then to see whether the sensor began stopping.
            if self._finished.wait(end - now if stopping else min(end - now, 0.25)):
                return
        with self._lock:
            self._expired = True
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            _cut(sock)


def _cut(sock: socket.socket) -> None:
    # ``socket.socket.shutdown`` on purpose: a TLS socket's own ``shutdown`` would also drop its
    # TLS state, which the exporter thread is using at this moment.
    with contextlib.suppress(OSError):  # already closed
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _Request(urllib.request.Request):
    def __init__(self, url: str, *, deadline: _Deadline, **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        self.deadline = deadline


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A 3xx answer is returned as an error, never followed (the token stays with its host)."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class _DeadlineHTTPConnection(http.client.HTTPConnection):
    """A connection whose socket its request's deadline cuts (the HTTPS one is a subclass)."""

    def __init__(self, *args: Any, deadline: _Deadline, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline = deadline

    def connect(self) -> None:
        super().connect()
        self._deadline.watch(self.sock)


class _DeadlineHTTPSConnection(_DeadlineHTTPConnection, http.client.HTTPSConnection):
    """``connect`` is HTTPS's (TLS on top of the plain connect, which registers the socket)."""


class _DeadlineHTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        connection = functools.partial(_DeadlineHTTPConnection, deadline=_deadline_of(req))
        return self.do_open(connection, req)


class _DeadlineHTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, context: ssl.SSLContext) -> None:
        super().__init__(context=context)
        self._tls = context

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        connection = functools.partial(_DeadlineHTTPSConnection, deadline=_deadline_of(req))
        return self.do_open(connection, req, context=self._tls)


def _deadline_of(req: urllib.request.Request) -> _Deadline:
    deadline = getattr(req, "deadline", None)
    if not isinstance(deadline, _Deadline):
        raise ValueError("a sensor request without a deadline")
    return deadline


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

    def __init__(self, meter_provider: Any = None, tracer_provider: Any = None, repository: str | None = None) -> None:
        self._repository = repository
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

    def _attributes(self, record: dict[str, Any]) -> dict[str, Any]:
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
            attributes[semconv.VCS_REF_HEAD_REVISION] = record["revision"]
        if self._repository:
            attributes[semconv.VCS_REPOSITORY_URL_FULL] = self._repository
        return attributes

    def export(self, records: list[dict[str, Any]]) -> None:
        """Turn one batch into metric points and spans."""
        for record in records:
            kind = record.get("kind")
            try:
                if kind == Kind.AGGREGATE:
                    attributes = self._attributes(record)
                    self._calls.add(record["calls"], attributes)
                    for error_type, n in record["errors"].items():
                        self._errors.add(n, {**attributes, semconv.EXCEPTION_TYPE: error_type})
                    histogram = Histogram.from_json(record["histogram"])
                    for q in (0.5, 0.95, 0.99):
                        self._duration.set(histogram.quantile(q) / 1e9, {**attributes, semconv.CW_QUANTILE: q})
                elif kind == Kind.EXCEPTION:
                    self._exception_span(record)
                elif kind == Kind.SAMPLE:
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
