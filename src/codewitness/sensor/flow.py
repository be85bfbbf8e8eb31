"""Flow context: the request (or job) a watched call ran in, and the queries and outbound calls it made.

While a web framework serves a request, the sensor keeps a small :class:`Flow` for it in a context
variable: its method, route template, path parameters, query string, a request id, how many
requests were in flight when it began, and the statements it ran (SQL normalised with its
literals out, outbound HTTP calls), bounded. An exception, a broken invariant or a sample taken
during the request carries a redacted copy of that context (the ``flow`` field of the record), so
whoever reads it sees the route, the parameters and the queries that came before the failure.

What the context holds, redacted like every captured value: the method, the route template (never
the raw path, which may hold a token, unless ``sensor.request_parts`` names ``path``), the path
parameters, the query parameter names with their values redacted (a secret-looking name's value
never shows), and each statement with its literals out. Headers, cookies and bodies are never
captured by default; ``sensor.request_parts`` with ``headers`` adds the headers, redacted by name
and value (``Authorization``, ``Cookie`` and other secret names whole).

Once per interval the :class:`FlowRecorder` adds two kinds of record to the batch:

* ``route`` -- per route (method, route template, handler function): requests, server errors,
  status classes, a latency histogram, and latency by the number of requests in flight;
* ``dependency`` -- per route, issuing function and normalised statement (or outbound call):
  executions, errors, time, rows, in how many requests it ran, the most times in one request, and
  in how many requests it ran more than once (the evidence for N+1 queries and chatty code).

The integrations (:mod:`codewitness.sensor.integrations`, one module per library) open and close
flows and report statements; they are set up by the :class:`FlowPlugin`, which
:func:`codewitness.init` (and so ``codewitness run``) adds for every library the application
imports, unless turned off (``sensor.integrations``). Code that is not a web request can open a
flow of its own::

    from codewitness.sensor.flow import job

    with job("nightly-invoices"):
        send_invoices()          # its queries are counted per run, N+1 included

Threading: a flow belongs to one request and is touched by the threads and tasks serving it;
the recorder's counters are updated without locks (like the sensor's own: a count can be lost
in the instant the exporter swaps them out, never corrupted). Statements outside any flow are
not recorded. Nothing here raises into the application: the integrations guard every call of
ours and count what fails.

Standard library only.
"""

from __future__ import annotations

import collections
import contextlib
import contextvars
import importlib
import itertools
import logging
import os
import sys
import types
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qsl

from codewitness.facts import Kind, timestamp
from codewitness.sensor.integrations import INTEGRATIONS, DidNotEnable
from codewitness.sensor.integrations._sql import Normalizer
from codewitness.sensor.meter import PyMeter, now

if TYPE_CHECKING:
    from codewitness.sensor.plugins import Host
    from codewitness.sensor.snapshot import Redactor

__all__ = [
    "DEFAULT_STATEMENTS",
    "Flow",
    "FlowPlugin",
    "FlowRecorder",
    "Integration",
    "Resolved",
    "count_error",
    "current",
    "job",
    "recorder",
    "stop_searching_at",
]

log = logging.getLogger("codewitness.sensor")

#: How many statements one flow keeps in order (for the context of an event); the rest are counted.
DEFAULT_STATEMENTS = 50
#: How many distinct statements one flow tells apart (for its per-request counts).
MAX_DISTINCT = 256
#: How many statement texts one flow remembers the entry of (a statement run again by the same
#: text skips normalising and fingerprinting); texts with their literals inline never repeat.
MAX_TEXTS = 512
#: How many routes and how many (route, function, statement) keys one interval holds; the
#: rest are folded into one key marked ``(other)``.
MAX_ROUTES = 500
MAX_DEPENDENCIES = 5000
#: How many ended requests are counted into their routes' statistics at a time (see :meth:`FlowRecorder.end`).
ENDED_BATCH = 64
#: How many frames up from a statement the issuing watched function is looked for.
MAX_DEPTH = 64
#: Latency by requests in flight: bucket ``i`` holds 2**(i-1)+1 .. 2**i requests (``1``, ``2``,
#: ``3-4``, ``5-8``, ...); the last takes the rest.
CONCURRENCY_BUCKETS = 9
OTHER = "(other)"

