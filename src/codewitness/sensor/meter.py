"""The per-call counter of one watched function: compiled when it was built, else pure Python.

A meter counts calls in the buckets of the record format's latency histogram (:mod:`codewitness.facts`).
A function rewritten at import runs ``t0 = meter.enter()`` at its first instruction and
``meter.exit(t0)`` in the ``finally`` around its body; that is all a call costs when it only
needs counting. When its probe needs more (checks or samples: ``meter.slow``), ``enter`` hands
the caller's locals to ``probe.entered`` and returns its token, and ``exit`` hands that token and
the caller's ``__cw_r__`` (the value it returned) to ``probe.returned``. ``exit`` also counts an
exception leaving the function, and hands the first few of each type per interval to
``probe.raised``.

:class:`PyMeter` is the reference implementation. ``codewitness.sensor._meter`` (``_meter.c``)
does the same in C when the install could compile it; between socket reads and writes, where a
service spends its time, each Python instruction the sensor adds costs several times its price
in a tight loop, and the compiled meter adds two calls instead of about forty instructions.
``meter_type`` picks one; the ``sensor.speedups`` setting can force the pure-Python one.
Standard library only.

The compiled meter and callbacks read CPython's thread state directly (the exception being
handled, the depth of the Python stack): fields outside the stable API, which a new Python may
lay out or use differently. They are tested on 3.11 to :data:`NEWEST_TESTED`; on a newer Python
``meter_type`` gives the pure-Python meter unless asked for an untested one
(``sensor.untested_speedups``), and ``codewitness.init()`` says so in one line.
"""

from __future__ import annotations

import inspect
import sys
import time
import types
from collections.abc import Callable
from typing import Any, Protocol

from codewitness.facts import (
    BUCKETS,
    EXACT_BELOW,
    LAST_BUCKET,
    MAX_TRACKED_NS,
    SHIFT_BASE,
    SUB_BUCKET_BITS,
    bucket_index,
)

__all__ = [
    "BUCKET_OF",
    "CLOCK",
    "COMPILED",
    "METER_API",
    "MONITOR",
    "NEWEST_TESTED",
    "STALE_BUILD",
    "TABLE_BELOW",
    "Meter",
    "PyMeter",
    "meter_type",
    "now",
    "stale_build",
    "untested_python",
]

#: Latencies below this (about 16 µs) find their bucket in :data:`BUCKET_OF` by one list lookup.
TABLE_BELOW = 1 << 14
_INDEXES = list(range(BUCKETS))  # one int object per bucket, shared by the table's entries
#: ``BUCKET_OF[ns] == bucket_index(ns)`` for ``ns < TABLE_BELOW``: the per-call hot path of the
#: sensor's rewritten functions (a short call is where a few instructions show the most).
BUCKET_OF: list[int] = [_INDEXES[bucket_index(ns)] for ns in range(TABLE_BELOW)]

try:
    import codewitness.sensor._meter as _compiled  # type: ignore[import-not-found]
except ImportError:  # not built here (no compiler, another interpreter): the pure-Python meter
    _compiled = None

#: The interface this module expects of the compiled meter (``METER_API`` in ``_meter.c``): raised
#: with every change to the methods either side calls, their arguments or their answers.
METER_API = 3


def stale_build(module: Any) -> str | None:
    """Why the compiled meter ``module`` cannot be used with this code, or ``None`` when it can.

    A module built from other sources (an editable checkout's ``.so`` from before a pull, until
    ``pip install -e .`` builds it again) would fail on every call, or count into the wrong buckets.
    """
    if module is None:
        return None
    api = getattr(module, "API", None)
    if api != METER_API:
        built = api if api is not None else "none (built before the interface had a number)"
        return f"it was built for meter interface {built}; this code needs {METER_API}"
    names = ("BUCKETS", "EXACT_BELOW", "SUB_BUCKET_BITS", "MAX_TRACKED_NS")
    layout = tuple(getattr(module, name, None) for name in names)
    if layout != (BUCKETS, EXACT_BELOW, SUB_BUCKET_BITS, MAX_TRACKED_NS):
        return "its histogram layout differs from codewitness.facts'"
    return None


