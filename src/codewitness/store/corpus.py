"""The replay corpus in the store: one row per (function, distinct input).

Rows come from four places, named in ``source``:

* ``sample`` and ``pytest`` -- ingested samples (the sensor, ``pytest --codewitness-record``),
  absorbed as they are written (:func:`absorb_samples`, called by :mod:`codewitness.store.runtime`
  in the same transaction): an input seen again adds to ``seen`` and ``last_seen``;
* ``review`` -- a review item marked wrong (:func:`add_entry` from
  :func:`codewitness.store.invariants.mark_review`), with the corrected expectation when the
  reviewer gave one;
* ``user`` -- ``codewitness corpus add``.

An input is identified by the digest of its exact encoding (``input_hash``); an input without one
(not replayable) by the digest of its redacted snapshot, so that it is counted once, with its reason.

Example:
    >>> entries = corpus_entries(store, functions=["shop.pricing.total"])  # doctest: +SKIP
    >>> [(e.source, e.seen, e.replayable) for e in entries]  # doctest: +SKIP
    [('sample', 40, True), ('user', 1, True)]
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, select

from codewitness.errors import InputError
from codewitness.model import utcnow
from codewitness.store import Store, schema

__all__ = [
    "SOURCES",
    "CorpusEntry",
    "absorb_samples",
    "add_entry",
    "corpus_counts",
    "corpus_entries",
    "entry_id",
    "input_hash",
    "prune",
]

#: Where a corpus entry came from.
SOURCES = ("sample", "pytest", "review", "user")
#: The most revisions remembered per entry (the newest).
_REVISIONS = 20
_CHUNK = 500


def _canonical(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _digest(data: Any) -> str:
    return hashlib.sha256(_canonical(data).encode("utf-8", "surrogatepass")).hexdigest()[:32]


def input_hash(exact: Mapping[str, Any] | None, arguments: Any) -> str:
    """The identity of an input: its exact encoding's digest, else ``~`` and its snapshot's."""
    return _digest(exact) if exact is not None else "~" + _digest(arguments)[:31]


def entry_id(function: str, hashed: str) -> str:
    """The row id of (function, input)."""
    return hashlib.sha256(f"{function}\0{hashed}".encode()).hexdigest()[:32]


@dataclass(frozen=True)
class CorpusEntry:
    """One input of one function.

    Attributes:
        input: the exact encoding of the arguments by name, or ``None`` (not replayable).
        arguments: the redacted snapshot, for people.
        not_replayable: why there is no exact encoding.
        observed: the output seen when the input was captured (``{"ok": encoding}``), if kept.
        expect: an expected outcome given by a person (``{"ok": ...}`` or ``{"raised": ...}``).
        expect_source: ``corrected`` (a reviewer) or ``user`` (``corpus add``).
        revisions: the revisions the input was seen at, newest last.
    """

    id: str
    function: str
    input_hash: str
    source: str
    shape: str | None
    input: dict[str, Any] | None
    arguments: Any
    not_replayable: str | None
    observed: dict[str, Any] | None
    expect: dict[str, Any] | None
    expect_source: str | None
    revisions: tuple[str, ...]
    seen: int
    first_seen: datetime
    last_seen: datetime
    note: str | None

    @property
    def replayable(self) -> bool:
        """Whether the input can be rebuilt for a replay."""
        return self.input is not None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``corpus show --json``)."""
        return {
            "id": self.id,
            "function": self.function,
            "input_hash": self.input_hash,
            "source": self.source,
            "shape": self.shape,
            "replayable": self.replayable,
            "not_replayable": self.not_replayable,
            "arguments": self.arguments,
            "input": self.input,
            "observed": self.observed,
            "expect": self.expect,
            "expect_source": self.expect_source,
            "revisions": list(self.revisions),
            "seen": self.seen,
            "first_seen": self.first_seen.isoformat(),
            "last_seen": self.last_seen.isoformat(),
            "note": self.note,
        }


def _entry(row: Mapping[Any, Any]) -> CorpusEntry:
    return CorpusEntry(
        id=row["id"],
        function=row["function"],
        input_hash=row["input_hash"],
        source=row["source"],
        shape=row["shape"],
        input=row["input"],
        arguments=row["arguments"],
        not_replayable=row["not_replayable"],
        observed=row["observed"],
        expect=row["expect"],
        expect_source=row["expect_source"],
        revisions=tuple(row["revisions"] or ()),
        seen=int(row["seen"]),
        first_seen=row["first_seen"],
        last_seen=row["last_seen"],
        note=row["note"],
    )


