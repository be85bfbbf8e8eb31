"""SQLAlchemy: the statements a flow runs through an engine whose driver has no integration of its own.

``create_engine`` is wrapped. An engine whose driver another enabled integration already watches
(sqlite3, psycopg, psycopg2: the statements SQLAlchemy compiled reach them) is left alone. On any
other engine (pymysql, mysqlclient, oracledb, asyncpg, ...) the dialect's ``do_execute``,
``do_executemany`` and ``do_execute_no_params`` -- the calls SQLAlchemy makes to hand each
statement to the driver -- are wrapped on that engine's dialect object: the statement as
SQLAlchemy compiled it (placeholders, never the values), its time, ``rowcount``, and the dialect
as the system (``mysql``, ``oracle``, ...). Statement event listeners would see the same, but an
engine with listeners takes a slower path on every statement (about 10 µs more, measured by
``benchmarks/flow_overhead.py``). While SQLAlchemy reports a statement a driver integration stays
quiet, so a query is counted once either way. Engines made before the sensor started are not
seen here (their driver's integration may still see them).
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable
from typing import Any

from codewitness.sensor import flow as _flow
from codewitness.sensor.flow import FlowRecorder
from codewitness.sensor.integrations import DidNotEnable
from codewitness.sensor.integrations._dbapi import report
from codewitness.sensor.integrations._patch import Patches
from codewitness.sensor.meter import now

__all__ = ["Integration"]

#: The dialect methods through which SQLAlchemy hands every statement to the driver.
_DIALECT_CALLS = ("do_execute", "do_executemany", "do_execute_no_params")


def _reporting(original: Callable[..., Any], system: str) -> Callable[..., Any]:
    """``original`` (a dialect's bound ``do_execute``, ...) reporting each statement to the current flow."""

    def run(cursor: Any, statement: Any, *args: Any) -> Any:
        flow = _flow._current.get()
        if flow is None:
            return original(cursor, statement, *args)
        t0 = now()
        flow.outer += 1  # the driver's own integration, if any, stays quiet
        try:
            result = original(cursor, statement, *args)
        except BaseException:
            flow.outer -= 1
            report(flow, system, statement, t0, -1, True)
            raise
        flow.outer -= 1
        report(flow, system, statement, t0, getattr(cursor, "rowcount", -1), False)
        return result

    run.__wrapped__ = original  # type: ignore[attr-defined]
    return run


#: The driver integrations, by the top-level name of the DB-API module they watch.
_DRIVERS = {"sqlite3": "sqlite3", "psycopg": "psycopg", "psycopg2": "psycopg2"}


class Integration:
    """Wraps ``create_engine`` to see the statements of engines no driver integration sees."""

    identifier = "sqlalchemy"

    def __init__(self) -> None:
        self._patches = Patches()
        self._dialects: list[Any] = []

    def setup(self, recorder: FlowRecorder, module: types.ModuleType) -> None:
        engine_module = getattr(module, "engine", None)
        create_module = getattr(engine_module, "create", None)
        if not callable(getattr(create_module, "create_engine", None)):
            raise DidNotEnable("sqlalchemy has no engine.create.create_engine")
        dialects = self._dialects

        def watch(engine: Any) -> None:
            dialect = getattr(engine, "dialect", None)
            dbapi = getattr(dialect, "dbapi", None)
            driver = _DRIVERS.get(str(getattr(dbapi, "__name__", "")).split(".")[0])
            if driver is not None and driver in recorder.enabled:
                return  # its statements reach the driver's integration
            if dialect is None or "do_execute" in vars(dialect):
                return  # no dialect, or one wrapped already (an engine sharing it)
            system = str(getattr(dialect, "name", "sql"))
            for name in _DIALECT_CALLS:
                setattr(dialect, name, _reporting(getattr(dialect, name), system))
            dialects.append(dialect)

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
        while self._dialects:
            dialect = self._dialects.pop()
            for name in _DIALECT_CALLS:
                vars(dialect).pop(name, None)  # the class's method shows through again
