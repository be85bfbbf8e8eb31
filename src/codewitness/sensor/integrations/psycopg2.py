"""psycopg2: the statements a flow runs through ``psycopg2``.

psycopg2's connection and cursor are built-in types whose methods cannot be replaced, so
``psycopg2.connect`` is wrapped to make connections of a subclass (of the application's own
``connection_factory``, when it gives one) whose cursors -- of any ``cursor_factory`` --
report each ``execute`` and ``executemany``: the statement, its time and ``rowcount``.
Connections made before the sensor started are not seen.
"""

from __future__ import annotations

import types
from typing import Any

from codewitness.sensor.flow import FlowRecorder
from codewitness.sensor.integrations import DidNotEnable
from codewitness.sensor.integrations._dbapi import wrap_execute
from codewitness.sensor.integrations._patch import Patches

__all__ = ["Integration"]

SYSTEM = "postgresql"


class Integration:
    """Wraps ``psycopg2.connect``."""

    identifier = "psycopg2"

    def __init__(self) -> None:
        self._patches = Patches()

    def setup(self, recorder: FlowRecorder, module: types.ModuleType) -> None:
        extensions = getattr(module, "extensions", None)
        connection_type: Any = getattr(extensions, "connection", None)
        cursor_type: Any = getattr(extensions, "cursor", None)
        if not (isinstance(connection_type, type) and isinstance(cursor_type, type)):
            raise DidNotEnable("psycopg2.extensions has no connection or cursor type")
        make_execute = wrap_execute(SYSTEM)
        cursors: dict[type, type] = {}
        connections: dict[type, type] = {}

        def cursor_for(factory: Any) -> type:
            found = cursors.get(factory)
            if found is None:
                found = type(
                    factory.__name__,
                    (factory,),
                    {
                        "execute": make_execute(factory.execute),
                        "executemany": make_execute(factory.executemany),
                        "__module__": factory.__module__,
                        "_codewitness_flow": True,
                    },
                )
                found = cursors.setdefault(factory, found)
            return found

        def connection_for(base: Any) -> type:
            found = connections.get(base)
            if found is not None:
                return found

            class FlowConnection(base):  # type: ignore[misc]
                def cursor(self, *args: Any, **kwargs: Any) -> Any:
                    factory = kwargs.get("cursor_factory") or self.cursor_factory or cursor_type
                    ours = getattr(factory, "_codewitness_flow", False)
                    if isinstance(factory, type) and issubclass(factory, cursor_type) and not ours:
                        kwargs["cursor_factory"] = cursor_for(factory)
                    return base.cursor(self, *args, **kwargs)

            FlowConnection.__module__ = base.__module__
            return connections.setdefault(base, FlowConnection)

        def wrap(original: Any) -> Any:
            def connect(
                dsn: Any = None, connection_factory: Any = None, cursor_factory: Any = None, **kwargs: Any
            ) -> Any:
                factory = connection_factory or connection_type
                if isinstance(factory, type) and issubclass(factory, connection_type):
                    connection_factory = connection_for(factory)
                return original(dsn, connection_factory=connection_factory, cursor_factory=cursor_factory, **kwargs)

            connect.__wrapped__ = original  # type: ignore[attr-defined]
            connect.__doc__ = original.__doc__
            return connect

        self._patches.replace(module, "connect", wrap)

    def teardown(self) -> None:
        self._patches.restore()
