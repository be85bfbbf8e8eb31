"""The Python 3.12+ backend: ``sys.monitoring`` events on the selected code objects only.

``PY_START`` and ``PY_RETURN`` are enabled locally, per selected code object, so every other
function in the process runs at full speed. ``PY_UNWIND`` (a function left by an exception) can
only be enabled for the whole process; its callback returns after one dictionary lookup for
code that is not ours. Nothing is replaced: every reference to a function -- registries filled
by decorators, closures, nested ``<locals>`` functions -- is watched, because the code object is.

A call is timed from ``PY_START`` to ``PY_RETURN``/``PY_UNWIND`` of the same frame (the frame is
the key, so recursion, threads, generators and coroutines interleave correctly); for generators
and coroutines that includes the time they were suspended, exactly as the 3.11 wrappers measure.
Plain calls nest on their thread, so their starts are kept on a per-thread stack, each marked
with its code object: a return or unwind takes only a start of its own code, so one whose
``PY_START`` was never seen (the call began before its code was watched, another tool's failing
``PY_START`` callback stopped the event before ours) is not counted, rather than taking its
caller's start.

On Python 3.13.0 to 3.13.9 and 3.14.0, closing a generator (or coroutine) suspended at a
``yield`` outside any ``try``, or dropping it, runs no code in it and fires no event (CPython
gh-140373). There, what the backend keeps per generator frame is swept for frames that have
ended (:meth:`MonitoringBackend.sweep`: before each collect, and when it grows): such a call is
counted as a normal end, with its time up to the sweep that found it.

An exception in a monitoring callback surfaces in the host's function, so the callbacks catch
every error of theirs and count it. What they let through is the host's: an invariant raised
in ``raise`` mode, and what a signal handler raises while they run (``KeyboardInterrupt``).
"""

from __future__ import annotations

import gc
import importlib.abc
import inspect
import os
import sys
import threading
import types
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from codewitness.errors import InvariantViolation
from codewitness.sensor._probe import Probe, arguments_of
from codewitness.sensor._select import Found
from codewitness.sensor.meter import MONITOR, PyMeter
from codewitness.sensor.meter import now as monotonic_ns

if TYPE_CHECKING:
    from codewitness.sensor._lifecycle import Sensor
    from codewitness.sensor._rewriting import Rewriter

__all__ = ["HybridBackend", "MonitoringBackend", "free_tool_id"]

_TOOL_NAME = "codewitness"
# DEBUGGER_ID (0), COVERAGE_ID (1) and PROFILER_ID (2, used by cProfile) belong to those tools;
# 3 and 4 have no owner. 5 is the optimizer's.
_PREFERRED_IDS = (4, 3, 2)
# Code that can suspend: timed per frame instead of on the thread's stack.
_SUSPENDING = inspect.CO_GENERATOR | inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR | inspect.CO_ITERABLE_COROUTINE


def free_tool_id() -> int | None:
    """A ``sys.monitoring`` tool id nobody uses, or ``None``."""
    monitoring = sys.monitoring  # type: ignore[attr-defined,unused-ignore]
    for tool in _PREFERRED_IDS:
        if monitoring.get_tool(tool) is None:
            return tool
    return None