_current: contextvars.ContextVar[Flow | None] = contextvars.ContextVar("codewitness_flow", default=None)
#: One value per process, so request ids of two processes never collide.
_prefix = uuid.uuid4().hex[:8]
_numbers = itertools.count(1)
#: ``id(code) -> code`` of the functions that open flows around the application (an integration's
#: ``serve``): the search for a statement's issuer stops there.
_STOPS: dict[int, types.CodeType] = {}


def stop_searching_at(function: Callable[..., Any]) -> None:
    """Mark ``function`` as one that opens flows: no statement's issuer is searched above its frame."""
    code = getattr(function, "__code__", None)
    if isinstance(code, types.CodeType):
        _STOPS[id(code)] = code


def current() -> Flow | None:
    """The flow (request or job) the calling code runs in, if any."""
    return _current.get()


def _after_fork() -> None:
    """In a forked child: ids of its own, and none of the parent's counts (the parent reports those)."""
    global _prefix, _numbers
    _prefix = uuid.uuid4().hex[:8]
    _numbers = itertools.count(1)
    running = _recorder
    if running is not None:
        running.reinit_after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


#: What an integration's resolver reports about a request once the framework routed it: the
#: route template, the path parameters, the handler function's ``module.qualname`` -- each
#: ``None`` when not known (yet).
Resolved = tuple["str | None", "Mapping[str, Any] | None", "str | None"]
#: Reads the routing result from the flow's ``source`` (an ASGI scope, a WSGI environ, ...).
Resolver = Callable[["Flow"], Resolved]

_UNRESOLVED: Resolved = (None, None, None)


def _unresolved(flow: Flow) -> Resolved:
    return _UNRESOLVED


class Flow:
    """One request or job in progress (see the module docstring).

    Attributes an integration sets: ``status`` (the response status; 0 until known), ``failed``
    (an exception left the application), ``outer`` (a higher layer -- SQLAlchemy -- is reporting
    the statements being run now, so the driver's own integration stays quiet).
    """

    # Not slotted: what most requests never change is read from these class attributes, and a
    # request's flow is made with the few it sets (a slot must be set in ``__init__`` to be read).
    in_flight = 1
    status = 0
    failed = False
    outer = 0
    request_id: str | None = None
    app: Any = None
    _resolved: Resolved | None = None
    #: The statements in the order they ran: ``(system, statement, duration_ns, rows, error)``
    #: (made at the first statement: most requests of most services run none), and how many
    #: more it has room for.
    statements: list[tuple[str, str, int, int, bool]] | None = None
    room = 0
    dropped = 0
    #: Statement text -> its entry in :attr:`distinct` (see :meth:`FlowRecorder.note`).
    texts: dict[str, list[Any]] | None = None
    #: The frame a job was opened in: the search for a statement's issuer goes no higher. (A
    #: request's search stops at the integration's own frame, see :func:`stop_searching_at`.)
    top: types.FrameType | None = None
    #: Per distinct statement: ``fingerprint -> [system, statement, count, errors, total_ns,
    #: max_ns, rows, function, details]``.
    distinct: dict[str, list[Any]] | None = None

    def __init__(
        self,
        kind: str,
        method: str | None,
        source: Any,
        resolver: Resolver,
        query: str | bytes = "",
        request_id: str | None = None,
        app: Any = None,
        active: set[Flow] | None = None,
    ) -> None:
        self.kind = kind
        self.method = method
        self.source = source
        self.resolver = resolver
        self.query = query
        if request_id is not None:
            self.request_id = request_id
        if app is not None:
            self.app = app
        self.number = next(_numbers)
        if active is not None:  # the recorder's flows in flight: this one is, from now
            active.add(self)
            self.in_flight = len(active)
        self.started = now()

    def resolved(self, final: bool = False) -> Resolved:
        """Route template, path parameters and handler, as the framework routed the request so far.

        ``final`` keeps the answer (the request is over; nothing will change it).
        """
        if self._resolved is not None:
            return self._resolved
        found = self.resolver(self)
        if final:
            self._resolved = found
        return found

    @property
    def id(self) -> str:
        """The request id: the one the integration gave, else the client's ``X-Request-ID``
        (read only now: most requests never need it), else ours."""
        return self.request_id or _client_request_id(self.source) or f"{_prefix}-{self.number:x}"


class _Seen:
    """Field positions of :attr:`Flow.distinct` entries (lists, for speed on the query path)."""

    SYSTEM, STATEMENT, COUNT, ERRORS, TOTAL, MAX, ROWS, FUNCTION, DETAILS = range(9)