#: Why a compiled meter that is there is left unused (see :func:`stale_build`), or ``None``.
STALE_BUILD: str | None = stale_build(_compiled)

#: True when the compiled meter was built from these sources (its interface and histogram layout agree).
COMPILED: bool = _compiled is not None and STALE_BUILD is None

#: The sensor's clock (nanoseconds; only differences mean anything): the compiled meter's own when
#: it is built, so that a ``t0`` taken on either side of the boundary means the same. That clock
#: reads the CPU's time-stamp counter where the kernel keeps time with it, else CLOCK_MONOTONIC
#: (``CLOCK`` says which); ``time.perf_counter_ns`` (CLOCK_MONOTONIC on Linux) without it.
now: Callable[[], int] = _compiled.now if COMPILED else time.perf_counter_ns

#: What :func:`now` reads: ``"tsc"``, ``"monotonic"``, or ``"perf_counter"`` (no compiled meter).
CLOCK: str = _compiled.clock() if COMPILED else "perf_counter"

#: The compiled ``sys.monitoring`` callbacks (``_meter.Monitor``, Python 3.12+), or ``None``.
MONITOR: Any = getattr(_compiled, "Monitor", None) if COMPILED else None

#: The newest Python (major, minor) the compiled meter and callbacks are tested on (the CI runs
#: 3.11, 3.12 and 3.13).
NEWEST_TESTED = (3, 13)


def untested_python() -> str | None:
    """This Python's version (``"3.14"``) when it is newer than :data:`NEWEST_TESTED`, else ``None``."""
    major, minor = sys.version_info[:2]
    return f"{major}.{minor}" if (major, minor) > NEWEST_TESTED else None


class Meter(Protocol):
    """What the backends call; :class:`PyMeter` and the compiled ``Meter`` both have it."""

    slow: bool

    def enter(self) -> Any: ...

    def exit(self, token: Any) -> None: ...

    def fail(self, token: Any, exc: BaseException) -> None: ...

    def add(self, ns: int) -> None: ...

    def take(self) -> dict[int, int]: ...

    def take_errors(self) -> tuple[list[tuple[type, int]], int]: ...

    def mute(self, exc: BaseException) -> int: ...

    def unmute(self) -> tuple[int, ...]: ...


# Code that can suspend: a generator or coroutine has a handled-exception state of its own.
_SUSPENDING = inspect.CO_GENERATOR | inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR | inspect.CO_ITERABLE_COROUTINE


