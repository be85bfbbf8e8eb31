"""Attribution caches: blame rows by ``(path, blob id)``, commit metadata by commit id, and any
per-blob analysis (function spans, complexity) by ``(kind, blob id)``.

Everything cached is derived from immutable git objects, so an entry never goes stale by
itself; the engine still checks that a cached blame's commits are in the revision's history.
:class:`MemoryCache` lasts one run; :class:`StoreCache` keeps entries in the codewitness store
(tables ``attr_blame``, ``attr_commit``, ``attr_blob``; migration ``m0003``).

Example:
    >>> cache = MemoryCache()
    >>> cache.save_blames({("a.py", "b0"): [BlameRow("c" * 40, "a.py", 1)]})
    >>> cache.load_blames([("a.py", "b0")])[("a.py", "b0")][0].orig_line
    1
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from codewitness._git import BlameRow, CommitInfo

if TYPE_CHECKING:
    from codewitness.store import Store

__all__ = ["AttributionCache", "BlameKey", "BlameRow", "MemoryCache", "store_cache"]

BlameKey = tuple[str, str]


class AttributionCache(Protocol):
    """What the engine needs from a cache. Loads return only what is present."""

    def load_blames(self, keys: Sequence[BlameKey]) -> dict[BlameKey, list[BlameRow]]: ...

    def save_blames(self, items: Mapping[BlameKey, list[BlameRow]]) -> None: ...

    def load_commits(self, shas: Sequence[str]) -> dict[str, CommitInfo]: ...

    def save_commits(self, infos: Iterable[CommitInfo]) -> None: ...

    def load_blobs(self, kind: str, oids: Sequence[str]) -> dict[str, Any]: ...

    def save_blobs(self, kind: str, items: Mapping[str, Any]) -> None: ...


class MemoryCache:
    """A cache that lives as long as the object (one run, or one test)."""

    def __init__(self) -> None:
        self.blames: dict[BlameKey, tuple[BlameRow, ...]] = {}
        self.commits: dict[str, CommitInfo] = {}
        self.blobs: dict[tuple[str, str], str] = {}

    def load_blames(self, keys: Sequence[BlameKey]) -> dict[BlameKey, list[BlameRow]]:
        return {k: list(self.blames[k]) for k in keys if k in self.blames}

    def save_blames(self, items: Mapping[BlameKey, list[BlameRow]]) -> None:
        for key, rows in items.items():
            self.blames[key] = tuple(rows)

    def load_commits(self, shas: Sequence[str]) -> dict[str, CommitInfo]:
        return {s: self.commits[s] for s in shas if s in self.commits}

    def save_commits(self, infos: Iterable[CommitInfo]) -> None:
        for info in infos:
            self.commits[info.sha] = info

    def load_blobs(self, kind: str, oids: Sequence[str]) -> dict[str, Any]:
        return {o: json.loads(self.blobs[(kind, o)]) for o in oids if (kind, o) in self.blobs}

    def save_blobs(self, kind: str, items: Mapping[str, Any]) -> None:
        for oid, value in items.items():
            self.blobs[(kind, oid)] = json.dumps(value)


def store_cache(store: Store) -> AttributionCache:
    """A cache kept in the codewitness store (see :mod:`codewitness.attribution._storecache`).

    The store's module is imported here, on first use: reading the cache from memory never
    loads SQLAlchemy.
    """
    from codewitness.attribution._storecache import StoreCache

    return StoreCache(store)