class MonitoringBackend:
    """Watches selected code objects through ``sys.monitoring``.

    Raises:
        RuntimeError: every tool id is taken (the sensor then falls back to wrapping).
    """

    name = "monitoring"
    #: Code objects are watched as they are; nothing is rewritten (see :class:`HybridBackend`).
    rewriter: Rewriter | None = None

    def __init__(self, sensor: Sensor) -> None:
        self._sensor = sensor
        self._monitoring: Any = sys.monitoring  # type: ignore[attr-defined,unused-ignore]
        tool = free_tool_id()
        if tool is None:
            raise RuntimeError("no free sys.monitoring tool id")
        self._tool = tool
        # Keyed by id(code): hashing a code object rehashes its constants on every lookup.
        # The code objects themselves are kept in _codes, so their ids stay theirs.
        self._probes: dict[int, Probe] = {}
        self._codes: list[types.CodeType] = []
        #: Start times of the generator and coroutine calls in progress, by frame.
        self._starts: dict[types.FrameType, int] = {}
        #: Per thread: ``(code, start time)`` of the plain (non-suspending) calls in progress.
        self._local = threading.local()
        self._samples: dict[types.FrameType, Any] = {}
        events = self._monitoring.events
        self._monitoring.use_tool_id(tool, _TOOL_NAME)
        #: Whether generator frames must be swept for silent ends (see the module docstring).
        self._silent_close = _close_is_silent(self._monitoring, tool)
        #: ``_starts`` is swept when it grows past this (then set to twice what survived).
        self._sweep_above = [_SWEEP_FLOOR]
        on_start, on_return, on_unwind = self._callbacks()
        #: The compiled callbacks (``_meter.Monitor``), when the probes' meters are compiled ones:
        #: they count plain calls themselves and hand the rest to the Python callbacks.
        self._compiled = _compiled_monitor(sensor, (on_start, on_return, on_unwind, *self._slow_callbacks()))
        #: What the compiled callbacks count an unwatched code object's late events into (nobody reads it).
        self._dead_meter: Any = None
        if self._compiled is not None:
            on_start, on_return, on_unwind = self._compiled.on_start, self._compiled.on_return, self._compiled.on_unwind
            sensor.add_collector(self._report_failures)
            self._dead_meter = sensor.meter_type(None, 0)
        self._monitoring.register_callback(tool, events.PY_START, on_start)
        self._monitoring.register_callback(tool, events.PY_RETURN, on_return)
        self._monitoring.register_callback(tool, events.PY_UNWIND, on_unwind)
        # PY_UNWIND cannot be set per code object: it fires for every frame any exception leaves,
        # so it is switched on with the first watched code object, not before.
        self._unwinding = False
        self._active = True
        if self._silent_close:
            _SWEPT.add(self)

    def attach(self, found: Found, probe: Probe) -> bool:
        """Enable ``PY_START``/``PY_RETURN`` on the function's code object."""
        if not self._active:
            return False
        events = self._monitoring.events
        self._probes[id(found.code)] = probe
        self._codes.append(found.code)
        if self._compiled is not None:
            self._compiled.watch(found.code, probe.meter)
        self._monitoring.set_local_events(self._tool, found.code, events.PY_START | events.PY_RETURN)
        if not self._unwinding:
            self._monitoring.set_events(self._tool, events.PY_UNWIND)
            self._unwinding = True
        return True

    def settle(self) -> None:
        """Nothing to do: code objects are shared by every reference to a function."""

    def unwatch(self, probe: Probe) -> bool | None:
        """Switch ``probe``'s code objects' events off (``None`` when none is watched here).

        Runs on the exporter thread. A plain call in progress then ends unseen: its start is left on
        its thread's stack, where the next end of a watched caller drops it (the compiled callbacks
        drop a start deeper than the frame ending; the Python ones a start of code no longer
        watched); a generator's or coroutine's start is forgotten here. Such a call is not
        counted. Late events (``PY_UNWIND`` fires for every frame) find no probe, or count into a
        meter nobody reads.
        """
        codes = [code for code in self._codes if self._probes.get(id(code)) is probe]
        if not codes:
            return None
        for code in codes:
            self._monitoring.set_local_events(self._tool, code, 0)
            if self._compiled is not None:
                self._compiled.watch(code, self._dead_meter)
            self._probes.pop(id(code), None)
            for frame in list(self._starts):
                if frame.f_code is code:
                    self._starts.pop(frame, None)
                    self._samples.pop(frame, None)
        return True

    def detach_all(self) -> None:
        """Switch every event off and give the tool id back."""
        if not self._active:
            return
        self._active = False
        monitoring = self._monitoring
        for code in self._codes:
            try:
                monitoring.set_local_events(self._tool, code, 0)
            except Exception:
                self._sensor.internal_error("detach")
        monitoring.set_events(self._tool, 0)
        for event in (monitoring.events.PY_START, monitoring.events.PY_RETURN, monitoring.events.PY_UNWIND):
            monitoring.register_callback(self._tool, event, None)
        monitoring.free_tool_id(self._tool)
        if self._compiled is not None:
            self._compiled.forget()
        self.sweep()  # a generator closed silently since the last collect is still counted
        self._starts.clear()
        self._samples.clear()

    def sweep(self, count: bool = True) -> int:
        """Count the generator and coroutine calls that ended without an event (closed or dropped
        while suspended outside any ``try``, on the Pythons that report nothing then), and forget
        their frames; returns how many. Called before each collect and when ``_starts`` grows;
        does nothing where the interpreter reports every end. ``count=False`` only forgets them
        (in a forked child: they ended in the parent, which counts them).
        """
        if not self._silent_close:
            return 0
        ended = 0
        starts, samples, probes = self._starts, self._samples, self._probes
        for frame in list(starts):
            try:
                # Clearing refuses (RuntimeError) a frame that is suspended or running; a frame
                # that has ended has nothing left to clear (3.13+ only: 3.12 would close it).
                frame.clear()
            except RuntimeError:
                continue
            t0 = starts.pop(frame, None)
            samples.pop(frame, None)
            probe = probes.get(id(frame.f_code))
            if count and t0 is not None and probe is not None:
                probe.stats.ok(monotonic_ns() - t0)
                ended += 1
        self._sweep_above[0] = max(_SWEEP_FLOOR, 2 * len(starts))
        return ended

    def _report_failures(self) -> list[dict[str, Any]]:
        """A collector: the compiled callbacks' own errors, counted like every other of ours."""
        if self._compiled is not None:
            for _ in range(min(self._compiled.take_failures(), 1000)):
                self._sensor.internal_error("monitoring.compiled")
        return []

    # The callbacks are closures over locals: attribute lookups on self would cost on every call.
    #
    # Plain functions nest properly on each thread, so their start times live on a per-thread
    # stack (cheap: no frame object is materialized), each with its code object. Generators and
    # coroutines suspend and interleave, so theirs are keyed by their frame, which lives as long
    # as they do.

    def _callbacks(self) -> tuple[Any, Any, Any]:
        """The PY_START, PY_RETURN and PY_UNWIND callbacks, sharing their state as closure locals."""
        starts = self._starts
        local = self._local
        samples = self._samples
        probes = self._probes
        getframe = sys._getframe
        clock = monotonic_ns
        internal_error = self._sensor.internal_error
        suspending = _SUSPENDING
        code_id = id
        sampling = self._sensor.sample_rate > 0 and self._sensor.samples_per_interval > 0
        sweep_above = self._sweep_above if self._silent_close else None
        sweep = self.sweep

        def own_start(stack: list[Started], entry: Started, code: types.CodeType) -> Started | None:
            """``entry``, popped off the thread's stack, is not ``code``'s: drop the starts of code
            unwatched since (they ended unseen) down to ``code``'s own, or put ``entry`` back."""
            while entry[0] is not code and code_id(entry[0]) not in probes:
                if not stack:
                    return None
                entry = stack.pop()
            if entry[0] is code:
                return entry
            stack.append(entry)
            return None

        def on_start(code: types.CodeType, offset: int) -> None:
            try:
                if code.co_flags & suspending:
                    starts[getframe(1)] = clock()
                    if sweep_above is not None and len(starts) > sweep_above[0]:
                        sweep()
                else:
                    try:
                        stack = local.stack
                    except AttributeError:
                        stack = local.stack = []  # this thread's first call
                    stack.append((code, clock()))
                if sampling:
                    probe = probes[code_id(code)]
                    if probe.slow and probe.want_sample():
                        frame = getframe(1)
                        samples[frame] = probe.sample_arguments(arguments_of(code, frame.f_locals))
            except Exception:
                internal_error("monitoring.start")

        def on_return(code: types.CodeType, offset: int, retval: Any) -> None:
            t1 = clock()
            try:
                stack: list[tuple[types.CodeType, int | None]] | None = None
                if code.co_flags & suspending:
                    t0 = starts.pop(getframe(1), None)
                else:
                    try:
                        stack = local.stack
                        entry = stack.pop()
                    except (AttributeError, IndexError):
                        return  # its start was not seen
                    if entry[0] is not code and (entry := own_start(stack, entry, code)) is None:
                        return  # its start was not seen
                    t0 = entry[1]
                if t0 is None:
                    return
                ns = t1 - t0
                try:
                    probe = probes[code_id(code)]
                except KeyError:
                    return  # unwatched while it ran

                if probe.slow:
                    frame = getframe(1)
                    sampled = samples.pop(frame, None)
                    try:
                        probe.finish(ns, lambda: arguments_of(code, frame.f_locals), retval, sampled)
                    except BaseException:
                        if stack is not None:
                            # The interpreter now unwinds this frame too: its PY_UNWIND takes
                            # this (counted) start, not its caller's.
                            stack.append((code, None))
                        raise
                    return
                probe.meter.add(ns)
            except InvariantViolation:
                raise  # an invariant in ``raise`` mode: sys.monitoring hands it to the caller
            except Exception:
                internal_error("monitoring.return")

        def on_unwind(code: types.CodeType, offset: int, exc: BaseException) -> None:
            probe = probes.get(code_id(code))
            if probe is None:
                return
            t1 = clock()
            try:
                frame = getframe(1)
                samples.pop(frame, None)
                if code.co_flags & suspending:
                    t0 = starts.pop(frame, None)
                else:
                    try:
                        stack = local.stack
                        entry = stack.pop()
                    except (AttributeError, IndexError):
                        return  # its start was not seen
                    if entry[0] is not code and (entry := own_start(stack, entry, code)) is None:
                        return  # its start was not seen
                    t0 = entry[1]
                if t0 is None:
                    return
                probe.failed(t1 - t0, exc, lambda: arguments_of(code, frame.f_locals))
            except Exception:
                internal_error("monitoring.unwind")

        return on_start, on_return, on_unwind

    def _slow_callbacks(self) -> tuple[Any, Any, Any]:
        """For the compiled callbacks, which time plain calls themselves: what a call on the slow
        path needs at its start (a sample), at its return (checks, sample) and when an exception
        leaves it, given the time it took. The function's frame is the caller's (C pushes none)."""
        samples = self._samples
        probes = self._probes
        getframe = sys._getframe
        internal_error = self._sensor.internal_error
        code_id = id

        def slow_start(code: types.CodeType) -> None:
            try:
                probe = probes[code_id(code)]
                if probe.want_sample():
                    frame = getframe(1)
                    samples[frame] = probe.sample_arguments(arguments_of(code, frame.f_locals))
            except Exception:
                internal_error("monitoring.start")

        def slow_return(code: types.CodeType, retval: Any, ns: int) -> None:
            try:
                probe = probes[code_id(code)]
                frame = getframe(1)
                sampled = samples.pop(frame, None)
                probe.finish(ns, lambda: arguments_of(code, frame.f_locals), retval, sampled)
            except InvariantViolation:
                raise  # an invariant in ``raise`` mode: sys.monitoring hands it to the caller
            except Exception:
                internal_error("monitoring.return")

        def slow_unwind(code: types.CodeType, exc: BaseException, ns: int) -> None:
            try:
                frame = getframe(1)
                samples.pop(frame, None)
                probes[code_id(code)].failed(ns, exc, lambda: arguments_of(code, frame.f_locals))
            except Exception:
                internal_error("monitoring.unwind")

        return slow_start, slow_return, slow_unwind


