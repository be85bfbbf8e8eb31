"""The sensor's state inside the host process: probes, events, the export thread, fork and exit.

One :class:`Probe` per instrumented function holds its running :class:`FunctionStats`, its
exception-capture budget, its sample reservoir and its checks. The backends (``_wrapping`` on
3.11, ``_monitoring`` on 3.12+) call into a probe on every call; everything else happens on the
single exporter thread of :class:`Sensor`, once per interval.

Threading contract: the backends' fast paths, ``Probe.failed`` and ``Probe.finish`` run on
application threads and take no lock at all: a signal handler that runs in the middle of one of
them and calls a watched function itself must not wait for its own thread (counts and the sample
reservoir are updated in steps that neither a thread switch nor a signal handler can split, see
``FunctionStats``). Exporters run only on the exporter thread (the last batch too, at shutdown) and
may block there (HTTP retries) without the application noticing.

Fork: one handler (registered once, holding sensors weakly) gives every running sensor of a forked
child fresh locks, empty counters and its own exporter thread; in a ``multiprocessing`` child,
which ends through ``os._exit`` without running ``atexit``, the last interval is flushed by a
``multiprocessing.util.Finalize`` instead.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import fnmatch
import functools
import inspect
import itertools
import logging
import os
import random
import signal
import socket
import sys
import threading
import traceback
import types
import uuid
import weakref
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from codewitness.errors import InvariantViolation
from codewitness.sensor._imports import ImportHook
from codewitness.sensor._select import Found, Selection, Target, find_functions
from codewitness.sensor.aggregate import FunctionStats, error_name
from codewitness.sensor.meter import Meter, meter_type
from codewitness.sensor.meter import now as monotonic_ns
from codewitness.sensor.snapshot import Redactor

__all__ = ["Backend", "Check", "CheckFactory", "Collector", "Exporter", "Probe", "Sensor"]

log = logging.getLogger("codewitness.sensor")

#: A per-function check (the invariants hook): called with the call's arguments (name -> value)
#: and its result after every successful call; it may raise, which is counted, never propagated.
Check = Callable[[Mapping[str, Any], Any], None]
#: Makes the check of one function (``module.qualname``, its parameter names when known), or None
#: when it does not apply there. Registered by glob pattern; called once per matching function.
CheckFactory = Callable[[str, "tuple[str, ...] | None"], "Check | None"]
#: Called once per interval on the exporter thread; returns extra records for the batch.
Collector = Callable[[], "list[dict[str, Any]]"]

# Our own wrapper frames are left out of captured stacks.
_SENSOR_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep

#: What the slow path of a rewritten function notes at entry: its arguments by name, a sample of
#: them (or ``None``), and the clock.
Entry = tuple[dict[str, Any], Any, int]

#: How long shutdown() waits for the exporter thread to export the last interval, at most.
_SHUTDOWN_TIMEOUT = 5.0

# Exceptions that end a generator or coroutine on purpose; they are not the function's errors.
_NOT_ERRORS = (GeneratorExit,)


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


class Backend(Protocol):
    """How functions are watched: wrapping (3.11) or ``sys.monitoring`` (3.12+)."""

    name: str

    def attach(self, found: Found, probe: Probe) -> bool:
        """Start watching one function; ``False`` when this backend cannot reach it."""

    def settle(self) -> None:
        """After a batch of attaches: fix up references the attaches could not see."""

    def detach_all(self) -> None:
        """Stop watching everything (restore what was replaced)."""


def parameters_of(function: Any, code: types.CodeType | None = None) -> tuple[str, ...] | None:
    """A function's parameter names, in order (through ``functools.wraps`` wrappers); None if unknown."""
    if function is not None:
        try:
            return tuple(inspect.signature(function).parameters)
        except (TypeError, ValueError):
            pass
    if code is None:
        return None
    count = code.co_argcount + code.co_kwonlyargcount
    count += bool(code.co_flags & inspect.CO_VARARGS) + bool(code.co_flags & inspect.CO_VARKEYWORDS)
    return tuple(code.co_varnames[:count])


