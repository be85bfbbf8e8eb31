"""One watched function inside the host: its counters, exception captures, samples and checks.

A :class:`Probe` is made per watched function. The backends (rewriting and wrappers on 3.11,
``sys.monitoring`` on 3.12+) call into it on every call; it counts through its meter, tells
exceptions apart by fingerprint and captures each distinct failure at least once per interval
(:mod:`codewitness.sensor._failures`; the capture itself is made by its owner, the sensor), keeps
one sampled call per input shape (:mod:`codewitness.sensor._sampling`), and runs the plug-ins'
checks after each successful call.

Threading: ``failed``, ``finish``, ``entered``, ``returned`` and ``raised`` run on application
threads, on every call that needs more than counting, and take no lock at all (a signal
handler that runs in the middle of one of them and calls a watched function itself must not wait
for its own thread). They are per-call code: each catches and counts its own errors with a plain
``try`` (a context manager there would cost every call), lets the host's ``BaseException`` and an
:class:`~codewitness.errors.InvariantViolation` through, and never raises anything else.
"""

from __future__ import annotations

import functools
import inspect
import sys
import types
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from codewitness.errors import InvariantViolation
from codewitness.sensor._failures import Failure, Failures
from codewitness.sensor._rng import RNG
from codewitness.sensor._sampling import Strata, Token, redaction_of
from codewitness.sensor.aggregate import FunctionStats, error_name
from codewitness.sensor.meter import Meter
from codewitness.sensor.meter import now as monotonic_ns

if TYPE_CHECKING:
    from codewitness.sensor._select import Target
    from codewitness.sensor.plugins import Check
    from codewitness.sensor.snapshot import Redactor

__all__ = ["Entry", "Owner", "Probe", "arguments_of", "bind_arguments", "parameters_of"]

#: Exceptions of one type per function and interval that the meter hands to the probe to be told
#: apart by fingerprint; past it they are only counted by type (a function that raises as its way
#: of answering, a ``__getattr__`` under ``hasattr``, pays for no more than this).
FINGERPRINTED_PER_TYPE = 10_000

#: What the slow path of a rewritten function notes at entry: its arguments by name, a sample of
#: them (or ``None``), and the clock.
Entry = tuple[dict[str, Any], Any, int]

# Exceptions that end a generator or coroutine on purpose; they are not the function's errors.
_NOT_ERRORS = (GeneratorExit,)