#: Status classes by ``status // 100`` (0: no status was sent).
_STATUS_LABELS = ("none", "1xx", "2xx", "3xx", "4xx", "5xx", "other")
#: A status class's cells in :attr:`_RouteStats.cells`: not failed, then failed, by concurrency bucket.
_STATUS_STRIDE = 2 * CONCURRENCY_BUCKETS


class _RouteStats:
    __slots__ = ("cells", "function", "meter", "sums")

    def __init__(self, meter: Any, function: str | None) -> None:
        self.meter = meter  # its count is the number of requests
        self.function = function
        #: Requests by status class (see ``_STATUS_LABELS``), failed or not, and concurrency
        #: bucket: ``cells[status * _STATUS_STRIDE + failed * CONCURRENCY_BUCKETS + bucket]`` (one
        #: list, one increment per request; :meth:`statuses`, :meth:`errors` and :meth:`concurrency`
        #: read it), and the time of the requests by concurrency bucket.
        self.cells = [0] * (len(_STATUS_LABELS) * _STATUS_STRIDE)
        self.sums = [0] * CONCURRENCY_BUCKETS

    def statuses(self) -> list[int]:
        """Requests per status class (see ``_STATUS_LABELS``)."""
        stride = _STATUS_STRIDE
        return [sum(self.cells[i * stride : (i + 1) * stride]) for i in range(len(_STATUS_LABELS))]

    def errors(self) -> int:
        """Requests that failed (an exception left the application) or answered 5xx."""
        cells, buckets = self.cells, CONCURRENCY_BUCKETS
        stride = _STATUS_STRIDE
        failed = sum(sum(cells[i * stride + buckets : (i + 1) * stride]) for i in range(len(_STATUS_LABELS)))
        # Not failed, but a 5xx or a status out of range ("other").
        answered = sum(cells[5 * stride : 5 * stride + buckets]) + sum(cells[6 * stride : 6 * stride + buckets])
        return failed + answered

    def concurrency(self) -> list[tuple[int, int]]:
        """``(requests, ns)`` per concurrency bucket."""
        cells = self.cells
        counts = [0] * CONCURRENCY_BUCKETS
        for start in range(0, len(cells), CONCURRENCY_BUCKETS):
            for b in range(CONCURRENCY_BUCKETS):
                counts[b] += cells[start + b]
        return list(zip(counts, self.sums, strict=True))


class _DependencyStats:
    __slots__ = (
        "calls",
        "details",
        "errors",
        "max_ns",
        "max_per_request",
        "repeated",
        "requests",
        "rows",
        "statement",
        "system",
        "total_ns",
    )

    def __init__(self, system: str, statement: str) -> None:
        self.system = system
        self.statement = statement
        self.calls = 0
        self.errors = 0
        self.total_ns = 0
        self.max_ns = 0
        self.rows = 0
        self.requests = 0
        self.repeated = 0
        self.max_per_request = 0
        self.details: dict[str, int] = {}


