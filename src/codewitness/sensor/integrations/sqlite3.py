"""sqlite3: the statements a flow runs through the standard library's SQLite driver.

``sqlite3.Connection`` and ``Cursor`` are built-in types whose methods cannot be replaced, so
``sqlite3.connect`` (and ``sqlite3.dbapi2.connect``, which SQLAlchemy calls) is wrapped to make
connections of a subclass whose cursors report each ``execute``, ``executemany`` and
``executescript``: the statement, its time, and ``rowcount`` where SQLite knows it (writes).
A ``factory`` the application passes is subclassed the same way. Connections made before the
sensor started are not seen.
"""

from __future__ import annotations

import types
from typing import Any

from codewitness.sensor import flow as _flow
from codewitness.sensor.flow import FlowRecorder
from codewitness.sensor.integrations import DidNotEnable
from codewitness.sensor.integrations._dbapi import report
from codewitness.sensor.integrations._patch import Patches
from codewitness.sensor.meter import now

__all__ = ["Integration"]

SYSTEM = "sqlite"


def _make_cursor(base: Any) -> type:
    class Cursor(base):  # type: ignore[misc]
        """A cursor that reports its statements to the current flow."""

        def execute(self, sql: Any, parameters: Any = (), /) -> Any:
            flow = _flow._current.get()
            if flow is None or flow.outer:
                return base.execute(self, sql, parameters)
            t0 = now()
            try:
                result = base.execute(self, sql, parameters)
            except BaseException:
                report(flow, SYSTEM, sql, t0, -1, True)
                raise
            report(flow, SYSTEM, sql, t0, self.rowcount, False)
            return result

        def executemany(self, sql: Any, seq_of_parameters: Any, /) -> Any:
            flow = _flow._current.get()
            if flow is None or flow.outer:
                return base.executemany(self, sql, seq_of_parameters)
            t0 = now()
            try:
                result = base.executemany(self, sql, seq_of_parameters)
            except BaseException:
                report(flow, SYSTEM, sql, t0, -1, True)
                raise
            report(flow, SYSTEM, sql, t0, self.rowcount, False)
            return result

        def executescript(self, sql_script: Any, /) -> Any:
            flow = _flow._current.get()
            if flow is None or flow.outer:
                return base.executescript(self, sql_script)
            t0 = now()
            try:
                result = base.executescript(self, sql_script)
            except BaseException:
                report(flow, SYSTEM, sql_script, t0, -1, True)
                raise
            report(flow, SYSTEM, sql_script, t0, -1, False)
            return result

    Cursor.__qualname__ = Cursor.__name__ = f"Flow{base.__name__}"
    Cursor.__module__ = base.__module__
    return Cursor


class Integration:
    """Wraps ``sqlite3.connect``."""

    identifier = "sqlite3"

    def __init__(self) -> None:
        self._patches = Patches()

    def setup(self, recorder: FlowRecorder, module: types.ModuleType) -> None:
        connection_type, cursor_type = getattr(module, "Connection", None), getattr(module, "Cursor", None)
        if not (isinstance(connection_type, type) and isinstance(cursor_type, type)):
            raise DidNotEnable("sqlite3 has no Connection or Cursor type")
        plain_cursor = _make_cursor(cursor_type)
        cursors: dict[type, type] = {cursor_type: plain_cursor}
        connections: dict[type, type] = {}

        def cursor_for(factory: Any) -> Any:
            if not isinstance(factory, type) or not issubclass(factory, cursor_type):
                return factory  # a callable we cannot subclass: its cursors go unseen
            found = cursors.get(factory)
            if found is None and not getattr(factory, "_codewitness_flow", False):
                found = cursors.setdefault(factory, _make_cursor(factory))
                found._codewitness_flow = True  # type: ignore[attr-defined]
            return found or factory

        def connection_for(base: Any) -> type:
            found = connections.get(base)
            if found is not None:
                return found

            class FlowConnection(base):  # type: ignore[misc]
                def cursor(self, factory: Any = cursor_type) -> Any:
                    if factory is cursor_type:  # the usual case (SQLAlchemy's too): no lookup
                        return base.cursor(self, plain_cursor)
                    return base.cursor(self, cursor_for(factory))

                def execute(self, sql: Any, parameters: Any = (), /) -> Any:
                    cursor = self.cursor()
                    cursor.execute(sql, parameters)
                    return cursor

                def executemany(self, sql: Any, seq_of_parameters: Any, /) -> Any:
                    cursor = self.cursor()
                    cursor.executemany(sql, seq_of_parameters)
                    return cursor

                def executescript(self, sql_script: Any, /) -> Any:
                    cursor = self.cursor()
                    cursor.executescript(sql_script)
                    return cursor

            FlowConnection.__module__ = base.__module__
            return connections.setdefault(base, FlowConnection)

        def wrap(original: Any) -> Any:
            def connect(*args: Any, **kwargs: Any) -> Any:
                if len(args) <= 5:  # ``factory`` is the sixth positional parameter
                    factory = kwargs.get("factory", connection_type)
                    if isinstance(factory, type) and issubclass(factory, connection_type):
                        kwargs["factory"] = connection_for(factory)
                return original(*args, **kwargs)

            connect.__wrapped__ = original  # type: ignore[attr-defined]
            connect.__doc__ = original.__doc__
            return connect

        self._patches.replace(module, "connect", wrap)
        dbapi2 = getattr(module, "dbapi2", None)
        if isinstance(dbapi2, types.ModuleType) and getattr(dbapi2, "connect", None) is not None:
            self._patches.replace(dbapi2, "connect", wrap)

    def teardown(self) -> None:
        self._patches.restore()