class PyMeter:
    """The pure-Python meter (the reference for ``_meter.c``).

    ``limit`` is how many exceptions of each type per interval ``fail`` hands to the probe to
    capture; the rest are only counted (and ``suppressed``).
    """

    __slots__ = ("counts", "errors", "limit", "probe", "slow", "suppressed")

    def __init__(self, probe: Any = None, limit: int = 0) -> None:
        self.probe = probe
        self.slow = False
        self.limit = limit
        self.counts = [0] * BUCKETS
        #: This interval's errors: ``id(type)`` -> ``[type, count]``. Types are told apart by
        #: identity, never hashed or compared (a metaclass may define ``__hash__``/``__eq__``).
        self.errors: dict[int, list[Any]] = {}
        self.suppressed = 0

    def enter(self) -> Any:
        """The clock now, or ``probe.entered(caller's locals)`` on the slow path."""
        if self.slow and self.probe is not None:
            return self.probe.entered(sys._getframe(1).f_locals)
        return now()

    def exit(self, token: Any) -> None:
        """Count the call that began at ``token``, and the exception leaving it if one is; on the
        slow path report a call that returned to the probe.

        ``exit`` runs in the ``finally`` around the caller's body. When an exception is leaving
        the caller, it is the one being handled there, and its traceback starts at the caller's
        frame. A call that returns sees no exception, or one its own caller is handling, whose
        traceback starts elsewhere -- except in a generator or coroutine that caught an
        exception its consumer threw in (see :func:`_on_the_way_out`).
        """
        if token is None:
            return  # ``fail`` counted the call
        exc = sys.exception()
        if (
            exc is not None
            and (tb := exc.__traceback__) is not None
            and tb.tb_frame is (frame := sys._getframe(1))
            and (not frame.f_code.co_flags & _SUSPENDING or _on_the_way_out(frame.f_code, frame.f_lasti))
        ):
            token = self._failed(token, exc)
        if token.__class__ is int:
            ns = now() - token
            index = BUCKET_OF[ns] if 0 <= ns < TABLE_BELOW else _bucket(ns)
            # Under the GIL this statement runs without a thread switch (no call inside it), so
            # an increment never lands in a list that ``take`` already swapped out.
            self.counts[index] += 1
        elif self.probe is not None:
            self.probe.returned(token, sys._getframe(1).f_locals.get("__cw_r__"))

    def fail(self, token: Any, exc: BaseException) -> None:
        """Count the call of ``token`` and ``exc`` leaving it; a later ``exit(None)`` does nothing.

        For a function that may re-raise its caller's exception with a bare ``raise``: that
        exception never records the function's frame in its traceback, so ``exit`` cannot tell
        that it leaves, and the function's own ``except BaseException`` calls this instead.
        """
        ns = now() - self._failed(token, exc)
        index = BUCKET_OF[ns] if 0 <= ns < TABLE_BELOW else _bucket(ns)
        self.counts[index] += 1  # no call inside: see ``exit``

    def _failed(self, token: Any, exc: BaseException) -> int:
        """The call of ``token`` is raising ``exc``: count its type; returns the call's start.

        The first ``limit`` exceptions of a type per interval go to ``probe.raised`` to be
        captured. A generator closed on purpose (``GeneratorExit``) is a normal end.
        """
        if isinstance(exc, GeneratorExit):
            return _start_of(token)
        cls = exc.__class__
        key = id(cls)
        while True:
            try:
                entry = self.errors[key]
            except KeyError:
                self.errors.setdefault(key, [cls, 0])
                continue
            # No call since the lookup, so no thread switch: the count lands in the interval
            # whose dictionary it was looked up in, which ``take_errors`` has not taken yet.
            entry[1] += 1
            seen = entry[1]
            break
        if seen > self.limit or self.probe is None:
            self.suppressed += 1
            return _start_of(token)
        try:
            return int(self.probe.raised(token, exc, 3))
        except BaseException:
            # The host's, let out by the probe (an interrupt): the call is counted all the same.
            ns = now() - _start_of(token)
            index = _bucket(ns)
            self.counts[index] += 1  # no call inside: see ``exit``
            raise

    def take_errors(self) -> tuple[list[tuple[type, int]], int]:
        """This interval's errors as ``(exception type, count)`` pairs (each type once), and how
        many were not captured; starts again."""
        errors, suppressed, self.errors, self.suppressed = self.errors, self.suppressed, {}, 0
        return [(cls, n) for cls, n in errors.values()], suppressed

    def mute(self, exc: BaseException) -> int:
        """The compiled meter stops handing over exceptions that are the same failure as ``exc``
        (counting them as repeats in a slot it returns); this one hands every exception over, and
        the probe counts them: no slot (-1)."""
        return -1

    def unmute(self) -> tuple[int, ...]:
        """Hand every exception over again; the repeats counted in each slot while muted (none here)."""
        return ()

    def add(self, ns: int) -> None:
        """Count one call that took ``ns`` nanoseconds."""
        index = _bucket(ns)
        self.counts[index] += 1  # no call inside: see ``exit``

    def take(self) -> dict[int, int]:
        """The non-zero counts so far by bucket; starts again from zero."""
        counts, self.counts = self.counts, [0] * BUCKETS
        return {index: n for index, n in enumerate(counts) if n}


