"""The attribution cache for short commands: read with ``sqlite3``, written through the full store.

:func:`open_cache` gives the cache a command should use for a database URL. For a SQLite store
whose schema is current, reads go through :mod:`codewitness.store.lite` (no SQLAlchemy); the
first write opens the store as usual, so a warm cache answers without loading the database
layer and a cold one fills the cache exactly as :class:`~codewitness.attribution.storecache.StoreCache` does.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from codewitness._git import BlameRow, CommitInfo
from codewitness.attribution.cache import AttributionCache, BlameKey, commit_from_dict, decode_blame
from codewitness.store import lite

if TYPE_CHECKING:
    from codewitness.store import Store

__all__ = ["LiteCache", "open_cache"]


class LiteCache:
    """An :class:`~codewitness.attribution.cache.AttributionCache`: reads on a read-only ``sqlite3``
    connection, writes through a :class:`~codewitness.store.Store` opened on the first write."""

    def __init__(self, conn: sqlite3.Connection, url: str) -> None:
        self._conn = conn
        self._url = url
        self._store: Store | None = None
        self._writer: AttributionCache | None = None

    def _write(self) -> AttributionCache:
        if self._writer is None:
            from codewitness.attribution.storecache import store_cache
            from codewitness.store import open_store

            self._store = open_store(self._url)
            self._writer = store_cache(self._store)
        return self._writer

    def load_blames(self, keys: Sequence[BlameKey]) -> dict[BlameKey, list[BlameRow]]:
        return {k: decode_blame(v) for k, v in lite.blame_rows(self._conn, keys).items()}

    def save_blames(self, items: Mapping[BlameKey, list[BlameRow]]) -> None:
        self._write().save_blames(items)

    def load_commits(self, shas: Sequence[str]) -> dict[str, CommitInfo]:
        return {s: commit_from_dict(s, json.loads(v)) for s, v in lite.commit_rows(self._conn, shas).items()}

    def save_commits(self, infos: Iterable[CommitInfo]) -> None:
        self._write().save_commits(infos)

    def load_blobs(self, kind: str, oids: Sequence[str]) -> dict[str, Any]:
        return {o: json.loads(v) for o, v in lite.blob_rows(self._conn, kind, oids).items()}

    def save_blobs(self, kind: str, items: Mapping[str, Any]) -> None:
        self._write().save_blobs(kind, items)

    def close(self) -> None:
        """Close the reader and, if one was opened, the store."""
        self._conn.close()
        if self._store is not None:
            self._store.close()


@contextmanager
def open_cache(url: str) -> Iterator[AttributionCache]:
    """The attribution cache in the store at ``url``, closed on exit.

    Raises:
        StoreError: the store cannot be opened (only when it must be: a non-SQLite URL, a new
            file, a schema to migrate, or a first write).
    """
    conn = lite.open_readonly(url)
    if conn is not None:
        cache = LiteCache(conn, url)
        try:
            yield cache
        finally:
            cache.close()
        return
    from codewitness.attribution.storecache import store_cache
    from codewitness.store import open_store

    store = open_store(url)
    try:
        yield store_cache(store)
    finally:
        store.close()
