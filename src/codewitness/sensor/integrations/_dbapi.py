"""What the database integrations share: reporting one statement, and wrapping ``execute``.

:func:`report` hands a statement to the recorder and swallows any error of ours.
:func:`wrap_execute` and :func:`wrap_async_execute` make the replacement of a cursor's
``execute`` (or ``executemany``) method: outside a flow, or while a higher layer (SQLAlchemy)
reports the statement, they call the original straight away; inside one they time it and
report it, error or not.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from codewitness.sensor import flow as _flow
from codewitness.sensor.meter import now

__all__ = ["report", "wrap_async_execute", "wrap_execute"]


def report(flow: _flow.Flow, system: str, statement: Any, t0: int, rows: Any, error: bool) -> None:
    """Note a statement that began at ``t0`` (the sensor's clock); never raises.

    Called by the replacement of the driver's ``execute`` itself (the issuer search starts above
    both frames). A statement text the flow ran before is counted here, in this one frame: its
    entry (normalised, fingerprinted, its issuer found the first time) is looked up by the text,
    as the recorder's :meth:`~codewitness.sensor.flow.FlowRecorder.note` remembered it.
    """
    try:
        ns = now() - t0
        if type(rows) is not int:
            rows = -1
        texts = flow.texts
        seen = texts.get(statement) if texts is not None and type(statement) is str else None
        if seen is not None:  # the fields of :class:`~codewitness.sensor.flow._Seen`, written out
            seen[2] += 1
            if error:
                seen[3] += 1
            seen[4] += ns
            if ns > seen[5]:
                seen[5] = ns
            if rows > 0:
                seen[6] += rows
            if flow.room > 0:
                flow.room -= 1
                flow.statements.append((system, seen[1], ns, rows, error))  # type: ignore[union-attr]
            else:
                flow.dropped += 1
            return
        recorder = _flow._recorder
        if recorder is None:
            return
        # A statement text seen lately (by any flow) is looked up here: one call less.
        found = recorder.normalize.known.get(statement) if type(statement) is str else None
        if found is None:
            found = recorder.normalize(statement)
        # Ours above the statement: this function and the wrapper of ``execute`` that called it.
        text = statement if type(statement) is str else None
        recorder.note(flow, system, found[0], found[1], ns, rows, error, None, 2, text)
    except Exception:  # never the host's problem (the statement itself ran): counted
        _flow.count_error(f"flow.{system}")


def wrap_execute(system: str) -> Callable[[Any], Any]:
    """A maker of replacements for a cursor's ``execute(query, ...)`` (for :class:`~._patch.Patches`)."""

    def make(original: Any) -> Any:
        def execute(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
            flow = _flow._current.get()
            if flow is None or flow.outer:
                return original(self, query, *args, **kwargs)
            t0 = now()
            try:
                result = original(self, query, *args, **kwargs)
            except BaseException:
                report(flow, system, query, t0, -1, True)
                raise
            report(flow, system, query, t0, getattr(self, "rowcount", -1), False)
            return result

        execute.__wrapped__ = original  # type: ignore[attr-defined]
        execute.__name__ = getattr(original, "__name__", "execute")
        execute.__doc__ = getattr(original, "__doc__", None)
        return execute

    return make


def wrap_async_execute(system: str) -> Callable[[Any], Any]:
    """As :func:`wrap_execute`, for an ``async def execute``."""

    def make(original: Any) -> Any:
        async def execute(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
            flow = _flow._current.get()
            if flow is None or flow.outer:
                return await original(self, query, *args, **kwargs)
            t0 = now()
            try:
                result = await original(self, query, *args, **kwargs)
            except BaseException:
                report(flow, system, query, t0, -1, True)
                raise
            report(flow, system, query, t0, getattr(self, "rowcount", -1), False)
            return result

        execute.__wrapped__ = original  # type: ignore[attr-defined]
        execute.__name__ = getattr(original, "__name__", "execute")
        execute.__doc__ = getattr(original, "__doc__", None)
        return execute

    return make
