"""psycopg (3): the statements a flow runs through ``psycopg``, sync and async.

``execute`` and ``executemany`` of ``Cursor``, ``AsyncCursor`` and the server-side cursors are
wrapped (the client-side and raw cursors inherit them; ``Connection.execute`` goes through a
cursor). Each reports the statement, its time and ``rowcount``. A statement composed with
``psycopg.sql`` is read through ``as_string()``.
"""

from __future__ import annotations

import types

from codewitness.sensor.flow import FlowRecorder
from codewitness.sensor.integrations import DidNotEnable
from codewitness.sensor.integrations._dbapi import wrap_async_execute, wrap_execute
from codewitness.sensor.integrations._patch import Patches

__all__ = ["Integration"]

SYSTEM = "postgresql"


class Integration:
    """Wraps the cursors' ``execute`` and ``executemany``."""

    identifier = "psycopg"

    def __init__(self) -> None:
        self._patches = Patches()

    def setup(self, recorder: FlowRecorder, module: types.ModuleType) -> None:
        sync_types = [getattr(module, name, None) for name in ("Cursor", "ServerCursor")]
        async_types = [getattr(module, name, None) for name in ("AsyncCursor", "AsyncServerCursor")]
        if not isinstance(sync_types[0], type):
            raise DidNotEnable("psycopg has no Cursor class")
        for cursor_type in sync_types:
            if isinstance(cursor_type, type):
                for method in ("execute", "executemany"):
                    if method in vars(cursor_type):
                        self._patches.replace(cursor_type, method, wrap_execute(SYSTEM))
        for cursor_type in async_types:
            if isinstance(cursor_type, type):
                for method in ("execute", "executemany"):
                    if method in vars(cursor_type):
                        self._patches.replace(cursor_type, method, wrap_async_execute(SYSTEM))

    def teardown(self) -> None:
        self._patches.restore()