class FlowRecorder:
    """Keeps this interval's route and dependency statistics; makes the ``flow`` context of events.

    Made by :class:`FlowPlugin`; the integrations call :meth:`begin`, :meth:`end` and
    :meth:`statement` (from application threads, without locks), the exporter thread calls
    :meth:`drain`.

    Args:
        redactor: redacts statements and every value of the context.
        watches: whether a ``module.qualname`` is a watched function (the issuer of a statement
            is the innermost watched function on the stack).
        meter_type: makes the latency histogram of a route (the sensor's meter).
        max_statements: the statements one flow keeps in order.
        internal_error: counts an error of ours (the sensor's ``internal_error``); never raises.
    """

    def __init__(
        self,
        redactor: Redactor,
        watches: Callable[[str], bool],
        *,
        meter_type: Callable[..., Any] = PyMeter,
        max_statements: int = DEFAULT_STATEMENTS,
        internal_error: Callable[[str], None] = lambda where: None,
    ) -> None:
        self.redactor = redactor
        self.watches = watches
        self.internal_error = internal_error
        self.meter_type = meter_type
        self.max_statements = max_statements
        self.normalize = Normalizer(redactor.redact_text)
        self.active: set[Flow] = set()
        self._routes: dict[tuple[Any, ...], _RouteStats] = {}
        self._dependencies: dict[tuple[Any, ...], _DependencyStats] = {}
        #: Requests ended and not counted yet: ``((kind, method, route, function), ns, status,
        #: failed, in_flight, distinct statements)`` (see :meth:`end`); never more than :data:`ENDED_BATCH` long for
        #: longer than one request's end.
        self._ended: collections.deque[tuple[Any, ...]] = collections.deque()
        self._start = timestamp()
        #: ``id(code) -> (code, module.qualname or None, a flow's boundary)``: which code objects are
        #: watched functions, and which open flows (the issuer search stops there).
        self._code_names: dict[int, tuple[types.CodeType, str | None, bool]] = {}
        self.overflow = 0
        #: The identifiers of the integrations set up (one integration may stand aside for another).
        self.enabled: set[str] = set()

    def reinit_after_fork(self) -> None:
        """Forget the parent's counts and requests in flight (in a forked child)."""
        self._routes = {}
        self._dependencies = {}
        self._ended = collections.deque()
        self.active = set()
        self._start = timestamp()

    # -- flows ---------------------------------------------------------------------------------

    def begin(
        self,
        kind: str,
        method: str | None,
        source: Any,
        resolver: Resolver = _unresolved,
        query: str | bytes = "",
        *,
        request_id: str | None = None,
        app: Any = None,
    ) -> tuple[Flow, contextvars.Token[Flow | None]]:
        """Open a flow and make it the current one; hand both to :meth:`end`.

        (The web integrations do the same in their own frame: ``Flow(..., active=recorder.active)``
        and ``_current.set``.)
        """
        flow = Flow(kind, method, source, resolver, query, request_id, app, self.active)
        return flow, _current.set(flow)

    def end(self, flow: Flow, token: contextvars.Token[Flow | None] | None) -> None:
        """Close ``flow`` (put the previous one back) and count it. Never raises.

        The request is noted in :attr:`_ended` and counted into its route's statistics (and its
        statements into theirs) with others, :data:`ENDED_BATCH` at a time and at each drain:
        one loop over many requests rather than the same steps after each, as it runs on every
        request (and, after the application's own work, with cold caches).
        """
        ns = now() - flow.started
        if token is not None:
            try:  # noqa: SIM105 - a try costs nothing on the request path, suppress() is a call
                _current.reset(token)
            except ValueError:  # reset from another context (a task the flow was copied into): leave it
                pass
        self.active.discard(flow)
        try:
            found = flow._resolved
            if found is None:
                found = flow._resolved = flow.resolver(flow)
            ended = self._ended
            key = (flow.kind, flow.method, found[0], found[2])
            ended.append((key, ns, flow.status, flow.failed, flow.in_flight, flow.distinct))
            if len(ended) >= ENDED_BATCH:
                self._count_ended()
        except Exception:  # a resolver that tripped over a framework we did not expect
            self.internal_error("flow.end")

    def _count_ended(self) -> None:
        """Count the requests noted in :attr:`_ended` into their routes' statistics.

        Each is taken off the queue once (threads may end requests meanwhile, and count them).
        """
        ended = self._ended
        last = CONCURRENCY_BUCKETS - 1
        for _ in range(len(ended)):
            try:
                key, ns, status, failed, in_flight, distinct = ended.popleft()
            except IndexError:  # another thread counted the rest
                return
            stats = self._routes.get(key)
            if stats is None:
                stats = self._route_stats(key)
            stats.meter.add(ns)
            status //= 100
            if status > 5 or status < 0:
                status = 6
            load = (in_flight - 1).bit_length()
            if load > last:
                load = last
            stats.cells[status * _STATUS_STRIDE + (CONCURRENCY_BUCKETS if failed else 0) + load] += 1
            stats.sums[load] += ns
            if distinct:
                for fp, seen in distinct.items():
                    self._fold(key[2], key[1], fp, seen)

    def _route_stats(self, key: tuple[Any, ...]) -> _RouteStats:
        """The statistics of a route seen the first time this interval (or of ``(other)``)."""
        if len(self._routes) >= MAX_ROUTES:
            key = (key[0], key[1], OTHER, None)
            self.overflow += 1
        stats = self._routes.get(key)
        if stats is None:
            stats = self._routes.setdefault(key, _RouteStats(self.meter_type(None, 0), key[3]))
        return stats

    def _fold(self, route: str | None, method: str | None, fp: str, seen: list[Any]) -> None:
        key = (route, method, seen[_Seen.FUNCTION], fp)
        stats = self._dependencies.get(key)
        if stats is None:
            if len(self._dependencies) >= MAX_DEPENDENCIES:
                self.overflow += 1
                key = (route, method, None, OTHER)
                stats = self._dependencies.get(key)
                if stats is None:
                    stats = self._dependencies.setdefault(key, _DependencyStats(seen[_Seen.SYSTEM], OTHER))
            else:
                stats = self._dependencies.setdefault(key, _DependencyStats(seen[_Seen.SYSTEM], seen[_Seen.STATEMENT]))
        count = seen[_Seen.COUNT]
        stats.calls += count
        stats.errors += seen[_Seen.ERRORS]
        stats.total_ns += seen[_Seen.TOTAL]
        stats.max_ns = max(stats.max_ns, seen[_Seen.MAX])
        stats.rows += seen[_Seen.ROWS]
        stats.requests += 1
        if count > 1:
            stats.repeated += 1
        stats.max_per_request = max(stats.max_per_request, count)
        details = seen[_Seen.DETAILS]
        if details:
            for name, n in details.items():
                stats.details[name] = stats.details.get(name, 0) + n

    # -- statements ------------------------------------------------------------------------------

    def statement(
        self,
        flow: Flow,
        system: str,
        statement: Any,
        ns: int,
        rows: int = -1,
        error: bool = False,
    ) -> None:
        """Note one statement ``flow`` ran: ``statement`` is its text (normalised here), ``rows``
        the row count when the driver knows it (-1 otherwise)."""
        shape, fp = self.normalize(statement)
        self.note(flow, system, shape, fp, ns, rows, error, ours=1)

    def note(
        self,
        flow: Flow,
        system: str,
        shape: str,
        fp: str,
        ns: int,
        rows: int = -1,
        error: bool = False,
        details: Mapping[str, int] | None = None,
        ours: int = 0,
        text: str | None = None,
    ) -> None:
        """Note one already normalised statement or outbound call (``fp``: its fingerprint).

        The first time a flow runs a statement, the stack is searched for the innermost watched
        function: the statement's issuer (the frames of the sensor and the library on the way are
        skipped, as no watched function is theirs). ``ours``: how many frames from the caller up
        are the integration's own (the caller, the wrapper that called it, ...): the search
        starts above them, as reading a frame costs (one fewer too many is harmless; one too many
        would skip the issuer).

        ``text``: the statement as the driver got it (a ``str``); the flow remembers which entry it
        went to, so that the next time it runs the driver's report
        (:func:`codewitness.sensor.integrations._dbapi.report`) counts it without this work.
        """
        distinct = flow.distinct
        if distinct is None:
            distinct = flow.distinct = {}
            flow.statements = []
            flow.room = self.max_statements
            flow.texts = {}
        seen = distinct.get(fp)
        if seen is None:
            if len(distinct) >= MAX_DISTINCT:
                fp, shape = OTHER, OTHER
                seen = distinct.get(fp)
            if seen is None:
                seen = distinct[fp] = [system, shape, 0, 0, 0, 0, 0, self._issuer(flow, ours), None]
        seen[2] += 1
        if error:
            seen[3] += 1
        seen[4] += ns
        if ns > seen[5]:
            seen[5] = ns
        if rows > 0:
            seen[6] += rows
        if details:
            counts = seen[8] = seen[8] or {}
            for name, n in details.items():
                counts[name] = counts.get(name, 0) + n
        elif text is not None:
            texts = flow.texts
            if texts is not None and len(texts) < MAX_TEXTS:
                texts[text] = seen
        if flow.room > 0:
            flow.room -= 1
            statements = flow.statements
            if statements is not None:
                statements.append((system, seen[1], ns, rows, error))
        else:
            flow.dropped += 1

    def _issuer(self, flow: Flow, ours: int = 0) -> str | None:
        """The innermost watched function on the stack, below where ``flow`` began.

        The search stops at the frame of the integration that opened the flow (its code is in
        :data:`_STOPS`) or at the frame a job was opened in: what runs above a request is the
        server, never its issuer, and on a deep stack that is most of the frames. It starts
        above the ``ours`` frames of the integration that reported the statement:
        ``sys._getframe`` skips frames without making an object of each, ``f_back`` does not.
        """
        frame: types.FrameType | None
        try:
            frame = sys._getframe(2 + ours)
        except ValueError:  # not that many frames: nobody above issued it
            return None
        names = self._code_names
        top = flow.top
        for _ in range(MAX_DEPTH):
            if frame is None:
                return None
            code = frame.f_code
            known = names.get(id(code))
            if known is None or known[0] is not code:
                known = self._learn(code, frame)
            if known[1] is not None:
                return known[1]
            if known[2] or frame is top:
                return None
            frame = frame.f_back
        return None

    def _learn(self, code: types.CodeType, frame: types.FrameType) -> tuple[types.CodeType, str | None, bool]:
        """Remember whether ``code`` is a watched function's (its name) or a flow's boundary."""
        names = self._code_names
        if len(names) >= 8192:
            names.clear()
        known: tuple[types.CodeType, str | None, bool]
        if id(code) in _STOPS and _STOPS[id(code)] is code:
            known = names[id(code)] = (code, None, True)
            return known
        module = frame.f_globals.get("__name__")
        name: str | None = f"{module}.{code.co_qualname}" if isinstance(module, str) else None
        if name is not None and not self.watches(name):
            name = None
        known = names[id(code)] = (code, name, False)
        return known

    # -- the context of events ---------------------------------------------------------------------

    def context(self) -> dict[str, Any] | None:
        """The current flow as an event carries it (redacted), or ``None`` outside any flow."""
        flow = _current.get()
        if flow is None:
            return None
        r = self.redactor
        route, params, function = flow.resolved()
        shown: dict[str, Any] = {
            "kind": flow.kind,
            "id": r.text(flow.id, 128),
            "method": flow.method,
            "route": route,
            "function": function,
            "path_params": r.snapshot_arguments(params) if params else {},
            "query": self._query(flow.query),
            "in_flight": flow.in_flight,
            "elapsed_ns": now() - flow.started,
            "statements": [
                {"system": s[0], "statement": s[1], "duration_ns": s[2], "rows": s[3], "error": s[4]}
                for s in list(flow.statements or ())
            ],
            "statements_dropped": flow.dropped,
        }
        if "path" in r.request_parts:
            path = _path_of(flow.source)
            if path is not None:
                shown["path"] = r.text(path)
        if "headers" in r.request_parts:
            headers = _headers_of(flow.source)
            if headers:
                shown["headers"] = r.snapshot_arguments(headers)
        return shown

    def _query(self, query: str | bytes) -> dict[str, Any]:
        """Query parameter names with their redacted values (a secret name's value never shows)."""
        if not query:
            return {}
        text = query.decode("latin-1") if isinstance(query, bytes | bytearray) else str(query)
        pairs = parse_qsl(text[:4096], keep_blank_values=True)
        values: dict[str, Any] = {}
        for name, value in pairs:
            if name in values:  # a repeated name: keep its values together
                held = values[name]
                values[name] = [*held, value] if isinstance(held, list) else [held, value]
            else:
                values[name] = value
        return self.redactor.snapshot_arguments(values)

    # -- once per interval -------------------------------------------------------------------------

    def drain(self, function_facts: Callable[[str | None], dict[str, Any]]) -> list[dict[str, Any]]:
        """This interval's ``route`` and ``dependency`` records; starts the next interval."""
        try:
            self._count_ended()
        except Exception:  # never lose the interval for it: what is left is counted next time
            self.internal_error("flow.end")
        routes, self._routes = self._routes, {}
        dependencies, self._dependencies = self._dependencies, {}
        start, end = self._start, timestamp()
        self._start = end
        records: list[dict[str, Any]] = []
        for (kind, method, route, function), r in routes.items():
            counts = r.meter.take()
            calls = sum(counts.values())
            if not calls:
                continue
            histogram = {str(k): v for k, v in sorted(counts.items())}
            records.append(
                {
                    "kind": Kind.ROUTE,
                    "id": uuid.uuid4().hex,
                    **function_facts(function),
                    "start": start,
                    "end": end,
                    "flow": kind,
                    "method": method,
                    "route": route,
                    "requests": calls,
                    "errors": r.errors(),
                    "statuses": {label: n for label, n in zip(_STATUS_LABELS, r.statuses(), strict=True) if n},
                    "histogram": histogram,
                    "total_ns": sum(r.sums),
                    "max_ns": _max_of(counts),
                    "concurrency": {_bucket_label(i): [n, ns] for i, (n, ns) in enumerate(r.concurrency()) if n},
                }
            )
        for (route, method, function, fp), d in dependencies.items():
            records.append(
                {
                    "kind": Kind.DEPENDENCY,
                    "id": uuid.uuid4().hex,
                    **function_facts(function),
                    "start": start,
                    "end": end,
                    "route": route,
                    "method": method,
                    "system": d.system,
                    "statement": d.statement,
                    "fingerprint": fp,
                    "calls": d.calls,
                    "errors": d.errors,
                    "total_ns": d.total_ns,
                    "max_ns": d.max_ns,
                    "rows": d.rows,
                    "requests": d.requests,
                    "repeated": d.repeated,
                    "max_per_request": d.max_per_request,
                    "details": dict(d.details),
                }
            )
        return records


