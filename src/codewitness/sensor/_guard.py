"""One guard for the sensor's own errors: counted and logged, never raised into the host.

Every piece of sensor code that runs in the host process outside the generated per-call code
(the rewritten functions' few statements, the wrappers' fast path) runs inside a :func:`guard`::

    with guard(sensor, "collector"):
        records.extend(collector())

An ``Exception`` raised inside is ours: it is counted under its place (``internal_errors`` in the
next ``sensor`` record) and logged at debug level with its traceback, and the code after the
``with`` block carries on. What is not ours passes through untouched: ``KeyboardInterrupt``,
``SystemExit`` and every other ``BaseException`` (a signal handler's, the interpreter's), and
:class:`~codewitness.errors.InvariantViolation`, the one error a rule in ``raise`` mode means
for the caller.

A guard holds no state between uses: make one per place once (``self._guarded = guard(...)``)
and enter it as often as needed, from any thread, reentrantly.
"""

from __future__ import annotations

import types
from typing import Protocol

from codewitness.errors import InvariantViolation

__all__ = ["ErrorCounter", "guard"]


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
        self._counter.internal_error(self._where)
        return True
