"""One guard for the sensor's own errors: counted and logged, never raised into the host.

Every piece of sensor code that runs in the host process outside the generated per-call code
(the rewritten functions' few statements, the wrappers' fast path) runs inside a :func:`guard`::

    with guard(sensor, "collector"):
        records.extend(collector())

An ``Exception`` raised inside is ours: it is counted under its place (``internal_errors`` in the
next ``sensor`` record) and logged at debug level with its traceback, and the code after the
``with`` block carries on. What is not ours passes through untouched: ``KeyboardInterrupt``,
``SystemExit`` and every other ``BaseException`` (a signal handler's, the interpreter's),
:class:`~codewitness.errors.InvariantViolation`, the one error a rule in ``raise`` mode means
for the caller, and any exception a Python signal handler raised while our code ran (a
``SIGALRM`` timeout raising ``TimeoutError`` is the host's, wherever the alarm happened to land:
see :func:`raised_by_signal_handler`).

A guard holds no state between uses: make one per place once (``self._guarded = guard(...)``)
and enter it as often as needed, from any thread, reentrantly.
"""

from __future__ import annotations

import signal
import threading
import types
from typing import Protocol

from codewitness.errors import InvariantViolation

__all__ = ["ErrorCounter", "guard", "raised_by_signal_handler"]


class ErrorCounter(Protocol):
    """What counts errors of ours: the sensor (``Sensor.internal_error``)."""

    def internal_error(self, where: str) -> None:
        """Count one error at ``where`` (and log it); never raises."""


class guard:  # a context manager used like a function: ``with guard(sensor, "where"):``
    """Count and swallow an ``Exception`` of ours raised inside the block (see the module docstring).

    Args:
        counter: where the error is counted (the sensor).
        where: the place, as it appears in ``internal_errors``.
    """

    __slots__ = ("_counter", "_where")

    def __init__(self, counter: ErrorCounter, where: str) -> None:
        self._counter = counter
        self._where = where

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: types.TracebackType | None
    ) -> bool:
        if exc is None or not isinstance(exc, Exception) or isinstance(exc, InvariantViolation):
            return False
        if raised_by_signal_handler(exc):
            return False
        self._counter.internal_error(self._where)
        return True


def raised_by_signal_handler(exc: BaseException) -> bool:
    """Whether ``exc`` was raised by a Python signal handler installed now (or a function it called).

    Python runs a signal handler in the main thread between two instructions of whatever runs
    there, our code included; what the handler raises is meant for the host (a timeout, a
    graceful stop), not an error of ours. Looked up only when an exception is caught, never on
    the per-call path: every installed handler's code is compared with the traceback's frames.
    """
    if threading.current_thread() is not threading.main_thread():
        return False
    codes = set()
    try:
        for number in signal.valid_signals():
            handler = signal.getsignal(number)
            code = getattr(getattr(handler, "__func__", handler), "__code__", None)
            if code is not None:
                codes.add(code)
    except (ValueError, OSError):  # an interpreter without signal handling
        return False
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code in codes:
            return True
        tb = tb.tb_next
    return False
