"""SQLAlchemy: the statements a flow runs through an engine whose driver has no integration of its own.

``create_engine`` is wrapped. An engine whose driver another enabled integration already watches
(sqlite3, psycopg, psycopg2: the statements SQLAlchemy compiled reach them) is left alone --
SQLAlchemy takes a slower path on every statement once an engine has statement listeners, about
10 µs. Any other engine (pymysql, mysqlclient, oracledb, asyncpg, ...) gets listeners for its
``before_cursor_execute``, ``after_cursor_execute`` and ``handle_error`` events: the statement as
SQLAlchemy compiled it (placeholders, never the values), its time, ``rowcount``, and the dialect
as the system (``mysql``, ``oracle``, ...). While SQLAlchemy reports a statement a driver
integration stays quiet, so a query is counted once either way. Engines made before the sensor
started are not seen here (their driver's integration may still see them).
"""

from __future__ import annotations

import sys
import types
from typing import Any

from codewitness.sensor import flow as _flow
from codewitness.sensor.flow import FlowRecorder
from codewitness.sensor.integrations import DidNotEnable
from codewitness.sensor.integrations._dbapi import report
from codewitness.sensor.integrations._patch import Patches
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


#: The driver integrations, by the top-level name of the DB-API module they watch.
_DRIVERS = {"sqlite3": "sqlite3", "psycopg": "psycopg", "psycopg2": "psycopg2"}
_LISTENERS = (("before_cursor_execute", _before), ("after_cursor_execute", _after), ("handle_error", _error))


class Integration:
    """Wraps ``create_engine`` to listen to the statements of engines no driver integration sees."""

    identifier = "sqlalchemy"

    def __init__(self) -> None:
        self._patches = Patches()
        self._listening: list[Any] = []
        self._event: Any = None

    def setup(self, recorder: FlowRecorder, module: types.ModuleType) -> None:
        event = getattr(module, "event", None)
        engine_module = getattr(module, "engine", None)
        create_module = getattr(engine_module, "create", None)
        if event is None or not callable(getattr(create_module, "create_engine", None)):
            raise DidNotEnable("sqlalchemy has no event module or engine.create.create_engine")
        self._event = event
        listening = self._listening

        def watch(engine: Any) -> None:
            dbapi = getattr(getattr(engine, "dialect", None), "dbapi", None)
            driver = _DRIVERS.get(str(getattr(dbapi, "__name__", "")).split(".")[0])
            if driver is not None and driver in recorder.enabled:
                return  # its statements reach the driver's integration
            for name, listener in _LISTENERS:
                event.listen(engine, name, listener)
            listening.append(engine)

        def wrap(original: Any) -> Any:
            def create_engine(*args: Any, **kwargs: Any) -> Any:
                engine = original(*args, **kwargs)
                try:
                    watch(engine)
                except Exception:  # an engine we cannot listen to: its statements go unseen
                    _flow.count_error("flow.sqlalchemy")
                return engine

            create_engine.__wrapped__ = original  # type: ignore[attr-defined]
            create_engine.__doc__ = original.__doc__
            return create_engine

        # Every name it is called by: ``sqlalchemy.create_engine``, ``sqlalchemy.engine.create_engine``,
        # the module's own (``engine_from_config``) and the asyncio extension's, when loaded.
        self._patches.replace(create_module, "create_engine", wrap)
        for owner in (module, engine_module):
            if getattr(owner, "create_engine", None) is not None:
                self._patches.replace(owner, "create_engine", wrap)
        asyncio_engine = sys.modules.get("sqlalchemy.ext.asyncio.engine")
        if asyncio_engine is not None and getattr(asyncio_engine, "_create_engine", None) is not None:
            self._patches.replace(asyncio_engine, "_create_engine", wrap)

    def teardown(self) -> None:
        self._patches.restore()
        while self._listening:
            engine = self._listening.pop()
            for name, listener in _LISTENERS:
                if self._event.contains(engine, name, listener):
                    self._event.remove(engine, name, listener)
