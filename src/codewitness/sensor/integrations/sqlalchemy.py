"""SQLAlchemy: the statements a flow runs through any engine, whatever its driver.

Listens to every ``Engine``'s ``before_cursor_execute``, ``after_cursor_execute`` and
``handle_error`` events: the statement as SQLAlchemy compiled it (placeholders, never the
values), its time, ``rowcount``, and the dialect as the system (``postgresql``, ``sqlite``,
``mysql``, ...). While SQLAlchemy reports a statement the driver's own integration (sqlite3,
psycopg, psycopg2) stays quiet, so a query is counted once.
"""

from __future__ import annotations

import types
from typing import Any

from codewitness.sensor import flow as _flow
from codewitness.sensor.flow import FlowRecorder
from codewitness.sensor.integrations import DidNotEnable
from codewitness.sensor.integrations._dbapi import report
from codewitness.sensor.meter import now

__all__ = ["Integration"]

#: Where a connection keeps the start of the statements it is running (``Connection.info``).
_STARTS = "codewitness.flow.starts"


def _before(conn: Any, cursor: Any, statement: Any, parameters: Any, context: Any, executemany: bool) -> None:
    flow = _flow._current.get()
    if flow is None:
        return
    try:
        conn.info.setdefault(_STARTS, []).append((flow, now()))
        flow.outer += 1
    except Exception:  # a connection without info: not counted
        _flow.count_error("flow.sqlalchemy")


def _after(conn: Any, cursor: Any, statement: Any, parameters: Any, context: Any, executemany: bool) -> None:
    _finish(conn, statement, getattr(cursor, "rowcount", -1), False)


def _error(context: Any) -> None:
    conn = getattr(context, "connection", None)
    if conn is not None:
        _finish(conn, getattr(context, "statement", None), -1, True)


def _finish(conn: Any, statement: Any, rows: Any, error: bool) -> None:
    try:
        starts = conn.info.get(_STARTS)
        if not starts:
            return
        flow, t0 = starts.pop()
        flow.outer = max(0, flow.outer - 1)
        system = str(getattr(getattr(conn, "dialect", None), "name", "sql"))
        report(flow, system, statement if statement is not None else "", t0, rows, error)
    except Exception:  # never the host's problem: counted
        _flow.count_error("flow.sqlalchemy")


class Integration:
    """Listens to ``sqlalchemy.engine.Engine``'s statement events."""

    identifier = "sqlalchemy"

    def __init__(self) -> None:
        self._listening: list[tuple[Any, str, Any]] = []
        self._event: Any = None

    def setup(self, recorder: FlowRecorder, module: types.ModuleType) -> None:
        event = getattr(module, "event", None)
        engine = getattr(getattr(module, "engine", None), "Engine", None)
        if event is None or not isinstance(engine, type):
            raise DidNotEnable("sqlalchemy has no event module or Engine class")
        self._event = event
        for name, listener in (
            ("before_cursor_execute", _before),
            ("after_cursor_execute", _after),
            ("handle_error", _error),
        ):
            event.listen(engine, name, listener)
            self._listening.append((engine, name, listener))

    def teardown(self) -> None:
        while self._listening:
            target, name, listener = self._listening.pop()
            if self._event.contains(target, name, listener):
                self._event.remove(target, name, listener)