class Owner(Protocol):
    """What a probe needs of the sensor that made it."""

    meter_type: Callable[..., Meter]
    exceptions_per_interval: int
    distinct_exceptions_per_interval: int
    sample_rate: float
    samples_per_interval: int
    sample_max_bytes: int
    redactor: Redactor

    def internal_error(self, where: str) -> None:
        """Count an error of the sensor's own; never raises."""

    def capture_exception(
        self, probe: Probe, exc: BaseException, failure: Failure, arguments: Mapping[str, Any]
    ) -> None:
        """Queue a redacted capture of ``exc`` (an occurrence of ``failure``) leaving ``probe``'s function."""

    def event_context(self) -> dict[str, Any]:
        """The plug-ins' context for an event captured now (the request being served)."""


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
        "_muted",
        "_redaction",
        "_strata",
        "checks",
        "failures",
        "meter",
        "params",
        "sample_rate",
        "sensor",
        "slow",
        "stats",
        "suppressed",
        "target",
        "unwatched",
    )

    def __init__(self, target: Target, sensor: Owner) -> None:
        self.target = target
        self.sensor = sensor
        #: Counts every call; rewritten functions call ``meter.enter``/``meter.exit`` themselves.
        self.meter: Meter = sensor.meter_type(self, FINGERPRINTED_PER_TYPE)
        #: The counters: calls and latencies through the meter, errors by type.
        self.stats = FunctionStats(self.meter)
        self.checks: tuple[Check, ...] = ()
        #: The function's parameter names, when known (rewritten functions name their arguments with them).
        self.params: tuple[str, ...] | None = None
        self.sample_rate = sensor.sample_rate if sensor.samples_per_interval > 0 else 0.0
        #: True when a call needs more than counting (checks or sampling): the backends then take
        #: the slower path that names the arguments.
        self.slow = self.meter.slow = bool(self.sample_rate)
        #: This interval's distinct failures.
        self.failures = self._new_failures()
        #: Exceptions not captured this interval (repeats past the budget, failures past the
        #: distinct ones tracked).
        self.suppressed = 0
        #: The failures the compiled meter counts by itself this interval, by their slot there
        #: (see :meth:`raised`).
        self._muted: dict[int, Failure | None] = {}
        self._strata = self._new_strata()
        self._redaction = redaction_of(sensor.redactor)
        #: Set when the sensor stopped watching the function for being cheap: its calls and mean
        #: time (ns) in the interval that decided it.
        self.unwatched: tuple[int, int] | None = None

    def _new_strata(self) -> Strata:
        return Strata(self.sensor.samples_per_interval, self.sensor.sample_max_bytes)

    def _new_failures(self) -> Failures:
        return Failures(self.sensor.exceptions_per_interval, self.sensor.distinct_exceptions_per_interval)

    def reinit_after_fork(self) -> None:
        """Empty counters and samples in a forked child."""
        self.stats.reinit_after_fork()
        self.failures = self._new_failures()
        self.suppressed = 0
        self._muted = {}
        self.meter.unmute()
        self._strata = self._new_strata()

    def add_check(self, check: Check) -> None:
        """Run ``check(arguments, result)`` after every successful call of this function."""
        self.checks = (*self.checks, check)
        self.slow = self.meter.slow = True

    def want_sample(self) -> bool:
        """Decide, before a call, whether it is offered to the sample reservoir."""
        return self.sample_rate > 0 and RNG.random() < self.sample_rate

    def failed(self, ns: int, exc: BaseException, arguments: Callable[[], Mapping[str, Any]]) -> None:
        """Count a call that raised; capture it when it is a new failure or the budget allows. Never raises."""
        try:
            self.stats.ok(ns)
            if isinstance(exc, _NOT_ERRORS):
                return
            name = error_name(exc.__class__)
            self.stats.error(name)
            failure = self._to_capture(exc, name)
            if failure is not None:
                self.sensor.capture_exception(self, exc, failure, arguments())
        except Exception:
            self.sensor.internal_error("probe.failed")

    def _to_capture(self, exc: BaseException, name: str) -> Failure | None:
        """Count ``exc`` under its fingerprint; its failure when this occurrence is to be captured.

        No lock: the budget is a soft limit (two threads may both take the last capture), and
        ``suppressed += 1`` cannot be interrupted under the GIL (see FunctionStats).
        """
        failures = self.failures
        failure = failures.seen(exc, name)
        if failure is None or not failures.wants_capture(failure):
            self.suppressed += 1
            return None
        failures.captured += 1
        return failure

    def finish(
        self,
        ns: int,
        arguments: Callable[[], Mapping[str, Any]],
        result: Any,
        sampled: Token | None,
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
                context = self.sensor.event_context()
                self._strata.keep(ns, sampled, result, self.sensor.redactor, self._redaction, context)
        except InvariantViolation:
            raise
        except Exception:
            self.sensor.internal_error("probe.finish")

    # -- the slow path of a function rewritten at import (through its meter; see ``_rewriting``) --

    def entered(self, frame_locals: Mapping[str, Any]) -> Entry | int:
        """At a rewritten function's first instruction, on the slow path: its arguments, a sample
        of them, and the clock; the meter's ``exit`` hands this token back to :meth:`returned`.

        Just the clock (the call is then only counted) when naming the arguments fails. Never raises.
        """
        try:
            named = self._named(frame_locals)
            sampled = self.sample_arguments(named) if self.want_sample() else None
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

        It is counted under its fingerprint, and captured when it is a new failure or the budget
        allows. The arguments are those named at entry when the slow path named them, else the
        values the parameters hold now, read from the function's frame, ``depth`` frames up (1:
        the caller, as for the compiled meter, which has no frame of its own), as the
        ``sys.monitoring`` backend reads them. Never raises.
        """
        try:
            entry = token if isinstance(token, tuple) else None
            start = entry[2] if entry else int(token)  # type: ignore[arg-type]
            name = error_name(exc.__class__)
            failures = self.failures
            failure = failures.seen(exc, name)
            if failure is not None and failures.wants_capture(failure):
                failures.captured += 1
                arguments = entry[0] if entry else self._named(sys._getframe(depth).f_locals)
                self.sensor.capture_exception(self, exc, failure, arguments)
            else:
                # Not captured, nor will its repeats be: until the interval ends, the compiled
                # meter counts them without calling here (a flood of a few failures, taking turns
                # or not, costs no Python); their number is added to the failure's at the end.
                self.suppressed += 1
                slot = self.meter.mute(exc)
                if slot >= 0:
                    self._muted[slot] = failure
            return int(start)
        except Exception:
            self.sensor.internal_error("probe.raised")
            return monotonic_ns()

    def _named(self, frame_locals: Mapping[str, Any]) -> dict[str, Any]:
        if self.params is None:
            return {k: v for k, v in frame_locals.items() if not (k.startswith("__cw_") and k.endswith("__"))}
        return {name: frame_locals[name] for name in self.params if name in frame_locals}

    def sample_arguments(self, arguments: Mapping[str, Any]) -> Token | None:
        """Before a call offered for a sample: what the sample keeps of its arguments (a redacted
        snapshot and the exact encoding, taken now, before the call may change them), or ``None``
        when the call's input shape has its sample already (see :class:`~codewitness.sensor._sampling.Strata`)."""
        return self._strata.take(arguments, self.sensor.redactor, self._redaction)

    def drain_samples(self) -> list[dict[str, Any]]:
        """The samples of this interval; starts a new interval."""
        strata, self._strata = self._strata, self._new_strata()
        return strata.drain()

    def drain_failures(self) -> None:
        """End this interval's failures (a new capture budget starts): each failure's first
        capture record is given how many occurrences it stands for (the failure's count less its
        other captures, which stand for one each). Runs on the exporter thread, before the
        records leave the event queue."""
        failures, self.failures = self.failures, self._new_failures()
        muted, self._muted = self._muted, {}
        for slot, repeats in enumerate(self.meter.unmute()):
            failure = muted.get(slot)
            if failure is not None:
                failure.count += repeats
        for failure in failures:
            if failure.records:
                failure.records[0]["count"] = max(1, failure.count - (len(failure.records) - 1))