def _start_of(token: Any) -> int:
    """The start of the call ``token`` stands for (``enter``'s int, or the clock in a probe's token)."""
    if token.__class__ is int:
        return int(token)
    if isinstance(token, tuple) and len(token) == 3 and token[2].__class__ is int:
        return int(token[2])
    return now()


#: ``id(code)`` -> ``(code, {offset: on the way out})``: what :func:`_on_the_way_out` found.
_EXIT_PATHS: dict[int, tuple[types.CodeType, dict[int, bool]]] = {}
_JUMPS = frozenset({"JUMP_FORWARD", "JUMP_BACKWARD", "JUMP_BACKWARD_NO_INTERRUPT", "JUMP", "JUMP_NO_INTERRUPT"})
_RETURNS = frozenset({"RETURN_VALUE", "RETURN_CONST"})


def _on_the_way_out(code: types.CodeType, offset: int) -> bool:
    """Whether the ``exit`` call at ``offset`` of a generator or coroutine runs in the copy of
    its ``finally`` that an exception leaving it takes (the compiler writes the body of a
    ``finally`` twice: once on the way out of a return, once in the handler of an exception).

    A generator or coroutine has a handled exception of its own only while it handles one, and
    ``sys.exception()`` looks past it to its consumer's: when the consumer threw an exception in
    (a ``with`` block's error into a ``contextmanager``) that the generator caught, that exception
    is still the consumer's, with a traceback that starts at the generator's frame, and the
    generator then ends normally. The compiled meter reads the generator's own state; here, the
    code after the call tells the two copies apart: the exception's copy ends in ``RERAISE``, the
    other in a return. When it cannot tell (code other than the sensor's ``finally``), the
    exception counts as leaving.
    """
    known = _EXIT_PATHS.get(id(code))
    if known is None or known[0] is not code:
        if len(_EXIT_PATHS) >= 4096:
            _EXIT_PATHS.clear()
        known = _EXIT_PATHS[id(code)] = (code, {})
    paths = known[1]
    answer = paths.get(offset)
    if answer is None:
        answer = paths[offset] = _reraises_after(code, offset)
    return answer


def _reraises_after(code: types.CodeType, offset: int) -> bool:
    import bisect
    import dis  # only here: the rare path of an exception a generator caught

    instructions = list(dis.get_instructions(code))
    branches = {*dis.hasjrel, *dis.hasjabs}
    at = {instruction.offset: i for i, instruction in enumerate(instructions)}
    # The call's own instruction: f_lasti may point into its inline cache (3.12).
    i = bisect.bisect_right([instruction.offset for instruction in instructions], offset)
    for _ in range(64):
        if i >= len(instructions):
            return True
        instruction = instructions[i]
        name = instruction.opname
        if name == "RERAISE":
            return True
        if name in _RETURNS:
            return False
        if name in _JUMPS and instruction.argval in at:
            i = at[instruction.argval]
        elif instruction.opcode in branches or name.startswith(("RAISE", "YIELD")):
            return True  # a branch: not the sensor's ``finally``
        else:
            i += 1
    return True


def _bucket(ns: int) -> int:
    # facts.bucket_index, with the last bucket for everything beyond MAX_TRACKED_NS.
    if ns < EXACT_BELOW:
        return ns if ns > 0 else 0
    if ns < MAX_TRACKED_NS:
        shift = ns.bit_length() - SHIFT_BASE
        return (shift << SUB_BUCKET_BITS) + (ns >> shift)
    return LAST_BUCKET


def meter_type(compiled: bool = True, untested: bool = False) -> Callable[..., Meter]:
    """The compiled meter when asked for and built, else :class:`PyMeter`.

    On a Python newer than :data:`NEWEST_TESTED`, the compiled meter only when ``untested``.
    The backends use the compiled ``sys.monitoring`` callbacks only with the compiled meter.
    """
    if compiled and COMPILED and (untested or untested_python() is None):
        return _compiled.Meter  # type: ignore[no-any-return]
    return PyMeter
