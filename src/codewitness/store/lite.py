"""A read-only look into a SQLite store through the standard library's ``sqlite3`` alone.

Opening a :class:`~codewitness.store.Store` imports SQLAlchemy and checks the migrations, which
costs more than a short command's whole answer. ``codewitness blame`` on a warm attribution
cache only reads a few rows, so it reads them here. :func:`open_readonly` answers ``None``
whenever the full store must decide instead -- not SQLite, no file yet, a schema that is not
exactly this version's (a migration pending, or a newer codewitness) -- and the caller then
opens the store as usual.

Example:
    >>> conn = open_readonly("sqlite:////tmp/no-such-witness.db")
    >>> conn is None
    True
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["blame_rows", "blob_rows", "commit_rows", "open_readonly", "sqlite_path"]

# pathlib, urllib and re are left out: the agent hook opens the store through here before every edit.
_CHUNK = 400
_BUSY_TIMEOUT_S = 10.0


def sqlite_path(url: str) -> Path | None:
    """The file of a plain ``sqlite:///path`` URL; ``None`` for anything else (other databases,
    URLs with a query, in-memory databases)."""
    from pathlib import Path

    found = _sqlite_file(url)
    return None if found is None else Path(found)


def _sqlite_file(url: str) -> str | None:
    prefix = "sqlite:///"
    if not url.startswith(prefix) or "?" in url:
        return None
    path = url[len(prefix) :]
    if not path or path == ":memory:":
        return None
    return os.path.expanduser(path)


def _is_migration(name: str) -> bool:
    """``mNNNN_slug`` (lower-case letters, digits and underscores), as the migrations package names them."""
    return (
        len(name) > 6
        and name[0] == "m"
        and name[1:5].isascii()
        and name[1:5].isdigit()
        and name[5] == "_"
        and all(c == "_" or (c.isascii() and (c.isdigit() or c.islower())) for c in name[6:])
    )


def _shipped_migrations() -> frozenset[str]:
    folder = os.path.join(os.path.dirname(__file__), "migrations")
    names = (name.removesuffix(".py") for name in os.listdir(folder) if name.endswith(".py"))
    return frozenset(name for name in names if _is_migration(name))


def _uri(path: str) -> str:
    """A read-only ``file:`` URI for ``path`` (the characters a URI gives meaning to escaped)."""
    kept = "/._-~"
    escaped = "".join(
        c if (c.isascii() and c.isalnum()) or c in kept else "".join(f"%{b:02X}" for b in c.encode()) for c in path
    )
    return f"file:{escaped}?mode=ro"


def open_readonly(url: str, *, timeout: float = _BUSY_TIMEOUT_S) -> sqlite3.Connection | None:
    """A read-only connection to the SQLite store at ``url``, or ``None`` when the full store must open it.

    ``None`` when ``url`` is not a plain SQLite file URL, the file does not exist or cannot be
    read, or its applied migrations are not exactly the ones this version ships. ``timeout`` is
    how long a read waits for a lock (seconds).
    """
    path = _sqlite_file(url)
    if path is None or not os.path.isfile(path):
        return None
    try:
        conn = sqlite3.connect(_uri(path), uri=True, timeout=timeout)
    except sqlite3.Error:
        return None
    try:
        applied = frozenset(row[0] for row in conn.execute("SELECT id FROM cw_migrations"))
    except sqlite3.Error:
        conn.close()
        return None
    if applied != _shipped_migrations():
        conn.close()
        return None
    return conn


def _chunks(items: Sequence[str]) -> list[Sequence[str]]:
    return [items[i : i + _CHUNK] for i in range(0, len(items), _CHUNK)]


def blame_rows(conn: sqlite3.Connection, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """Encoded blame rows of ``attr_blame`` by ``(path, blob)``; the newest row of a key wins."""
    wanted = set(keys)
    found: dict[tuple[str, str], str] = {}
    for chunk in _chunks(sorted({blob for _, blob in keys})):
        marks = ",".join("?" * len(chunk))
        query = f"SELECT path, blob, data FROM attr_blame WHERE blob IN ({marks}) ORDER BY id"  # noqa: S608 - only placeholders
        for path, blob, data in conn.execute(query, tuple(chunk)):
            if (path, blob) in wanted:
                found[(path, blob)] = data
    return found


def commit_rows(conn: sqlite3.Connection, shas: Sequence[str]) -> dict[str, str]:
    """Encoded commit metadata of ``attr_commit`` by commit id."""
    found: dict[str, str] = {}
    for chunk in _chunks(list(shas)):
        marks = ",".join("?" * len(chunk))
        query = f'SELECT "commit", data FROM attr_commit WHERE "commit" IN ({marks})'  # noqa: S608 - only placeholders
        found.update(conn.execute(query, tuple(chunk)))
    return found


def blob_rows(conn: sqlite3.Connection, kind: str, oids: Sequence[str]) -> dict[str, str]:
    """Encoded per-blob analyses of ``attr_blob`` of one ``kind`` by blob id."""
    found: dict[str, str] = {}
    for chunk in _chunks(list(oids)):
        marks = ",".join("?" * len(chunk))
        query = f"SELECT blob, data FROM attr_blob WHERE kind = ? AND blob IN ({marks})"  # noqa: S608 - only placeholders
        found.update(conn.execute(query, (kind, *chunk)))
    return found