def arguments_of(code: types.CodeType, frame_locals: Mapping[str, Any]) -> dict[str, Any]:
    """A call's arguments read back from its frame's locals, by the code object's argument names."""
    count = code.co_argcount + code.co_kwonlyargcount
    count += bool(code.co_flags & inspect.CO_VARARGS) + bool(code.co_flags & inspect.CO_VARKEYWORDS)
    return {name: frame_locals[name] for name in code.co_varnames[:count] if name in frame_locals}


@functools.lru_cache(maxsize=4096)
def _call_shape(function: Callable[..., Any]) -> tuple[inspect.Signature | None, tuple[str, ...] | None]:
    """A function's signature, and its parameter names when every one is plain positional-or-keyword."""
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return None, None
    params = signature.parameters.values()
    plain = all(p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD for p in params)
    return signature, tuple(signature.parameters) if plain else None


def bind_arguments(function: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """Name the positional and keyword arguments of one call of ``function`` (best effort).

    The signature is looked up once per function; a positional call of a plain signature is
    named without ``Signature.bind`` (this runs on every call that has checks or samples).
    """
    try:
        signature, names = _call_shape(function)
        if names is not None and not kwargs and len(args) <= len(names):
            return dict(zip(names, args, strict=False))
        if signature is not None:
            return dict(signature.bind_partial(*args, **kwargs).arguments)
    except (TypeError, ValueError):
        pass
    named = {f"arg{i}": value for i, value in enumerate(args)}
    named.update(kwargs)
    return named


class Probe:
    """One instrumented function: counters, capture budget, reservoir, checks."""

    __slots__ = (
        "_budget",
        "_reservoir",
        "checks",
        "meter",
        "params",
        "sample_rate",
        "sensor",
        "slow",
        "stats",
        "suppressed",
        "target",
    )

    def __init__(self, target: Target, sensor: Sensor) -> None:
        self.target = target
        self.sensor = sensor
        #: Counts every call; rewritten functions call ``meter.enter``/``meter.exit`` themselves.
        self.meter: Meter = sensor.meter_type(self, sensor.exceptions_per_interval)
        #: The counters: calls and latencies through the meter, errors by type.
        self.stats = FunctionStats(self.meter)
        self.checks: tuple[Check, ...] = ()
        #: The function's parameter names, when known (rewritten functions name their arguments with them).
        self.params: tuple[str, ...] | None = None
        self.sample_rate = sensor.sample_rate if sensor.samples_per_interval > 0 else 0.0
        #: True when a call needs more than counting (checks or sampling): the backends then take
        #: the slower path that names the arguments.
        self.slow = self.meter.slow = bool(self.sample_rate)
        self._budget: dict[str, int] = {}
        self.suppressed = 0
        self._reservoir = _Reservoir(sensor.samples_per_interval)

    def reinit_after_fork(self) -> None:
        """Empty counters and reservoir in a forked child."""
        self.stats.reinit_after_fork()
        self._budget = {}
        self.suppressed = 0
        self._reservoir = _Reservoir(self.sensor.samples_per_interval)

    def add_check(self, check: Check) -> None:
        """Run ``check(arguments, result)`` after every successful call of this function."""
        self.checks = (*self.checks, check)
        self.slow = self.meter.slow = True

    def want_sample(self) -> bool:
        """Decide, before a call, whether it is offered to the sample reservoir."""
        return self.sample_rate > 0 and random.random() < self.sample_rate  # noqa: S311 - not security

    def failed(self, ns: int, exc: BaseException, arguments: Callable[[], Mapping[str, Any]]) -> None:
        """Count a call that raised; capture it when the per-type budget allows. Never raises."""
        try:
            self.stats.ok(ns)
            name = self._count_failure(exc)
            if name is not None:
                self.sensor.capture_exception(self, exc, name, arguments())
        except Exception:
            self.sensor.internal_error("probe.failed")

    def _count_failure(self, exc: BaseException) -> str | None:
        """Count the error of a call that raised (not the call: the caller counts that); its type
        name when the exception should be captured, else ``None``."""
        if isinstance(exc, _NOT_ERRORS):
            return None
        name = error_name(exc.__class__)
        self.stats.error(name)
        # No lock: the budget is a soft limit (two threads may both take the last capture),
        # and ``suppressed += 1`` cannot be interrupted under the GIL (see FunctionStats).
        used = self._budget.get(name, 0)
        if used >= self.sensor.exceptions_per_interval:
            self.suppressed += 1
            return None
        self._budget[name] = used + 1
        return name

    def finish(
        self,
        ns: int,
        arguments: Callable[[], Mapping[str, Any]],
        result: Any,
        sampled: Mapping[str, Any] | None,
    ) -> None:
        """The slow path after a successful call: count, run checks, offer a sample. Never raises."""
        try:
            self.stats.ok(ns)
            if self.checks:
                named = arguments()
                for check in self.checks:
                    try:
                        check(named, result)
                    except InvariantViolation:
                        raise  # an invariant in ``raise`` mode: the one error meant for the caller
                    except Exception:
                        self.sensor.internal_error("check")
            if sampled is not None:
                self._offer(ns, sampled, result)
        except InvariantViolation:
            raise
        except Exception:
            self.sensor.internal_error("probe.finish")

    # -- the slow path of a function rewritten at import (through its meter; see ``_wrapping``) ---

    def entered(self, frame_locals: Mapping[str, Any]) -> Entry | int:
        """At a rewritten function's first instruction, on the slow path: its arguments, a sample
        of them, and the clock; the meter's ``exit`` hands this token back to :meth:`returned`.

        Just the clock (the call is then only counted) when naming the arguments fails. Never raises.
        """
        try:
            named = self._named(frame_locals)
            sampled = self.snapshot_arguments(named) if self.want_sample() else None
            return named, sampled, monotonic_ns()
        except Exception:
            self.sensor.internal_error("probe.entered")
            return monotonic_ns()

    def returned(self, token: Entry, result: Any) -> None:
        """After a rewritten function returned ``result`` on the slow path: count, checks, sample."""
        try:
            named, sampled, t0 = token
        except Exception:
            self.sensor.internal_error("probe.returned")
            return
        self.finish(monotonic_ns() - t0, lambda: named, result, sampled)

    def raised(self, token: Entry | int, exc: BaseException, depth: int = 1) -> int:
        """A rewritten (or, through the compiled callbacks, monitored) function is raising ``exc``,
        and its meter, which counted it, wants it captured (the first few of each type per
        interval). Returns the call's start.

        The arguments are those named at entry when the slow path named them, else the values
        the parameters hold now, read from the function's frame, ``depth`` frames up (1: the
        caller, as for the compiled meter, which has no frame of its own), as the
        ``sys.monitoring`` backend reads them. Never raises.
        """
        try:
            entry = token if isinstance(token, tuple) else None
            arguments = entry[0] if entry else self._named(sys._getframe(depth).f_locals)
            self.sensor.capture_exception(self, exc, error_name(exc.__class__), arguments)
            return entry[2] if entry else int(token)  # type: ignore[arg-type]
        except Exception:
            self.sensor.internal_error("probe.raised")
            return monotonic_ns()

    def _named(self, frame_locals: Mapping[str, Any]) -> dict[str, Any]:
        if self.params is None:
            return {k: v for k, v in frame_locals.items() if not (k.startswith("__cw_") and k.endswith("__"))}
        return {name: frame_locals[name] for name in self.params if name in frame_locals}

    def snapshot_arguments(self, arguments: Mapping[str, Any]) -> dict[str, Any]:
        """A redacted snapshot taken before the call runs (for samples)."""
        return self.sensor.redactor.snapshot_arguments(arguments)

    def _offer(self, ns: int, arguments: Mapping[str, Any], result: Any) -> None:
        # Reservoir sampling (algorithm R): every offered call has the same chance to be kept.
        # No lock: this runs on application threads, and in signal handlers that call watched
        # functions while their thread is in here too (see ``_Reservoir``).
        reservoir = self._reservoir
        keep = len(reservoir.slots)
        offered = next(reservoir.offered)
        slot = offered if offered < keep else random.randrange(offered + 1)  # noqa: S311 - not security
        if slot >= keep:
            return
        reservoir.slots[slot] = {
            "kind": "sample",
            "time": _now_iso(),
            "duration_ns": ns,
            "arguments": dict(arguments),
            "result": self.sensor.redactor.snapshot(result),
        }

    def drain_samples(self) -> list[dict[str, Any]]:
        """The reservoir of this interval; starts a new one (and a new capture budget)."""
        fresh = _Reservoir(self.sensor.samples_per_interval)
        reservoir, self._reservoir = self._reservoir, fresh
        self._budget = {}
        return [sample for sample in reservoir.slots if sample is not None]


class _Reservoir:
    """One interval's sample slots of one function, filled without a lock.

    ``next(offered)`` numbers each offered call in one step (a C call: no thread switch and no
    signal handler runs inside it), and a slot is filled by one assignment. A call offered just
    as the exporter swaps in a new reservoir may land in the old one after it was read: that
    sample is lost, never a count.
    """

    __slots__ = ("offered", "slots")

    def __init__(self, keep: int) -> None:
        self.offered = itertools.count()
        self.slots: list[dict[str, Any] | None] = [None] * keep


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()


class Sensor:
    """The running sensor: probes, the bounded event queue, the exporter thread.

    Created by :func:`codewitness.init`; there is at most one per process.
    """

    def __init__(
        self,
        *,
        selection: Selection,
        backend_factory: Callable[[Sensor], Backend],
        exporters: Iterable[Exporter],
        service: str,
        revision: str | None,
        interval: float,
        redactor: Redactor,
        queue_size: int = 10_000,
        exceptions_per_interval: int = 5,
        sample_rate: float = 0.0,
        samples_per_interval: int = 5,
        stop: threading.Event | None = None,
        speedups: bool = True,
        flush_on_sigterm: bool = True,
    ) -> None:
        self.selection = selection
        self.flush_on_sigterm = flush_on_sigterm
        #: The probes' meter: compiled when built and ``speedups`` allows it, else pure Python.
        self.meter_type = meter_type(speedups)
        self.service = service
        self.revision = revision
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.interval = interval
        self.redactor = redactor
        self.queue_size = queue_size
        self.exceptions_per_interval = exceptions_per_interval
        self.sample_rate = sample_rate
        self.samples_per_interval = samples_per_interval
        self.exporters = list(exporters)
        self.probes: dict[str, Probe] = {}
        self._events: collections.deque[dict[str, Any]] = collections.deque()
        self.dropped_events = 0
        #: Errors of codewitness's own code, by place. No lock, like every count on the call path.
        self.internal_errors: collections.defaultdict[str, int] = collections.defaultdict(int)
        self.unreachable: set[str] = set()
        self._interval_start = _now_iso()
        #: Set when the sensor shuts down; exporters stop waiting between retries.
        self._stop = stop or threading.Event()
        self._thread: threading.Thread | None = None
        self._flush_lock = threading.Lock()
        self._closed = False
        #: Set when shutdown() has finished; who runs it, and whether a SIGTERM came meanwhile.
        self._shut = threading.Event()
        self._shutting_thread: int | None = None
        self._sigterm_pending = False
        self._pending_checks: dict[str, list[Check]] = {}
        self._check_factories: list[tuple[str, CheckFactory]] = []
        self._collectors: list[Collector] = []
        self.backend = backend_factory(self)
        self._import_hook = ImportHook(selection, self.instrument_module, getattr(self.backend, "loader_for", None))

    # -- errors of our own -----------------------------------------------------------------

    def internal_error(self, where: str) -> None:
        """Count an error in codewitness's own code; never raises (and never waits: no lock)."""
        try:
            self.internal_errors[where] += 1
            if log.isEnabledFor(logging.DEBUG):
                log.debug("codewitness sensor error in %s", where, exc_info=True)
        except Exception:  # noqa: S110 - counting itself failed; nothing more is safe to do
            pass

    # -- instrumenting -----------------------------------------------------------------------

    def probe_for(self, target: Target, parameters: tuple[str, ...] | None = None) -> Probe:
        """The probe of ``target``, made and registered on first use (with any pending checks).

        ``parameters`` are the function's parameter names, for checks that need to know them.
        """
        probe = self.probes.get(target.name)
        if probe is None:
            probe = Probe(target, self)
            probe.params = parameters
            for check in self._pending_checks.pop(target.name, ()):
                probe.add_check(check)
            self._apply_factories(probe, parameters)
            self.probes[target.name] = probe
            self.unreachable.discard(target.name)
        return probe

    def instrument_module(self, module: types.ModuleType, *, settle: bool = True) -> int:
        """Watch every selected function of a loaded module; returns how many were attached.

        ``settle=False`` leaves the backend's batch work (:meth:`Backend.settle`) to the caller,
        so that instrumenting many modules at once pays for it once.
        """
        attached = self._instrument(module)
        if settle and attached:
            try:
                self.backend.settle()
            except Exception:
                self.internal_error("settle")
        return attached

    def _instrument(self, module: types.ModuleType) -> int:
        attached = 0
        try:
            found_all = list(find_functions(module, self.selection))
        except Exception:
            self.internal_error("instrument")
            return 0
        for found in found_all:
            name = found.target.name
            if name in self.probes:
                continue
            try:
                probe = Probe(found.target, self)
                probe.params = parameters_of(found.function, found.code)
                if self.backend.attach(found, probe):
                    for check in self._pending_checks.pop(name, ()):
                        probe.add_check(check)
                    self._apply_factories(probe, probe.params)
                    self.probes[name] = probe
                    self.unreachable.discard(name)
                    attached += 1
                else:
                    self.unreachable.add(name)
            except Exception:
                # One function we cannot instrument must not cost the others.
                self.internal_error("instrument")
                self.unreachable.add(name)
        return attached

    def activate(self) -> None:
        """Instrument what is loaded, watch future imports, start the exporter thread."""
        self._import_hook.install()
        self.instrument_loaded()
        self.start()

    def instrument_loaded(self) -> int:
        """Watch selected functions of every module imported so far."""
        attached = 0
        for name, module in list(sys.modules.items()):
            if isinstance(module, types.ModuleType) and self.selection.may_contain(name):
                attached += self.instrument_module(module, settle=False)
        try:
            self.backend.settle()
        except Exception:
            self.internal_error("settle")
        return attached

    def add_check(self, function: str, check: Check) -> None:
        """Run ``check(arguments, result)`` after each successful call of ``function`` (``module.qualname``).

        The hook point for runtime invariants. A function not instrumented yet gets the check when
        its module is imported.
        """
        probe = self.probes.get(function)
        if probe is not None:
            probe.add_check(check)
        else:
            self._pending_checks.setdefault(function, []).append(check)

    def add_check_factory(self, pattern: str, factory: CheckFactory) -> None:
        """Give every function matching ``pattern`` (a glob on ``module.qualname``) the check ``factory`` makes.

        Applies to functions watched now and to those watched later, as their modules load.
        The functions must be selected (manifest or ``include``) to be watched at all.
        """
        self._check_factories.append((pattern, factory))
        for name, probe in list(self.probes.items()):
            if fnmatch.fnmatchcase(name, pattern):
                self._apply_one(probe, factory, None)

    def _apply_factories(self, probe: Probe, parameters: tuple[str, ...] | None) -> None:
        for pattern, factory in self._check_factories:
            if fnmatch.fnmatchcase(probe.target.name, pattern):
                self._apply_one(probe, factory, parameters)

    def _apply_one(self, probe: Probe, factory: CheckFactory, parameters: tuple[str, ...] | None) -> None:
        try:
            check = factory(probe.target.name, parameters)
        except Exception:
            self.internal_error("check.factory")
            return
        if check is not None:
            probe.add_check(check)

    def add_collector(self, collector: Collector) -> None:
        """Add records from ``collector()`` to every interval's batch (called on the exporter thread)."""
        self._collectors.append(collector)

    def report_event(self, function: str, record: dict[str, Any]) -> bool:
        """Queue an event about ``function`` (an invariant breach, a review item) with its origin added.

        A function the sensor does not watch gets the origin the manifest gives it (listed below the
        watch threshold, or not listed at all: ``human``).
        """
        probe = self.probes.get(function)
        header = self._header(probe)
        known = self.selection.about(function) if probe is None else None
        if known is not None:
            header.update(known.facts())
        record.update({k: v for k, v in header.items() if k not in record})
        return self.enqueue(record)

    # -- events ------------------------------------------------------------------------------

    def _header(self, probe: Probe | None) -> dict[str, Any]:
        header: dict[str, Any] = {
            "id": uuid.uuid4().hex,
            "service": self.service,
            "revision": self.revision,
            "host": self.host,
            "pid": self.pid,
        }
        if probe is not None:
            t = probe.target
            header.update(
                function=t.name,
                origin=t.origin,
                ai_share=t.ai_share,
                generation_ids=list(t.generation_ids),
                models=list(t.models),
                path=t.path,
                line=t.start_line,
            )
        return header

    def enqueue(self, record: dict[str, Any]) -> bool:
        """Queue one event for export; when the queue is full it is dropped and counted."""
        if len(self._events) >= self.queue_size:
            self.dropped_events += 1
            return False
        self._events.append(record)
        return True

    def capture_exception(self, probe: Probe, exc: BaseException, type_name: str, arguments: Mapping[str, Any]) -> None:
        """Queue a redacted capture of an exception escaping ``probe``'s function."""
        stack = [
            {"file": frame.filename, "line": frame.lineno, "function": frame.name}
            for frame in traceback.extract_tb(exc.__traceback__, limit=40)
            if not frame.filename.startswith(_SENSOR_DIR)
        ][-32:]
        message, shown = self.redactor.exception(exc, arguments)
        record = self._header(probe)
        record.update(kind="exception", time=_now_iso(), type=type_name, message=message, stack=stack, arguments=shown)
        self.enqueue(record)

    # -- export ------------------------------------------------------------------------------

    def collect(self) -> list[dict[str, Any]]:
        """Everything since the last collect, as export records (aggregates, events, health)."""
        start, end = self._interval_start, _now_iso()
        self._interval_start = end
        sweep = getattr(self.backend, "sweep", None)  # calls that ended unreported, counted now
        if sweep is not None:
            try:
                sweep()
            except Exception:
                self.internal_error("sweep")
        records: list[dict[str, Any]] = []
        suppressed = 0
        for probe in list(self.probes.values()):
            try:
                stats = probe.stats.drain()
                if stats is not None:
                    record = self._header(probe)
                    record.update(
                        kind="aggregate",
                        start=start,
                        end=end,
                        calls=stats.calls,
                        errors=stats.errors,
                        histogram=stats.histogram.to_json(),
                        total_ns=stats.total_ns,
                        max_ns=stats.max_ns,
                    )
                    records.append(record)
                for sample in probe.drain_samples():
                    sample.update(self._header(probe))
                    records.append(sample)
                suppressed, probe.suppressed = suppressed + probe.suppressed, 0
                suppressed += stats.suppressed if stats is not None else 0
            except Exception:
                self.internal_error("collect")
        while self._events:
            try:
                records.append(self._events.popleft())
            except IndexError:  # pragma: no cover - raced with nothing; deque emptied
                break
        for collector in self._collectors:
            try:
                extra = collector()
                for record in extra:
                    record.update({k: v for k, v in self._header(None).items() if k not in record})
                records.extend(extra)
            except Exception:
                self.internal_error("collector")
        health = self._health(suppressed)
        if health is not None:
            health.update(self._header(None), kind="sensor", start=start, end=end)
            records.append(health)
        return records

    def _health(self, suppressed: int) -> dict[str, Any] | None:
        fresh: collections.defaultdict[str, int] = collections.defaultdict(int)
        # Each swap is one step for the counting threads: a count lands wholly before or after it.
        dropped, self.dropped_events = self.dropped_events, 0
        errors, self.internal_errors = self.internal_errors, fresh
        exporter_counts: dict[str, int] = {}
        for exporter in self.exporters:
            try:
                for key, n in exporter.health().items():
                    exporter_counts[key] = exporter_counts.get(key, 0) + n
            except Exception:
                errors["exporter.health"] = errors.get("exporter.health", 0) + 1
        if not (dropped or errors or suppressed or any(exporter_counts.values())):
            return None
        return {
            "dropped_events": dropped,
            "suppressed_exceptions": suppressed,
            "internal_errors": dict(errors),
            "exporters": exporter_counts,
        }

    def flush(self) -> int:
        """Collect and hand one batch to every exporter; returns the number of records."""
        with self._flush_lock:
            return self._export_batch()

    def _export_batch(self) -> int:
        records = self.collect()
        if not records:
            return 0
        for exporter in self.exporters:
            try:
                exporter.export(records)
            except Exception:
                self.internal_error(f"export.{type(exporter).__name__}")
        return len(records)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.flush()
            except Exception:
                self.internal_error("loop")
        self._finish()

    def _finish(self, timeout: float = -1) -> bool:
        """The last batch, then the exporters close; ``False`` when the flush lock stayed taken."""
        if not self._flush_lock.acquire(timeout=timeout):
            return False
        try:
            try:
                self._export_batch()
            except Exception:
                self.internal_error("flush")
            for exporter in self.exporters:
                try:
                    exporter.close()
                except Exception:
                    self.internal_error("close")
        finally:
            self._flush_lock.release()
        return True

    def start(self) -> None:
        """Start the exporter thread and the exit handlers (fork is handled for every sensor at once)."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="codewitness-sensor", daemon=True)
        self._thread.start()
        _running.add(self)
        if not getattr(self, "_registered", False):
            self._registered = True
            atexit.register(self.shutdown)
            if self.flush_on_sigterm:
                self._take_sigterm()

    # SIGTERM is how services are usually stopped (docker stop, systemd, Kubernetes), and by
    # default it ends the process without running ``atexit``: the last interval would be lost.
    # When the program has no handler of its own, the sensor's handler flushes first, then ends the
    # process by SIGTERM as the default would (same exit status). A handler the program installs
    # later replaces it; programs that exit cleanly on SIGTERM run ``atexit`` anyway.

    def _take_sigterm(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # only the main thread may set handlers; nothing to flush early then
        try:
            if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
                signal.signal(signal.SIGTERM, self._on_sigterm)
        except (ValueError, OSError):  # an embedded interpreter that does not handle signals
            self.internal_error("sigterm")

    def _on_sigterm(self, signum: int, frame: types.FrameType | None) -> None:
        if self._closed and not self._shut.is_set():
            # A shutdown is under way (``atexit``, a ``multiprocessing`` child's finalizer, the
            # program's own call) and still exporting the last interval.
            if self._shutting_thread == threading.get_ident():
                # ... beneath this very handler: it ends the process as SIGTERM would when done.
                self._sigterm_pending = True
                return
            self._shut.wait(_SHUTDOWN_TIMEOUT)
        self.shutdown()  # never raises, returns within its timeout; puts the default handler back
        self._end_by_sigterm()

    @staticmethod
    def _end_by_sigterm() -> None:
        with contextlib.suppress(ValueError, OSError):
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)

    def _give_back_sigterm(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        with contextlib.suppress(ValueError, OSError):
            if signal.getsignal(signal.SIGTERM) == self._on_sigterm:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)

    def _after_fork_in_child(self) -> None:
        """In a forked child: nothing the parent's threads held (locks, the half-written batch,
        counts the parent reports), an exporter thread of its own, and a flush at its exit."""
        if self._closed:
            return
        try:
            self.pid = os.getpid()
            self._flush_lock = threading.Lock()
            # The parent's exporter thread may have been inside the stop event's own lock.
            old_stop, self._stop = self._stop, threading.Event()
            self._shut = threading.Event()
            for exporter in self.exporters:
                if getattr(exporter, "stop", None) is old_stop:
                    exporter.stop = self._stop  # type: ignore[attr-defined]
            self._events = collections.deque()
            self.dropped_events = 0
            self.internal_errors = collections.defaultdict(int)
            self._interval_start = _now_iso()
            for probe in self.probes.values():
                probe.reinit_after_fork()
            for exporter in self.exporters:
                exporter.after_fork()
            self.start()
            _flush_at_multiprocessing_exit(self)
        except Exception:
            self.internal_error("fork")

    def shutdown(self, timeout: float = _SHUTDOWN_TIMEOUT) -> None:
        """Stop watching, flush what is left, close the exporters. Safe to call twice.

        Returns within about ``timeout`` seconds whatever the exporters do: the last batch is
        exported on the exporter thread, which is waited for at most that long; one still busy
        then (a collector that does not answer) is left behind (a daemon thread, it ends with the
        process) and the last interval is lost (logged). Never waits on the flush lock longer.
        """
        if self._closed:
            return
        self._shutting_thread = threading.get_ident()
        self._closed = True
        _running.discard(self)
        with contextlib.suppress(Exception):
            self._import_hook.remove()
        try:
            self.backend.detach_all()
        except Exception:
            self.internal_error("detach")
        thread = self._thread
        self._stop.set()
        if thread is threading.current_thread():
            pass  # called by an exporter or collector: the loop flushes and closes when it returns
        elif thread is not None and thread.is_alive():
            thread.join(timeout)
            if thread.is_alive():
                log.warning(
                    "codewitness: the sensor's exporter was still busy after %.1f s at shutdown; the last"
                    " interval is not exported",
                    timeout,
                )
        elif not self._finish(timeout):
            log.warning("codewitness: the sensor's exporter was busy at shutdown; the last interval is not exported")
        with contextlib.suppress(Exception):
            atexit.unregister(self.shutdown)
        self._give_back_sigterm()
        self._shut.set()
        if self._sigterm_pending:
            self._end_by_sigterm()

    @property
    def closed(self) -> bool:
        """Whether :meth:`shutdown` ran."""
        return self._closed



#: Sensors whose exporter thread runs, held weakly: ``os.register_at_fork`` keeps what it is given
#: forever, so it gets one module-level function, and a sensor that was shut down is forgotten.
_running: weakref.WeakSet[Sensor] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for sensor in list(_running):
        sensor._after_fork_in_child()


def _flush_at_multiprocessing_exit(sensor: Sensor) -> None:
    """In a ``multiprocessing`` child (fork start method): shut ``sensor`` down when the process ends.

    Such a child ends through ``os._exit`` once its target returns, so ``atexit`` never runs; it
    runs ``multiprocessing.util``'s finalizers instead. Those of the parent are cleared as the
    child starts, after this fork handler ran, and the after-fork callbacks run after that: the
    finalizer is registered from one. A child of a plain ``os.fork()`` never runs the callback.
    """
    util = sys.modules.get("multiprocessing.util")
    if util is not None:
        util.register_after_fork(sensor, _register_exit_finalizer)


def _register_exit_finalizer(sensor: Sensor) -> None:
    import multiprocessing.util

    multiprocessing.util.Finalize(None, _shutdown_if_alive, args=(weakref.ref(sensor),), exitpriority=0)


def _shutdown_if_alive(ref: weakref.ref[Sensor]) -> None:
    sensor = ref()
    if sensor is not None:
        sensor.shutdown()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
