"""The store: one database URL selects SQLite (default) or PostgreSQL.

SQLite runs in WAL mode with a busy timeout; writes go through one writer (``BEGIN IMMEDIATE``,
serialised within a process by a lock) in batched transactions, and readers use read-only
connections. PostgreSQL needs the ``postgres`` extra. Opening a store applies any pending
migrations, so an old database upgrades in place (:mod:`codewitness.store.database`).

SQLAlchemy is imported when a name below is first used, not with the package: a short command
that only reads a SQLite file (``codewitness blame`` on a warm attribution cache) goes through
:mod:`codewitness.store.lite` and the standard library's ``sqlite3`` alone.

Example:
    >>> store = open_store("sqlite:////tmp/example-witness.db")  # doctest: +SKIP
    >>> with store.write() as conn:  # doctest: +SKIP
    ...     conn.execute(schema.prompts.insert().values(...))
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing and importlib are imported when needed: the agent hook reads the store through here
if TYPE_CHECKING:
    from typing import Any

    from codewitness.store import migrations as migrations
    from codewitness.store import schema as schema
    from codewitness.store.database import BUSY_TIMEOUT_MS as BUSY_TIMEOUT_MS
    from codewitness.store.database import Store as Store
    from codewitness.store.database import _first_line as _first_line
    from codewitness.store.database import open_store as open_store

__all__ = ["Store", "open_store", "schema"]

_FROM_DATABASE = frozenset({"BUSY_TIMEOUT_MS", "Store", "_first_line", "open_store"})
_SUBMODULES = frozenset({"migrations", "schema"})


def __getattr__(name: str) -> Any:
    import importlib

    if name in _FROM_DATABASE:
        return getattr(importlib.import_module("codewitness.store.database"), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"codewitness.store.{name}")
    raise AttributeError(f"module 'codewitness.store' has no attribute {name!r}")
