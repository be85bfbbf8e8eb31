"""Attribution caches: blame rows by ``(path, blob id)``, commit metadata by commit id, and any
per-blob analysis (function spans, complexity) by ``(kind, blob id)``.

Everything cached is derived from immutable git objects, so an entry never goes stale by
itself; the engine still checks that a cached blame's commits are in the revision's history.
:class:`MemoryCache` lasts one run; :func:`codewitness.attribution.storecache.store_cache` keeps
entries in the codewitness store (tables ``attr_blame``, ``attr_commit``, ``attr_blob``; migration
``m0003``). This module never imports the store's: reading the cache from memory never loads
SQLAlchemy.

Example:
    >>> cache = MemoryCache()
    >>> cache.save_blames({("a.py", "b0"): [BlameRow("c" * 40, "a.py", 1)]})
    >>> cache.load_blames([("a.py", "b0")])[("a.py", "b0")][0].orig_line
    1
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from codewitness._git import BlameRow, CommitInfo

__all__ = [
    "AttributionCache",
    "BlameKey",
    "BlameRow",
    "MemoryCache",
    "commit_from_dict",
    "commit_to_dict",
    "decode_blame",
    "encode_blame",
]

BlameKey = tuple[str, str]


class AttributionCache(Protocol):
    """What the engine needs from a cache. Loads return only what is present."""

    def load_blames(self, keys: Sequence[BlameKey]) -> dict[BlameKey, list[BlameRow]]: ...

    def save_blames(self, items: Mapping[BlameKey, list[BlameRow]]) -> None: ...

    def load_commits(self, shas: Sequence[str]) -> dict[str, CommitInfo]: ...

    def save_commits(self, infos: Iterable[CommitInfo]) -> None: ...

    def load_blobs(self, kind: str, oids: Sequence[str]) -> dict[str, Any]: ...

    def save_blobs(self, kind: str, items: Mapping[str, Any]) -> None: ...


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


class MemoryCache:
    """A cache that lives as long as the object (one run, or one test)."""

    def __init__(self) -> None:
        self.blames: dict[BlameKey, str] = {}
        self.commits: dict[str, CommitInfo] = {}
        self.blobs: dict[tuple[str, str], str] = {}

    def load_blames(self, keys: Sequence[BlameKey]) -> dict[BlameKey, list[BlameRow]]:
        return {k: decode_blame(self.blames[k]) for k in keys if k in self.blames}

    def save_blames(self, items: Mapping[BlameKey, list[BlameRow]]) -> None:
        for key, rows in items.items():
            self.blames[key] = encode_blame(rows)

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