def _close_is_silent(monitoring: Any, tool: int) -> bool:
    """Whether closing a generator suspended at a ``yield`` outside any ``try`` fires no
    ``PY_UNWIND`` here (CPython gh-140373: 3.13.0 to 3.13.9, 3.14.0). Tried once, on ``tool``
    before it watches anything."""
    if sys.version_info < (3, 13):
        return False

    def suspends() -> Any:
        yield

    seen: list[types.CodeType] = []

    def on_unwind(code: types.CodeType, offset: int, exc: BaseException) -> None:
        if code is suspends.__code__:
            seen.append(code)

    unwind = monitoring.events.PY_UNWIND
    monitoring.register_callback(tool, unwind, on_unwind)
    monitoring.set_events(tool, unwind)
    try:
        generator = suspends()
        next(generator)
        generator.close()
    finally:
        monitoring.set_events(tool, 0)
        monitoring.register_callback(tool, unwind, None)
    return not seen


#: A plain call's start on its thread's stack: its code and clock (``None``: counted already).
Started = tuple[types.CodeType, int | None]

#: ``_starts`` is swept for silent ends (where there are any) once it holds more than this.
_SWEEP_FLOOR = 4096

#: The backends that sweep: in a forked child, the silent ends they hold are the parent's calls.
_SWEPT: weakref.WeakSet[MonitoringBackend] = weakref.WeakSet()