def _bucket_label(index: int) -> str:
    if index <= 1:
        return str(index + 1)
    low, high = (1 << (index - 1)) + 1, 1 << index
    return f"{low}+" if index == CONCURRENCY_BUCKETS - 1 else f"{low}-{high}"


def _max_of(counts: Mapping[int, int]) -> int:
    from codewitness.facts import bucket_value

    return int(bucket_value(max(counts))) if counts else 0


def _path_of(source: Any) -> str | None:
    """The request's path: from an ASGI scope, a WSGI environ, or a Django request."""
    path = (source.get("path") or source.get("PATH_INFO")) if isinstance(source, dict) else getattr(source, "path", 0)
    return path if isinstance(path, str) else None


def _client_request_id(source: Any) -> str | None:
    """The ``X-Request-ID`` header of the request: from an ASGI scope, a WSGI environ, a Django request."""
    if isinstance(source, dict):
        if isinstance(source.get("headers"), list | tuple):
            for pair in source["headers"]:
                if isinstance(pair, list | tuple) and len(pair) == 2 and pair[0] == b"x-request-id":
                    value = pair[1]
                    return value.decode("latin-1") if isinstance(value, bytes) else None
            return None
        found = source.get("HTTP_X_REQUEST_ID")
    else:
        found = (getattr(source, "META", None) or {}).get("HTTP_X_REQUEST_ID")
    return found if isinstance(found, str) and found else None


