"""The running sensor: its probes, plug-ins, event queue and exporter thread, from start to shutdown.

A :class:`Sensor` watches the selected functions through a backend (chosen by
``codewitness.sensor.init``), makes one :class:`~codewitness.sensor._probe.Probe` per watched
function, hosts the plug-ins (:mod:`codewitness.sensor.plugins`), and once per interval, on its
single exporter thread, collects aggregates, events, plug-in records and its own health into one
batch for its exporters.

Threading contract: what the application's threads call here (``report_event``, ``enqueue``,
``capture_exception``, ``internal_error``) takes no lock. Exporters and collectors run only on
the exporter thread (the last batch too, at shutdown) and may block there without the
application noticing. Everything of ours outside the per-call path runs in a
:class:`~codewitness.sensor._guard.guard`: counted, never raised into the host.

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
import json
import logging
import os
import signal
import socket
import sys
import threading
import traceback
import types
import uuid
import weakref
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from codewitness.facts import Kind, timestamp
from codewitness.sensor._guard import guard, raised_by_signal_handler
from codewitness.sensor._imports import ImportHook
from codewitness.sensor._probe import Probe, parameters_of
from codewitness.sensor._select import Found, Selection, Target, find_functions
from codewitness.sensor.meter import meter_type

if TYPE_CHECKING:
    from codewitness.sensor._failures import Failure
    from codewitness.sensor.export import Exporter
    from codewitness.sensor.plugins import Check, CheckFactory, Collector, Keeper, Plugin
    from codewitness.sensor.snapshot import Redactor

__all__ = ["Backend", "Sensor"]

log = logging.getLogger("codewitness.sensor")

# Our own frames are left out of captured stacks.
_SENSOR_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep

#: How long shutdown() waits for the exporter thread to export the last interval, at most.
_SHUTDOWN_TIMEOUT = 5.0


class Backend(Protocol):
    """How functions are watched: rewriting and wrappers (3.11) or ``sys.monitoring`` (3.12+)."""

    name: str

    def attach(self, found: Found, probe: Probe) -> bool:
        """Start watching one function; ``False`` when this backend cannot reach it."""

    def settle(self) -> None:
        """After a batch of attaches: fix up references the attaches could not see."""

    def detach_all(self) -> None:
        """Stop watching everything (restore what was replaced)."""

    def unwatch(self, probe: Probe) -> bool | None:
        """Stop watching one function (on the exporter thread, while the host runs): ``None`` when
        this backend does not watch it, ``False`` when it cannot stop. A call in progress is
        counted when it ends, or not at all; never half."""


class Sensor:
    """The runtime sensor of this process, as :func:`codewitness.init` returns it.

    There is at most one running per process. What is yours to use:

    * :meth:`flush` -- export what was collected so far now (returns the number of records);
    * :meth:`shutdown` -- stop watching, export the last batch, close the exporters (also run at
      exit and, unless the program handles it, on SIGTERM); :attr:`closed` says whether it ran;
    * ``service`` and ``revision`` -- what every record it sends names;
    * :meth:`add_plugin` and the plug-in host's methods (:class:`~codewitness.sensor.plugins.Host`:
      ``add_check_factory``, ``add_collector``, ``report_event``, ``redactor``, ``internal_error``).

    Everything else (probes, backends, queues, counters) is the sensor's own and may change.
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
        distinct_exceptions_per_interval: int = 20,
        exception_bytes_per_interval: int = 1 << 20,
        sample_rate: float = 0.0,
        samples_per_interval: int = 16,
        sample_max_bytes: int = 16_384,
        stop: threading.Event | None = None,
        speedups: bool = True,
        flush_on_sigterm: bool = True,
        untested_speedups: bool = False,
        unwatch_cheap_calls: int = 0,
        unwatch_cheap_ns: int = 0,
        keep: Iterable[str] = (),
    ) -> None:
        self.selection = selection
        #: A function not in the manifest that runs more than ``unwatch_cheap_calls`` calls in one
        #: interval at a mean below ``unwatch_cheap_ns`` is watched no more (0: never); ``keep``
        #: patterns and functions with checks are always watched (see :meth:`_unwatch_if_cheap`).
        self.unwatch_cheap_calls = unwatch_cheap_calls
        self.unwatch_cheap_ns = unwatch_cheap_ns
        self.keep = tuple(keep)
        #: Functions that must stay watched (kept, or their backend could not stop), decided once.
        self._kept: set[str] = set()
        self.flush_on_sigterm = flush_on_sigterm
        #: The probes' meter: compiled when built and ``speedups`` allows it (and, on a Python
        #: newer than the tested ones, ``untested_speedups``), else pure Python.
        self.meter_type = meter_type(speedups, untested_speedups)
        self.service = service
        self.revision = revision
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.interval = interval
        self.redactor = redactor
        self.queue_size = queue_size
        self.exceptions_per_interval = exceptions_per_interval
        self.distinct_exceptions_per_interval = distinct_exceptions_per_interval
        #: What the exception captures of one interval may take in all (their values as JSON);
        #: past it a failure is reported by its type, message pattern and count alone.
        self.exception_bytes_per_interval = exception_bytes_per_interval
        self._exception_bytes = 0
        self.sample_rate = sample_rate
        self.samples_per_interval = samples_per_interval
        self.sample_max_bytes = sample_max_bytes
        self.exporters = list(exporters)
        self.probes: dict[str, Probe] = {}
        self._events: collections.deque[dict[str, Any]] = collections.deque()
        self.dropped_events = 0
        #: Errors of codewitness's own code, by place. No lock, like every count on the call path.
        self.internal_errors: collections.defaultdict[str, int] = collections.defaultdict(int)
        self.unreachable: set[str] = set()
        self._interval_start = timestamp()
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
        self._keepers: list[Keeper] = []
        self._contexts: list[tuple[str, Callable[[], Any]]] = []
        self.plugins: list[Plugin] = []
        self.backend = backend_factory(self)
        self._import_hook = ImportHook(selection, self.instrument_module, getattr(self.backend, "loader_for", None))

    # -- errors of our own -----------------------------------------------------------------

    def internal_error(self, where: str) -> None:
        """Count an error in codewitness's own code (never waits: no lock).

        Called while an exception is handled. When that exception came out of one of the host's
        signal handlers (it interrupted our code), it is not ours: it is raised again, as if we
        had not been there; nothing else is ever raised.
        """
        handled = sys.exc_info()[1]
        if handled is not None and raised_by_signal_handler(handled):
            raise handled
        self.count_error(where)

    def count_error(self, where: str) -> None:
        """Count an error of ours found without an exception (never raises, never waits)."""
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
            self._give_checks(probe, parameters)
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
            with guard(self, "settle"):
                self.backend.settle()
        return attached

    def _instrument(self, module: types.ModuleType) -> int:
        found_all: list[Found] = []
        with guard(self, "instrument"):
            found_all = list(find_functions(module, self.selection))
        attached = 0
        for found in found_all:
            name = found.target.name
            if name in self.probes:
                continue
            # One function we cannot instrument must not cost the others.
            self.unreachable.add(name)
            with guard(self, "instrument"):
                probe = Probe(found.target, self)
                probe.params = parameters_of(found.function, found.code)
                if self.backend.attach(found, probe):
                    self._give_checks(probe, probe.params)
                    self.probes[name] = probe
                    self.unreachable.discard(name)
                    attached += 1
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
        with guard(self, "settle"):
            self.backend.settle()
        return attached

    # -- plug-ins (see codewitness.sensor.plugins) -----------------------------------------------

    def add_plugin(self, plugin: Plugin) -> bool:
        """Set up ``plugin`` on this sensor; ``False`` (logged, counted) when its setup failed.

        A plug-in whose setup raises is left out -- whatever it registered before failing stays --
        and the sensor and the other plug-ins carry on.
        """
        name = str(getattr(plugin, "name", type(plugin).__name__))
        with guard(self, f"plugin.{name}"):
            plugin.setup(self)
            self.plugins.append(plugin)
            return True
        log.error("codewitness: the sensor plug-in %s was not set up (see internal errors)", name)
        return False

    def add_check(self, function: str, check: Check) -> None:
        """Run ``check(arguments, result)`` after each successful call of ``function`` (``module.qualname``).

        A function not instrumented yet gets the check when its module is imported.
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

    def _give_checks(self, probe: Probe, parameters: tuple[str, ...] | None) -> None:
        """A new probe's checks: those waiting for its function, then the factories' that match it."""
        for check in self._pending_checks.pop(probe.target.name, ()):
            probe.add_check(check)
        for pattern, factory in self._check_factories:
            if fnmatch.fnmatchcase(probe.target.name, pattern):
                self._apply_one(probe, factory, parameters)

    def _apply_one(self, probe: Probe, factory: CheckFactory, parameters: tuple[str, ...] | None) -> None:
        with guard(self, "check.factory"):
            check = factory(probe.target.name, parameters)
            if check is not None:
                probe.add_check(check)

    def add_collector(self, collector: Collector) -> None:
        """Add records from ``collector()`` to every interval's batch (called on the exporter thread)."""
        self._collectors.append(collector)

    def add_keeper(self, keeper: Keeper) -> None:
        """Never unwatch a function for which ``keeper(function)`` is true (see :meth:`_unwatch_if_cheap`)."""
        self._keepers.append(keeper)

    def _kept_by_plugin(self, name: str) -> bool:
        """Whether a plug-in's keeper keeps ``name`` watched (one that raises keeps it, counted)."""
        for keeper in self._keepers:
            try:
                if keeper(name):
                    return True
            except Exception:
                self.internal_error("keeper")
                return True
        return False

    def report_event(self, function: str, record: dict[str, Any]) -> dict[str, Any]:
        """Queue an event about ``function`` (an invariant breach, a review item) with its origin added.

        A function the sensor does not watch gets the origin the manifest gives it (listed below the
        watch threshold, or not listed at all: ``human``). The record is completed in place (with
        the plug-ins' event context too) and returned; a full queue drops it (counted).
        """
        probe = self.probes.get(function)
        header = self._header(probe)
        known = self.selection.about(function) if probe is None else None
        if known is not None:
            header.update(known.facts())
        header.update(self.event_context())
        record.update({k: v for k, v in header.items() if k not in record})
        self.enqueue(record)
        return record

    def add_event_context(self, name: str, provider: Callable[[], Any]) -> None:
        """Add ``provider()`` (unless ``None``) as the field ``name`` of every event captured from now on.

        It runs on the application's thread as the event is captured (an exception, a breach, a
        sample): it must be quick and must not block; an exception from it is counted.
        """
        self._contexts.append((name, provider))

    def event_context(self) -> dict[str, Any]:
        """The fields the plug-ins' context providers add to an event captured now."""
        found: dict[str, Any] = {}
        for name, provider in self._contexts:
            with guard(self, f"context.{name}"):
                value = provider()
                if value is not None:
                    found[name] = value
        return found

    def watches(self, function: str) -> bool:
        """Whether ``function`` (``module.qualname``) is watched now."""
        return function in self.probes

    def function_facts(self, function: str | None) -> dict[str, Any]:
        """``function`` and its origin fields (as events carry them), from its probe or the manifest."""
        facts: dict[str, Any] = {"function": function, "origin": "unknown"}
        if function is None:
            return facts
        probe = self.probes.get(function)
        if probe is not None:
            header = self._header(probe)
            facts.update({k: header[k] for k in ("origin", "ai_share", "generation_ids", "models", "path", "line")})
            return facts
        known = self.selection.about(function)
        if known is not None:
            facts.update(known.facts())
        return facts

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

    def capture_exception(
        self, probe: Probe, exc: BaseException, failure: Failure, arguments: Mapping[str, Any]
    ) -> None:
        """Queue a redacted capture of an exception escaping ``probe``'s function, an occurrence of
        ``failure`` (whose first capture is given its count at collect).

        Past this interval's byte budget for captures (``exception_bytes_per_interval``), a
        failure's first occurrence is still reported, by its type, message pattern and
        innermost frames, without arguments; a repeat is not.
        """
        shown: dict[str, Any] = {}
        stack: list[dict[str, Any]]
        if self._exception_bytes >= self.exception_bytes_per_interval:
            if failure.records:
                return
            message = self.redactor.text(failure.pattern, 500)
            stack = [{"file": code.co_filename, "line": None, "function": code.co_name} for code, _ in failure.frames]
        else:
            frames = traceback.extract_tb(exc.__traceback__, limit=40)
            stack = [
                {"file": frame.filename, "line": frame.lineno, "function": frame.name}
                for frame in frames
                if not frame.filename.startswith(_SENSOR_DIR)
            ][-32:]
            message, shown = self.redactor.exception(exc, arguments)
            self._exception_bytes += len(message) + sum(len(f.filename) + 40 for f in frames) + _json_size(shown)
        record = self._header(probe)
        record.update(
            kind=Kind.EXCEPTION,
            time=timestamp(),
            type=failure.type_name,
            message=message,
            stack=stack,
            arguments=shown,
            fingerprint=failure.fingerprint(probe.target.name),
            count=1,
        )
        if self._contexts:
            record.update(self.event_context())
        if self.enqueue(record):
            failure.records.append(record)

    # -- export ------------------------------------------------------------------------------

    def collect(self) -> list[dict[str, Any]]:
        """Everything since the last collect, as export records (aggregates, events, health)."""
        start, end = self._interval_start, timestamp()
        self._interval_start = end
        sweep = getattr(self.backend, "sweep", None)  # calls that ended unreported, counted now
        if sweep is not None:
            with guard(self, "sweep"):
                sweep()
        records: list[dict[str, Any]] = []
        suppressed = 0
        self._exception_bytes = 0
        for probe in list(self.probes.values()):
            with guard(self, "collect"):
                probe.drain_failures()  # their captures are in the event queue, read below
                stats = probe.stats.drain()
                if stats is not None:
                    record = self._header(probe)
                    record.update(
                        kind=Kind.AGGREGATE,
                        start=start,
                        end=end,
                        calls=stats.calls,
                        errors=stats.errors,
                        histogram=stats.histogram.to_json(),
                        total_ns=stats.total_ns,
                        max_ns=stats.max_ns,
                    )
                    records.append(record)
                    if self.unwatch_cheap_calls and stats.calls > self.unwatch_cheap_calls:
                        unwatched = self._unwatch_if_cheap(probe, stats.calls, stats.total_ns // stats.calls, end)
                        if unwatched is not None:
                            records.append(unwatched)
                for sample in probe.drain_samples():
                    sample.update(self._header(probe))
                    records.append(sample)
                suppressed, probe.suppressed = suppressed + probe.suppressed, 0
                suppressed += stats.suppressed if stats is not None else 0
        while self._events:
            try:
                records.append(self._events.popleft())
            except IndexError:  # pragma: no cover - raced with nothing; deque emptied
                break
        for collector in self._collectors:
            with guard(self, "collector"):
                extra = collector()
                for record in extra:
                    record.update({k: v for k, v in self._header(None).items() if k not in record})
                records.extend(extra)
        health = self._health(suppressed)
        if health is not None:
            health.update(self._header(None), kind=Kind.HEALTH, start=start, end=end)
            records.append(health)
        return records

    def _unwatch_if_cheap(self, probe: Probe, calls: int, mean_ns: int, now: str) -> dict[str, Any] | None:
        """Stop watching ``probe``'s function when it is busy and cheap (``calls`` calls at a mean of
        ``mean_ns`` this interval); the ``unwatched`` record saying so, or ``None``.

        A leaf function that does little and runs often is where the per-call cost of watching
        shows most, and what it tells is least. Never unwatched: the manifest's functions
        (AI-written: what the sensor is for), those ``include`` names by themselves (not through a
        pattern), those matching ``keep``, those with checks, and those a plug-in keeps (a function
        guarded by an invariant decorator). What was counted up to now stays in the aggregates.
        """
        name = probe.target.name
        if probe.unwatched is not None or name in self._kept or mean_ns >= self.unwatch_cheap_ns:
            return None
        if (
            probe.checks
            or name in self.selection.by_name
            or name in self.selection.known
            or name in self.selection.include  # named by itself, not matched by a pattern
            or any(fnmatch.fnmatchcase(name, pattern) for pattern in self.keep)
            or self._kept_by_plugin(name)
        ):
            self._kept.add(name)
            return None
        unwatch = getattr(self.backend, "unwatch", None)
        probe.unwatched = (calls, mean_ns)  # before the backend: a wrapper called meanwhile calls through
        try:
            stopped = unwatch is not None and unwatch(probe)
        except Exception:
            self.internal_error("unwatch")
            stopped = False
        if not stopped:
            probe.unwatched = None
            self._kept.add(name)
            return None
        log.info("codewitness: %s is watched no more: %d calls at %d ns each", name, calls, mean_ns)
        record = self._header(probe)
        record.update(kind=Kind.UNWATCHED, time=now, reason="cheap", calls=calls, mean_ns=mean_ns)
        return record

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
            except Exception:  # counted in this very record, whose counter was just swapped out
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
        """Collect and hand one batch to every exporter now; returns the number of records."""
        with self._flush_lock:
            return self._export_batch()

    def _export_batch(self) -> int:
        records = self.collect()
        if not records:
            return 0
        for exporter in self.exporters:
            with guard(self, f"export.{type(exporter).__name__}"):
                exporter.export(records)
        return len(records)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            with guard(self, "loop"):
                self.flush()
        self._finish()

    def _finish(self, timeout: float = -1) -> bool:
        """The last batch, then the exporters close; ``False`` when the flush lock stayed taken."""
        if not self._flush_lock.acquire(timeout=timeout):
            return False
        try:
            with guard(self, "flush"):
                self._export_batch()
            for exporter in self.exporters:
                with guard(self, "close"):
                    exporter.close()
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
        with guard(self, "fork"):
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
            self._interval_start = timestamp()
            for probe in self.probes.values():
                probe.reinit_after_fork()
            for exporter in self.exporters:
                exporter.after_fork()
            self.start()
            _flush_at_multiprocessing_exit(self)

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
        with guard(self, "detach"):
            self.backend.detach_all()
        for plugin in self.plugins:
            with guard(self, f"plugin.{getattr(plugin, 'name', type(plugin).__name__)}"):
                plugin.teardown(self)
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


def _json_size(value: Any) -> int:
    try:
        return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str))
    except Exception:
        return 0


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