def _forget_the_parent_s_ends() -> None:
    for backend in list(_SWEPT):
        backend.sweep(count=False)


if hasattr(os, "register_at_fork"):  # once per process, not per backend: nothing is kept alive
    os.register_at_fork(after_in_child=_forget_the_parent_s_ends)


def _compiled_monitor(sensor: Sensor, callbacks: tuple[Any, ...]) -> Any:
    """The compiled callbacks over ``callbacks``, or ``None`` (the probes' meters are pure Python)."""
    if MONITOR is None or sensor.meter_type is PyMeter:
        return None
    return MONITOR(*callbacks)


class HybridBackend(MonitoringBackend):
    """The 3.12+ default: functions rewritten at import where possible, ``sys.monitoring`` elsewhere.

    * Modules imported after ``init()`` are rewritten at import by the wrapping backend: each
      selected function times itself from its first instruction, whoever holds it (nested
      functions and functions registered by decorators included).
    * Functions already loaded when the sensor starts get the code their module's source
      compiles to when rewritten (``Rewriter.recode``), when that source still matches.
    * Other functions already loaded are watched by their code object. With the
      compiled meter, the compiled callbacks cost about as much per call as a rewritten function,
      and less than a wrapper. With the pure-Python meter (Python callbacks, about three times a
      wrapper's cost), they are swapped for wrappers when nothing but namespaces (their module or
      class, other modules' imports) holds them -- one ``gc.get_referrers`` pass decides; anything
      held elsewhere (a route table, a closure, a bound method, a partial) and every nested
      function is watched by its code object.

    The data is the same either way.
    """

    name = "auto"

    def __init__(self, sensor: Sensor) -> None:
        from codewitness.sensor._wrappers import WrappingBackend

        super().__init__(sensor)
        self._wrapping = WrappingBackend(sensor)
        self.rewriter = self._wrapping.rewriter
        self._pending: list[tuple[Found, Probe]] = []

    def attach(self, found: Found, probe: Probe) -> bool:
        """Decorated at import: nothing to do; loaded before with its source unchanged: given its
        rewritten code; else, with the compiled callbacks, monitored (they cost less than a
        wrapper); else swappable ones are decided in :meth:`settle`, the rest monitored."""
        if found.target.name in self._wrapping.rewriter.decorated:
            return True
        if self._wrapping.rewriter.recode(found, probe):
            if found.function is None:
                # A nested function: new ones are made from the rewritten code; those made
                # before (closures already handed out) still run the old code, watched here.
                super().attach(found, probe)
            return True
        if self._compiled is None and found.owner is not None and found.function is not None:
            self._pending.append((found, probe))
            return True
        return super().attach(found, probe)

    def settle(self) -> None:
        """Swap what only namespaces hold; watch the rest by code object."""
        pending, self._pending = self._pending, []
        if not pending:
            return
        held = _held_elsewhere(pending)
        for found, probe in pending:
            if id(found.function) in held or not self._wrapping.attach(found, probe):
                super().attach(found, probe)
        self._wrapping.settle()

    def unwatch(self, probe: Probe) -> bool | None:
        """Stop watching ``probe``'s function however it is watched (rewritten, swapped, monitored)."""
        held = [self._wrapping.unwatch(probe), super().unwatch(probe)]
        if all(h is None for h in held):
            return None
        return False not in held

    def detach_all(self) -> None:
        """Restore swapped names and switch monitoring off."""
        self._wrapping.detach_all()
        super().detach_all()

    def loader_for(self, inner: Any, on_loaded: Callable[[types.ModuleType], Any]) -> importlib.abc.Loader | None:
        """The wrapping backend's rewriting loader for modules imported from now on."""
        return self._wrapping.loader_for(inner, on_loaded)


def _held_elsewhere(pending: list[tuple[Found, Probe]]) -> set[int]:
    """Ids of the pending functions that something other than a namespace refers to."""
    functions = {id(found.function): found.function for found, _ in pending}
    # Namespaces a swap (or the rebinding in settle) takes care of: module dicts, the owners'
    # class dicts, and the staticmethod/classmethod objects stored in them.
    allowed: set[int] = {id(vars(m)) for m in list(sys.modules.values()) if isinstance(m, types.ModuleType)}
    for found, _ in pending:
        if isinstance(found.owner, type):
            allowed.update(id(ref) for ref in gc.get_referents(found.owner) if isinstance(ref, dict))
            allowed.add(id(vars(found.owner).get(found.attribute)))
    held: set[int] = set()
    for referrer in gc.get_referrers(*functions.values()):
        if referrer is functions or id(referrer) in allowed or isinstance(referrer, Found | types.FrameType):
            continue
        if isinstance(referrer, tuple) and all(id(item) in functions for item in referrer):
            continue  # the argument tuple of the get_referrers call itself
        held.update(id(ref) for ref in gc.get_referents(referrer) if id(ref) in functions)
    return held