def _headers_of(source: Any) -> dict[str, str]:
    """The request's headers by lower-case name: from an ASGI scope, a WSGI environ, a Django request."""
    found: dict[str, str] = {}
    if isinstance(source, dict) and isinstance(source.get("headers"), list | tuple):
        for pair in source["headers"][:100]:
            if isinstance(pair, list | tuple) and len(pair) == 2:
                name, value = (p.decode("latin-1") if isinstance(p, bytes) else str(p) for p in pair)
                found[name.lower()] = value
    elif isinstance(source, dict):
        for key, value in list(source.items())[:200]:
            if isinstance(key, str) and key.startswith("HTTP_") and isinstance(value, str):
                found[key[5:].lower().replace("_", "-")] = value
    else:
        headers = getattr(source, "headers", None)
        if headers is not None:
            for name, value in list(headers.items())[:100]:
                found[str(name).lower()] = str(value)
    return found


@contextlib.contextmanager
def job(name: str) -> Iterator[Flow | None]:
    """Run the block as a flow named ``name`` (a background job, a task, a CLI command).

    Its statements are counted per run like a request's (N+1 included), and events inside carry
    it as their context. Without a running sensor with flows, it does nothing.
    """
    recorder = _recorder
    if recorder is None or _current.get() is not None:
        yield _current.get()
        return
    flow, token = recorder.begin("job", None, None, _named(name))
    # The frame with the ``with job(...)``: above the generator and contextlib's ``__enter__``.
    flow.top = sys._getframe(2)
    try:
        yield flow
    except BaseException:
        flow.failed = True
        raise
    finally:
        recorder.end(flow, token)
        flow.top = None  # no cycle through the caller's frame (it holds the flow)


