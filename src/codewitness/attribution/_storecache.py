"""The attribution cache kept in the codewitness store (tables from migration ``m0003``).

Blame rows are stored as compact JSON (:func:`encode_blame`), commit metadata as a small dict
(:func:`commit_to_dict`).

Example:
    >>> rows = [BlameRow("c" * 40, "a.py", 1), BlameRow("c" * 40, "a.py", 2)]
    >>> decode_blame(encode_blame(rows)) == rows
    True
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from codewitness._git import BlameRow, CommitInfo
from codewitness.model import utcnow
from codewitness.store import Store, schema

__all__ = ["StoreCache", "commit_from_dict", "commit_to_dict", "decode_blame", "encode_blame"]

_CHUNK = 400
_T = TypeVar("_T")
#: ``(path, blob id)``: the key of one file's blame.
_BlameKey = tuple[str, str]


def encode_blame(rows: Sequence[BlameRow]) -> str:
    """Rows as compact JSON: runs of consecutive original lines of one commit and path."""
    commits: dict[str, int] = {}
    paths: dict[str, int] = {}
    runs: list[list[int]] = []
    for row in rows:
        c = commits.setdefault(row.commit, len(commits))
        p = paths.setdefault(row.orig_path, len(paths))
        last = runs[-1] if runs else None
        if last is not None and last[0] == c and last[1] == p and last[2] + last[3] == row.orig_line:
            last[3] += 1
        else:
            runs.append([c, p, row.orig_line, 1])
    return json.dumps({"c": list(commits), "p": list(paths), "r": runs}, separators=(",", ":"))


def decode_blame(text: str) -> list[BlameRow]:
    """Inverse of :func:`encode_blame`."""
    data = json.loads(text)
    commits, paths = data["c"], data["p"]
    rows: list[BlameRow] = []
    for c, p, start, count in data["r"]:
        commit, path = commits[c], paths[p]
        rows.extend(BlameRow(commit, path, start + i) for i in range(count))
    return rows


def commit_to_dict(info: CommitInfo) -> dict[str, Any]:
    """A JSON-ready form of :class:`CommitInfo`."""
    return {
        "a": info.author,
        "t": info.author_time,
        "c": info.committer,
        "m": info.message,
        "p": list(info.parents),
    }


def commit_from_dict(sha: str, data: Mapping[str, Any]) -> CommitInfo:
    """Inverse of :func:`commit_to_dict`."""
    return CommitInfo(
        sha=sha,
        author=data["a"],
        author_time=int(data["t"]),
        committer=data["c"],
        message=data["m"],
        parents=tuple(data.get("p", ())),
    )


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

    def load_blames(self, keys: Sequence[_BlameKey]) -> dict[_BlameKey, list[BlameRow]]:
        found: dict[_BlameKey, str] = {}
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

    def save_blames(self, items: Mapping[_BlameKey, list[BlameRow]]) -> None:
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