def _merged(revisions: Sequence[str], more: Iterable[str | None]) -> list[str]:
    out = [r for r in revisions if r]
    for revision in more:
        if revision and revision not in out:
            out.append(revision)
        elif revision:  # seen again: it moves to the end (the newest)
            out.remove(revision)
            out.append(revision)
    return out[-_REVISIONS:]


def absorb_samples(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> int:
    """Add freshly stored sample rows to the corpus (inside the caller's transaction).

    Each sample is one sighting of its input: a known input gains ``seen`` and ``last_seen``
    (and the revision), a new one becomes an entry. Returns how many entries were made.
    """
    grouped: dict[str, dict[str, Any]] = {}
    for row in rows:
        hashed = input_hash(row.get("input"), row.get("arguments"))
        key = entry_id(row["function"], hashed)
        group = grouped.get(key)
        if group is None:
            source = "pytest" if row.get("source") == "pytest" else "sample"
            grouped[key] = group = {
                "id": key,
                "function": row["function"],
                "input_hash": hashed,
                "source": source,
                "shape": row.get("shape"),
                "input": row.get("input"),
                "arguments": row.get("arguments") or {},
                "not_replayable": None if row.get("input") is not None else row.get("not_replayable"),
                "observed": row.get("output"),
                "expect": None,
                "expect_source": None,
                "revisions": [],
                "seen": 0,
                "first_seen": row["time"],
                "last_seen": row["time"],
                "note": None,
            }
        group["seen"] += 1
        group["first_seen"] = min(group["first_seen"], row["time"])
        if row["time"] >= group["last_seen"]:
            group["last_seen"] = row["time"]
            group["observed"] = row.get("output") or group["observed"]
        group["revisions"] = _merged(group["revisions"], [row.get("revision")])
    entries = schema.corpus_entries
    ids = list(grouped)
    existing: dict[str, Any] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        for found in conn.execute(select(entries).where(entries.c.id.in_(chunk))).mappings():
            existing[found["id"]] = found
    made = 0
    for key, group in grouped.items():
        old = existing.get(key)
        if old is None:
            conn.execute(entries.insert().values(**group))
            made += 1
            continue
        conn.execute(
            entries.update()
            .where(entries.c.id == key)
            .values(
                seen=old["seen"] + group["seen"],
                first_seen=min(old["first_seen"], group["first_seen"]),
                last_seen=max(old["last_seen"], group["last_seen"]),
                revisions=_merged(old["revisions"] or [], group["revisions"]),
                observed=group["observed"] if group["last_seen"] >= old["last_seen"] else old["observed"],
            )
        )
    return made


def add_entry(
    conn: Connection,
    *,
    function: str,
    source: str,
    input: Mapping[str, Any] | None,
    arguments: Any,
    not_replayable: str | None = None,
    expect: Mapping[str, Any] | None = None,
    expect_source: str | None = None,
    revision: str | None = None,
    note: str | None = None,
) -> CorpusEntry:
    """Add one input by hand or from a review (inside the caller's transaction).

    An input the corpus has already gains the expectation (a later one replaces an earlier one)
    and a sighting; a new one becomes an entry of ``source``.
    """
    if source not in SOURCES:
        raise InputError(f"a corpus source is one of {', '.join(SOURCES)}, not {source!r}")
    entries = schema.corpus_entries
    hashed = input_hash(input, arguments)
    key = entry_id(function, hashed)
    now = utcnow()
    old = conn.execute(select(entries).where(entries.c.id == key)).mappings().first()
    if old is None:
        conn.execute(
            entries.insert().values(
                id=key,
                function=function,
                input_hash=hashed,
                source=source,
                shape=None,
                input=dict(input) if input is not None else None,
                arguments=arguments,
                not_replayable=not_replayable if input is None else None,
                observed=None,
                expect=dict(expect) if expect is not None else None,
                expect_source=expect_source if expect is not None else None,
                revisions=[revision] if revision else [],
                seen=1,
                first_seen=now,
                last_seen=now,
                note=note,
            )
        )
    else:
        changes: dict[str, Any] = {"seen": old["seen"] + 1, "last_seen": now}
        if expect is not None:
            changes.update(expect=dict(expect), expect_source=expect_source)
        if note:
            changes["note"] = note
        conn.execute(entries.update().where(entries.c.id == key).values(**changes))
    found = conn.execute(select(entries).where(entries.c.id == key)).mappings().one()
    return _entry(found)


def corpus_entries(
    store: Store,
    *,
    functions: Sequence[str] | None = None,
    ids: Sequence[str] | None = None,
    replayable: bool | None = None,
) -> list[CorpusEntry]:
    """Entries of the named functions (all when ``None``), oldest first per function.

    Args:
        store: an open store.
        functions: exact ``module.qualname`` names.
        ids: entry ids or unique prefixes of at least 6 characters.
        replayable: only replayable (``True``) or only not replayable (``False``) entries.
    """
    entries = schema.corpus_entries
    query = select(entries).order_by(entries.c.function, entries.c.first_seen, entries.c.id)
    if functions is not None:
        query = query.where(entries.c.function.in_(list(functions)))
    if replayable is not None:
        query = query.where(entries.c.input.is_not(None) if replayable else entries.c.input.is_(None))
    with store.read() as conn:
        rows = [_entry(r) for r in conn.execute(query).mappings()]
    if ids is not None:
        rows = [r for r in rows if any(r.id.startswith(i) for i in ids)]
    return rows


def corpus_counts(store: Store) -> list[dict[str, Any]]:
    """Per function: entries, replayable entries, sightings, newest sighting, and entries by source."""
    entries = schema.corpus_entries
    query = (
        select(
            entries.c.function,
            entries.c.source,
            func.count().label("entries"),
            func.count(entries.c.input).label("replayable"),
            func.sum(entries.c.seen).label("seen"),
            func.max(entries.c.last_seen).label("last_seen"),
        )
        .group_by(entries.c.function, entries.c.source)
        .order_by(entries.c.function)
    )
    out: dict[str, dict[str, Any]] = {}
    with store.read() as conn:
        for r in conn.execute(query):
            row = out.setdefault(
                r.function,
                {"function": r.function, "entries": 0, "replayable": 0, "seen": 0, "last_seen": None, "sources": {}},
            )
            row["entries"] += int(r.entries)
            row["replayable"] += int(r.replayable)
            row["seen"] += int(r.seen or 0)
            row["sources"][r.source] = int(r.entries)
            if row["last_seen"] is None or r.last_seen > row["last_seen"]:
                row["last_seen"] = r.last_seen
    return list(out.values())


def prune(
    store: Store,
    *,
    functions: Sequence[str] | None = None,
    older_than: datetime | None = None,
    keep_per_shape: int | None = None,
    not_replayable: bool = False,
) -> int:
    """Delete sampled entries (``sample`` and ``pytest``; people's entries stay): those last seen
    before ``older_than``, those beyond the ``keep_per_shape`` most recently seen of their shape,
    and, with ``not_replayable``, those that cannot be replayed. Returns how many were deleted.

    Raises:
        InputError: no criterion was given.
    """
    if older_than is None and keep_per_shape is None and not not_replayable:
        raise InputError("say what to prune: --older-than, --keep-per-shape or --not-replayable")
    entries = schema.corpus_entries
    sampled = entries.c.source.in_(("sample", "pytest"))
    scope = [sampled] + ([entries.c.function.in_(list(functions))] if functions is not None else [])
    doomed: set[str] = set()
    with store.write() as conn:
        if older_than is not None:
            doomed.update(conn.execute(select(entries.c.id).where(*scope, entries.c.last_seen < older_than)).scalars())
        if not_replayable:
            doomed.update(conn.execute(select(entries.c.id).where(*scope, entries.c.input.is_(None))).scalars())
        if keep_per_shape is not None:
            kept: dict[tuple[str, str | None], int] = {}
            rows = conn.execute(
                select(entries.c.id, entries.c.function, entries.c.shape)
                .where(*scope)
                .order_by(entries.c.last_seen.desc(), entries.c.id)
            )
            for r in rows:
                key = (r.function, r.shape)
                kept[key] = kept.get(key, 0) + 1
                if kept[key] > keep_per_shape:
                    doomed.add(r.id)
        ids = sorted(doomed)
        for start in range(0, len(ids), _CHUNK):
            conn.execute(delete(entries).where(entries.c.id.in_(ids[start : start + _CHUNK])))
    return len(doomed)