def _named(name: str) -> Resolver:
    resolved: Resolved = (str(name)[:500], None, None)
    return lambda flow: resolved


class Integration(Protocol):
    """What each integration module's ``Integration`` class is (see :mod:`codewitness.sensor.integrations`)."""

    identifier: str

    def setup(self, recorder: FlowRecorder, module: types.ModuleType) -> None:
        """Patch ``module`` (the library, as imported) to report to ``recorder``; may raise
        :class:`~codewitness.sensor.integrations.DidNotEnable`."""

    def teardown(self) -> None:
        """Put back what :meth:`setup` replaced."""


#: The recorder of the running sensor's flow plug-in (one per process), for :func:`job` and the integrations.
_recorder: FlowRecorder | None = None


def recorder() -> FlowRecorder | None:
    """The running flow recorder, if a sensor with flows runs."""
    return _recorder


def count_error(where: str) -> None:
    """Count an error of ours in an integration (``where``: its place); never raises."""
    running = _recorder
    if running is not None:
        running.internal_error(where)


class FlowPlugin:
    """The sensor plug-in that sets up the integrations and reports flows (see the module docstring).

    Args:
        integrations: the identifiers of the integrations to enable (default: all of
            :data:`~codewitness.sensor.integrations.INTEGRATIONS`); each is set up when its
            library is imported, now or later.
        max_statements: the statements one flow keeps in order for the context of events.
    """

    name = "flow"

    def __init__(self, integrations: Sequence[str] | None = None, *, max_statements: int = DEFAULT_STATEMENTS) -> None:
        wanted = tuple(INTEGRATIONS) if integrations is None else tuple(integrations)
        unknown = sorted(set(wanted) - set(INTEGRATIONS))
        if unknown:
            raise ValueError(
                f"sensor.integrations: unknown {', '.join(unknown)}; choose from {', '.join(INTEGRATIONS)}"
            )
        self.wanted = wanted
        self.max_statements = max_statements
        self.recorder: FlowRecorder | None = None
        #: Identifier -> the integration set up, or why it was not (``DidNotEnable``'s message).
        self.enabled: dict[str, Integration] = {}
        self.not_enabled: dict[str, str] = {}
        self._hook: Any = None
        self._host: Host | None = None

    def setup(self, host: Host) -> None:
        """Make the recorder, register the collector and the event context, set up the integrations."""
        global _recorder
        from codewitness.sensor.integrations._hooks import PostImportHook

        self._host = host
        watches = getattr(host, "watches", None) or (lambda name: False)
        self.recorder = FlowRecorder(
            host.redactor,
            watches,
            meter_type=getattr(host, "meter_type", PyMeter),
            max_statements=self.max_statements,
            internal_error=host.internal_error,
        )
        host.add_collector(self._drain)
        add_context = getattr(host, "add_event_context", None)
        if add_context is not None:
            add_context("flow", self.recorder.context)
        _recorder = self.recorder
        waiting: dict[str, list[str]] = {}
        for identifier in self.wanted:
            for module_name in INTEGRATIONS[identifier].modules:
                waiting.setdefault(module_name, []).append(identifier)
        self._hook = PostImportHook(waiting, self._loaded)
        self._hook.install()
        for module_name in list(waiting):
            module = sys.modules.get(module_name)
            if isinstance(module, types.ModuleType):
                self._loaded(module)

    def _loaded(self, module: types.ModuleType) -> None:
        """A module an integration waits for is imported: set that integration up (once)."""
        recorder = self.recorder
        if recorder is None or self._hook is None:
            return
        for identifier in self._hook.waiting.get(module.__name__, ()):
            if identifier in self.enabled or identifier in self.not_enabled:
                continue
            spec = INTEGRATIONS[identifier]
            try:
                integration: Integration = importlib.import_module(spec.path).Integration()
                integration.setup(recorder, module)
            except DidNotEnable as reason:
                self.not_enabled[identifier] = str(reason)
                log.info("codewitness: the %s integration is not enabled: %s", identifier, reason)
                continue
            except Exception:
                self.not_enabled[identifier] = "its setup failed (see internal errors)"
                if self._host is not None:
                    self._host.internal_error(f"integration.{identifier}")
                continue
            self.enabled[identifier] = integration
            recorder.enabled.add(identifier)

    def _drain(self) -> list[dict[str, Any]]:
        recorder = self.recorder
        if recorder is None:
            return []
        facts = getattr(self._host, "function_facts", None)
        return recorder.drain(facts if facts is not None else _no_facts)

    def teardown(self, host: Host) -> None:
        """Take every patch back and stop the hook; flows open now end without being counted."""
        global _recorder
        if self._hook is not None:
            self._hook.remove()
        for identifier, integration in list(self.enabled.items()):
            try:
                integration.teardown()
            except Exception:
                host.internal_error(f"integration.{identifier}")
        self.enabled.clear()
        if self.recorder is not None:
            self.recorder.enabled.clear()
        if _recorder is self.recorder:
            _recorder = None


def _no_facts(function: str | None) -> dict[str, Any]:
    return {"function": function, "origin": "unknown"}
