"""The attribution cache kept in the codewitness store (tables from migration ``m0003``).

Example:
    >>> with open_store(url) as store:  # doctest: +SKIP
    ...     report = build_report(root, cache=store_cache(store))
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from codewitness._git import BlameRow, CommitInfo
from codewitness.attribution.cache import (
    AttributionCache,
    BlameKey,
    commit_from_dict,
    commit_to_dict,
    decode_blame,
    encode_blame,
)
from codewitness.model import utcnow
from codewitness.store import Store, schema

__all__ = ["StoreCache", "store_cache"]

_CHUNK = 400
_T = TypeVar("_T")


def _chunks(items: Sequence[_T]) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


class StoreCache:
    """An :class:`~codewitness.attribution.cache.AttributionCache` over a :class:`Store`.

    Writes that race with another process (the same key inserted twice) are dropped: the
    other writer stored the same derived value.
    """

    def __init__(self, store: Store) -> None:
        self.store = store

    def load_blames(self, keys: Sequence[BlameKey]) -> dict[BlameKey, list[BlameRow]]:
        found: dict[BlameKey, str] = {}
        t = schema.attr_blame
        with self.store.read() as conn:
            for chunk in _chunks(list(keys)):
                blobs = sorted({blob for _, blob in chunk})
                wanted = set(chunk)
                rows = conn.execute(select(t.c.path, t.c.blob, t.c.data).where(t.c.blob.in_(blobs)).order_by(t.c.id))
                for path, blob, data in rows:
                    if (path, blob) in wanted:
                        found[(path, blob)] = data  # later rows (newer) win
        return {k: decode_blame(v) for k, v in found.items()}

    def save_blames(self, items: Mapping[BlameKey, list[BlameRow]]) -> None:
        now = utcnow()
        values = [
            {"path": path, "blob": blob, "data": encode_blame(rows), "created_at": now}
            for (path, blob), rows in items.items()
        ]
        if values:
            with self.store.write() as conn:
                conn.execute(schema.attr_blame.insert(), values)

    def load_commits(self, shas: Sequence[str]) -> dict[str, CommitInfo]:
        t = schema.attr_commit
        out: dict[str, CommitInfo] = {}
        with self.store.read() as conn:
            for chunk in _chunks(list(shas)):
                for sha, data in conn.execute(select(t.c.commit, t.c.data).where(t.c.commit.in_(chunk))):
                    out[sha] = commit_from_dict(sha, json.loads(data))
        return out

    def save_commits(self, infos: Iterable[CommitInfo]) -> None:
        now = utcnow()
        values = {i.sha: {"commit": i.sha, "data": json.dumps(commit_to_dict(i)), "created_at": now} for i in infos}
        self._insert_new(schema.attr_commit, "commit", values)

    def load_blobs(self, kind: str, oids: Sequence[str]) -> dict[str, Any]:
        t = schema.attr_blob
        out: dict[str, Any] = {}
        with self.store.read() as conn:
            for chunk in _chunks(list(oids)):
                query = select(t.c.blob, t.c.data).where(t.c.kind == kind, t.c.blob.in_(chunk))
                for blob, data in conn.execute(query):
                    out[blob] = json.loads(data)
        return out

    def save_blobs(self, kind: str, items: Mapping[str, Any]) -> None:
        now = utcnow()
        values = {
            oid: {"kind": kind, "blob": oid, "data": json.dumps(value), "created_at": now}
            for oid, value in items.items()
        }
        self._insert_new(schema.attr_blob, "blob", values, kind=kind)

    def _insert_new(self, table: Any, key: str, values: dict[str, dict[str, Any]], kind: str | None = None) -> None:
        if not values:
            return
        try:
            with self.store.write() as conn:
                present: set[str] = set()
                for chunk in _chunks(list(values)):
                    query = select(table.c[key]).where(table.c[key].in_(chunk))
                    if kind is not None:
                        query = query.where(table.c.kind == kind)
                    present.update(conn.execute(query).scalars())
                fresh = [v for k, v in values.items() if k not in present]
                if fresh:
                    conn.execute(table.insert(), fresh)
        except IntegrityError:
            pass  # another process cached the same immutable facts first


def store_cache(store: Store) -> AttributionCache:
    """A cache kept in ``store`` for the attribution engine (``build_report(..., cache=...)``)."""
    return StoreCache(store)
