"""Incidents: exceptions and broken invariants grouped by fingerprint, tagged with the origin of the code.

A fingerprint is, for an exception, the failing function, the exception type and the top
:data:`TOP_FRAMES` frames of its stack (file name and function, innermost last; line numbers are
left out so an incident survives unrelated edits); for a breach, the function and the rule. The
incident id is derived from the fingerprint (``inc_`` and 16 hex digits), the same on every
machine that reads the same facts, so nothing but a person's tag needs storing.

Each incident carries its first and last occurrence, counts, the revisions and services that
reported it, the origin of the failing function (``ai``, ``mixed``, ``human``; generations and
models, from the sensor's manifest) and its latest tag. :func:`incident_detail` adds recent
samples with their inputs, the origin of every function on the stack (read from the repository's
attribution when there is one) and the blast radius. :func:`incident_stats` gives the incident rate
per 1,000 calls by month and origin -- the number a team calibrates its review of AI code with.

``count`` is how many times it happened: for an exception, the errors of that type the sensor
counted in the function (every call, not only the captured samples) when that function raises the
type from one place only; otherwise the captured events.

Example:
    >>> found = list_incidents(store, since=datetime(2026, 11, 1, tzinfo=UTC), origin="ai")  # doctest: +SKIP
    >>> [(i.id, i.function, i.key, i.count, i.origin) for i in found.incidents]  # doctest: +SKIP
    [('inc_2f1c...', 'app.calc.ratio', 'ZeroDivisionError', 100, 'ai')]
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

from codewitness.errors import CodewitnessError, InputError, NotFoundError
from codewitness.store.incidents import (
    EventGroup,
    Tag,
    breach_groups,
    breach_samples,
    calls_by_period,
    error_counts,
    exception_groups,
    exception_samples,
    tags,
)
from codewitness.views.problems import ORIGINS
from codewitness.views.reach import Reach, ReachJson, origin_label

if TYPE_CHECKING:
    from codewitness.attribution.cache import AttributionCache
    from codewitness.store import Store

__all__ = [
    "TOP_FRAMES",
    "Incident",
    "IncidentDetail",
    "IncidentJson",
    "IncidentList",
    "IncidentStats",
    "find_incident",
    "incident_detail",
    "incident_id",
    "incident_stats",
    "list_incidents",
]

#: How many innermost stack frames an exception's fingerprint includes.
TOP_FRAMES = 3


def _decoded(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def _frames(stack: Any) -> list[dict[str, Any]]:
    decoded = _decoded(stack)
    if not isinstance(decoded, list):
        return []
    return [f for f in decoded if isinstance(f, dict)]


def _top_frames(stack: Any) -> tuple[str, ...]:
    """The fingerprint's frames: ``function (file name)`` of the innermost :data:`TOP_FRAMES`."""
    return tuple(
        f"{f.get('function')} ({os.path.basename(str(f.get('file') or ''))})" for f in _frames(stack)[-TOP_FRAMES:]
    )


def incident_id(kind: str, function: str, key: str, frames: Sequence[str] = ()) -> str:
    """The id of the incident with this fingerprint (``kind`` is ``exception`` or ``breach``)."""
    text = "\x00".join((kind, function, key, *frames))
    return "inc_" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


class TagJson(TypedDict):
    """A person's verdict on an incident."""

    cause: str
    note: str | None
    link: str | None
    tagged_at: str


class IncidentJson(TypedDict):
    """One incident (an item of ``incidents --json``)."""

    id: str
    kind: str
    function: str
    key: str
    frames: list[str]
    path: str | None
    line: int | None
    first_seen: str
    last_seen: str
    count: int
    events: int
    revisions: list[str]
    services: list[str]
    origin: str
    ai_share: float
    generation_ids: list[str]
    models: list[str]
    tag: TagJson | None


def _tag_json(tag: Tag | None) -> TagJson | None:
    if tag is None:
        return None
    return {"cause": tag.cause, "note": tag.note, "link": tag.link, "tagged_at": tag.tagged_at.isoformat()}


@dataclass(frozen=True)
class Incident:
    """Exceptions (or breaches) of one fingerprint.

    Attributes:
        id: ``inc_`` and 16 hex digits, from the fingerprint.
        kind: ``exception`` or ``breach``.
        function: the failing function, ``module.qualname``.
        key: the exception type, or the broken rule.
        frames: the fingerprint's top frames (exceptions only).
        path: the failing function's file, as the sensor's manifest gave it.
        line: its first line.
        first_seen: the first occurrence.
        last_seen: the newest occurrence.
        count: how many times it happened (see the module docstring).
        events: how many occurrences were captured with their inputs.
        revisions: the revisions that reported it.
        services: the services that reported it.
        origin: the failing function's origin (``ai``, ``mixed``, ``human``, ``unknown``).
        ai_share: its AI share.
        generation_ids: the generations that wrote it.
        models: their models.
        tag: the newest tag a person gave it.
    """

    id: str
    kind: str
    function: str
    key: str
    frames: tuple[str, ...]
    path: str | None
    line: int | None
    first_seen: datetime
    last_seen: datetime
    count: int
    events: int
    revisions: tuple[str, ...]
    services: tuple[str, ...]
    origin: str
    ai_share: float
    generation_ids: tuple[str, ...]
    models: tuple[str, ...]
    tag: Tag | None = None

    def to_dict(self) -> IncidentJson:
        """The JSON form."""
        return {
            "id": self.id,
            "kind": self.kind,
            "function": self.function,
            "key": self.key,
            "frames": list(self.frames),
            "path": self.path,
            "line": self.line,
            "first_seen": self.first_seen.isoformat(),
            "last_seen": self.last_seen.isoformat(),
            "count": self.count,
            "events": self.events,
            "revisions": list(self.revisions),
            "services": list(self.services),
            "origin": self.origin,
            "ai_share": round(self.ai_share, 4),
            "generation_ids": list(self.generation_ids),
            "models": list(self.models),
            "tag": _tag_json(self.tag),
        }


@dataclass
class _Acc:
    kind: str
    function: str
    key: str
    frames: tuple[str, ...]
    newest: EventGroup
    first: datetime
    last: datetime
    events: int = 0
    revisions: set[str] = field(default_factory=set)
    services: set[str] = field(default_factory=set)


def _accumulate(groups: Iterable[tuple[str, EventGroup]]) -> dict[str, _Acc]:
    found: dict[str, _Acc] = {}
    for kind, g in groups:
        frames = _top_frames(g.stack) if kind == "exception" else ()
        key = incident_id(kind, g.function, g.key, frames)
        acc = found.get(key)
        if acc is None:
            acc = found[key] = _Acc(kind, g.function, g.key, frames, g, g.first, g.last)
        acc.events += g.count
        acc.first = min(acc.first, g.first)
        if g.last >= acc.last:
            acc.last, acc.newest = g.last, g
        if g.revision:
            acc.revisions.add(g.revision)
        acc.services.add(g.service)
    return found


def _incidents(store: Store, since: datetime | None) -> list[Incident]:
    accs = _accumulate(
        [("exception", g) for g in exception_groups(store, since=since)]
        + [("breach", g) for g in breach_groups(store, since=since)]
    )
    places: dict[tuple[str, str], int] = {}
    for acc in accs.values():
        if acc.kind == "exception":
            places[(acc.function, acc.key)] = places.get((acc.function, acc.key), 0) + 1
    # The sensor's counts of the functions that raised in one place only (the others keep their captures).
    alone = {function for (function, _), n in places.items() if n == 1}
    counted = (
        {(c.function, c.type): c.count for c in error_counts(store, since=since, functions=alone)} if alone else {}
    )
    latest = tags(store, list(accs)) if accs else {}
    result = []
    for key, acc in accs.items():
        count = acc.events
        if acc.kind == "exception" and places[(acc.function, acc.key)] == 1:
            count = max(count, counted.get((acc.function, acc.key), 0))
        g = acc.newest
        result.append(
            Incident(
                id=key,
                kind=acc.kind,
                function=acc.function,
                key=acc.key,
                frames=acc.frames,
                path=g.path,
                line=g.line,
                first_seen=acc.first,
                last_seen=acc.last,
                count=count,
                events=acc.events,
                revisions=tuple(sorted(acc.revisions)),
                services=tuple(sorted(acc.services)),
                origin=g.origin,
                ai_share=g.ai_share,
                generation_ids=tuple(_decoded(g.generation_ids) or ()),
                models=tuple(_decoded(g.models) or ()),
                tag=latest.get(key, [None])[0],
            )
        )
    result.sort(key=lambda i: (i.last_seen, i.count, i.id), reverse=True)
    return result


def _origin_matches(origin: str, wanted: str | None) -> bool:
    if wanted is None or wanted == "any":
        return True
    if wanted == "ai":
        return origin in ("ai", "mixed")
    return origin == wanted


class IncidentListJson(TypedDict):
    """The ``incidents --json`` document."""

    since: str | None
    origin: str | None
    incidents: list[IncidentJson]
    total: int
    note: str | None


@dataclass(frozen=True)
class IncidentList:
    """Incidents, newest first.

    Attributes:
        since: the start of the window (``None``: everything stored).
        origin: the origin filter (``ai`` includes ``mixed``).
        incidents: the incidents kept (at most ``limit``).
        total: how many matched before ``limit``.
        note: why the list is empty, when it is.
    """

    since: datetime | None
    origin: str | None
    incidents: tuple[Incident, ...]
    total: int
    note: str | None = None

    def to_dict(self) -> IncidentListJson:
        """The JSON form."""
        return {
            "since": self.since.isoformat() if self.since else None,
            "origin": self.origin,
            "incidents": [i.to_dict() for i in self.incidents],
            "total": self.total,
            "note": self.note,
        }


def _check_origin(origin: str | None) -> None:
    if origin is not None and origin not in ORIGINS:
        raise InputError(f"origin is one of {', '.join(ORIGINS)}; not {origin!r}")


def list_incidents(
    store: Store, *, since: datetime | None = None, origin: str | None = None, limit: int | None = None
) -> IncidentList:
    """Incidents with an occurrence at or after ``since``, newest first.

    Raises:
        InputError: an unknown origin or a limit below 1.
    """
    _check_origin(origin)
    if limit is not None and limit < 1:
        raise InputError(f"--limit must be at least 1; got {limit}")
    found = [i for i in _incidents(store, since) if _origin_matches(i.origin, origin)]
    note = None
    if not found:
        when = f" since {since.isoformat()}" if since else ""
        which = f" of {origin} code" if origin and origin != "any" else ""
        note = (
            f"no exceptions or broken invariants{which}{when}: incidents come from the runtime sensor "
            "(codewitness run -- python app.py, then codewitness ingest)"
        )
    kept = found if limit is None else found[:limit]
    return IncidentList(since=since, origin=origin, incidents=tuple(kept), total=len(found), note=note)


class FrameJson(TypedDict):
    """One frame of an incident's stack, with the origin of its function."""

    file: str
    line: int | None
    function: str
    path: str | None
    qualname: str | None
    origin: str
    ai_share: float | None
    generation_ids: list[str]
    models: list[str]


class SampleJson(TypedDict):
    """One captured occurrence, with its inputs and the request it happened in (``flow``: route,
    path parameters, query, and the statements that ran before it; ``None`` outside a request)."""

    time: str
    revision: str | None
    service: str
    message: str | None
    arguments: Any
    result: Any
    flow: dict[str, Any] | None


class IncidentDetailJson(TypedDict):
    """The ``incidents show --json`` document."""

    incident: IncidentJson
    stack: list[FrameJson]
    samples: list[SampleJson]
    reach: ReachJson | None
    tags: list[TagJson]
    note: str | None


@dataclass(frozen=True)
class IncidentDetail:
    """One incident in full.

    Attributes:
        incident: the incident.
        stack: every frame of its newest sample, with the origin of the function there
            (``unknown`` when neither the repository nor the runtime facts say).
        samples: recent occurrences with their (redacted) inputs, newest first.
        reach: the failing function's blast radius (``None`` without a repository).
        tags: every tag, newest first.
        note: what could not be read (no repository, a revision not here).
    """

    incident: Incident
    stack: tuple[FrameJson, ...]
    samples: tuple[SampleJson, ...]
    reach: Reach | None
    tags: tuple[Tag, ...]
    note: str | None = None

    def to_dict(self) -> IncidentDetailJson:
        """The JSON form."""
        tagged = [_tag_json(t) for t in self.tags]
        return {
            "incident": self.incident.to_dict(),
            "stack": list(self.stack),
            "samples": list(self.samples),
            "reach": self.reach.to_dict() if self.reach else None,
            "tags": [t for t in tagged if t is not None],
            "note": self.note,
        }


def find_incident(store: Store, wanted: str) -> Incident:
    """The incident with id ``wanted`` (or a unique prefix of at least 6 characters).

    Raises:
        InputError: an empty or ambiguous id.
        NotFoundError: no such incident.
    """
    text = wanted.strip()
    if not text:
        raise InputError("name an incident: its id (inc_...) from `codewitness incidents`")
    everything = _incidents(store, None)
    exact = [i for i in everything if i.id == text]
    if exact:
        return exact[0]
    prefixed = [i for i in everything if i.id.startswith(text)] if len(text) >= 6 else []
    if len(prefixed) == 1:
        return prefixed[0]
    if len(prefixed) > 1:
        raise InputError(f"{text} is the start of {len(prefixed)} incident ids; give more of it")
    raise NotFoundError(f"no incident {text}: list them with `codewitness incidents`")


def _samples(store: Store, incident: Incident, limit: int) -> tuple[list[SampleJson], list[dict[str, Any]]]:
    """Up to ``limit`` samples, and the newest sample's stack frames."""
    from codewitness.store.flows import event_flows

    samples: list[SampleJson] = []
    ids: list[str] = []
    stack: list[dict[str, Any]] = []
    if incident.kind == "exception":
        for row in exception_samples(store, incident.function, incident.key):
            if _top_frames(row["stack"]) != incident.frames:
                continue
            if not stack:
                stack = _frames(row["stack"])
            samples.append(
                {
                    "time": row["time"].isoformat(),
                    "revision": row["revision"],
                    "service": row["service"],
                    "message": row["message"],
                    "arguments": _decoded(row["arguments"]),
                    "result": None,
                    "flow": None,
                }
            )
            ids.append(row["id"])
            if len(samples) >= limit:
                break
    else:
        for row in breach_samples(store, incident.function, incident.key, limit=limit):
            samples.append(
                {
                    "time": row["time"].isoformat(),
                    "revision": row["revision"],
                    "service": row["service"],
                    "message": f"{row['rule_kind']} {row['expression']}"
                    + (f": {row['detail']}" if row["detail"] else ""),
                    "arguments": _decoded(row["arguments"]),
                    "result": _decoded(row["result"]),
                    "flow": None,
                }
            )
            ids.append(row["id"])
    flows = event_flows(store, ids)
    for sample, event_id in zip(samples, ids, strict=True):
        sample["flow"] = flows.get(event_id)
    return samples, stack


def _deploy_prefix(stack: Sequence[Mapping[str, Any]], incident: Incident) -> str | None:
    """Where the repository was on the machine that ran it: the failing function's frame file
    minus the function's repository-relative path."""
    if not incident.path:
        return None
    name = incident.function.rsplit(".", 1)[-1]
    for frame in stack:
        file = str(frame.get("file") or "")
        if file.endswith("/" + incident.path) and frame.get("function") == name:
            return file[: -len(incident.path)]
    return None


def _stack_origins(
    store: Store,
    stack: Sequence[Mapping[str, Any]],
    incident: Incident,
    root: Path | None,
    cache: AttributionCache | None,
) -> list[FrameJson]:
    from codewitness.views.function import function_context

    prefixes = [p for p in (_deploy_prefix(stack, incident), f"{root}/" if root else None) if p]
    seen: dict[tuple[str, int], FrameJson] = {}
    frames: list[FrameJson] = []
    for frame in stack:
        file = str(frame.get("file") or "")
        line = frame.get("line") if isinstance(frame.get("line"), int) else None
        function = str(frame.get("function") or "")
        rel = next((file[len(p) :] for p in prefixes if file.startswith(p)), None)
        entry: FrameJson = {
            "file": file,
            "line": line,
            "function": function,
            "path": rel,
            "qualname": None,
            "origin": "unknown",
            "ai_share": None,
            "generation_ids": [],
            "models": [],
        }
        if rel is not None and line is not None and rel == incident.path and incident.function.endswith("." + function):
            entry["qualname"] = incident.function
            entry["origin"] = incident.origin
            entry["ai_share"] = round(incident.ai_share, 4)
            entry["generation_ids"] = list(incident.generation_ids)
            entry["models"] = list(incident.models)
        if root is not None and rel is not None and line is not None:
            known = seen.get((rel, line))
            if known is None:
                try:
                    ctx = function_context(store, f"{rel}:{line}", root=root, cache=cache)
                except CodewitnessError:
                    ctx = None
                if ctx is not None and ctx.origin is not None:
                    o = ctx.origin
                    entry["qualname"] = ctx.qualname
                    entry["origin"] = origin_label(o.ai_share)
                    entry["ai_share"] = round(o.ai_share, 4)
                    entry["generation_ids"] = list(o.generation_ids)
                    entry["models"] = list(o.models)
                seen[(rel, line)] = entry
            else:
                entry = {**known, "file": file, "function": function}
        frames.append(entry)
    return frames


def incident_detail(
    store: Store,
    wanted: str,
    *,
    root: Path | None = None,
    cache: AttributionCache | None = None,
    samples: int = 5,
) -> IncidentDetail:
    """One incident with its samples, the origin of every function on its stack, and its blast radius.

    Args:
        store: an open store.
        wanted: the incident id, or a unique prefix of at least 6 characters.
        root: the repository, for the origin of stack functions and the blast radius.
        cache: an attribution cache.
        samples: how many recent samples to include.

    Raises:
        InputError: an empty or ambiguous id.
        NotFoundError: no such incident.
    """
    incident = find_incident(store, wanted)
    found, stack = _samples(store, incident, samples)
    notes = []
    reached: Reach | None = None
    if root is None:
        notes.append("not inside the repository: stack origins come from runtime facts only, no blast radius")
    else:
        from codewitness.views.reach import reach

        try:
            reached = reach(root, [incident.function], cache=cache).get(incident.function)
        except CodewitnessError as exc:
            notes.append(f"blast radius not read: {exc}")
    origins = _stack_origins(store, stack, incident, root, cache)
    every_tag = tags(store, [incident.id]).get(incident.id, [])
    return IncidentDetail(
        incident=replace(incident, tag=every_tag[0] if every_tag else None),
        stack=tuple(origins),
        samples=tuple(found),
        reach=reached,
        tags=tuple(every_tag),
        note="; ".join(notes) or None,
    )


class StatsRowJson(TypedDict):
    """Incidents and calls of one origin in one month."""

    period: str
    origin: str
    incidents: int
    occurrences: int
    calls: int
    per_1k_calls: float | None


@dataclass(frozen=True)
class IncidentStats:
    """The incident rate per 1,000 calls, by month and origin (oldest month first).

    An incident counts in every month it occurred in, under the origin of its failing function.
    """

    rows: tuple[StatsRowJson, ...]
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {"rows": list(self.rows), "note": self.note}


def incident_stats(
    store: Store, *, since: datetime | None = None, by_month: bool = True, by_origin: bool = True
) -> IncidentStats:
    """Incidents per 1,000 calls, per month and/or origin (``ai`` and ``mixed`` stay apart)."""
    incidents: dict[tuple[str, str], set[str]] = {}
    occurrences: dict[tuple[str, str], int] = {}
    groups = [("exception", g) for g in exception_groups(store, since=since, by_month=True)]
    groups += [("breach", g) for g in breach_groups(store, since=since, by_month=True)]
    for kind, g in groups:
        frames = _top_frames(g.stack) if kind == "exception" else ()
        key = ((g.period or "") if by_month else "all", g.origin if by_origin else "all")
        incidents.setdefault(key, set()).add(incident_id(kind, g.function, g.key, frames))
        occurrences[key] = occurrences.get(key, 0) + g.count
    calls: dict[tuple[str, str], int] = {}
    for row in calls_by_period(store, since=since):
        key = (row.period if by_month else "all", row.origin if by_origin else "all")
        calls[key] = calls.get(key, 0) + row.calls
    rows: list[StatsRowJson] = []
    for key in sorted({*incidents, *calls}):
        n, c = len(incidents.get(key, ())), calls.get(key, 0)
        rows.append(
            {
                "period": key[0],
                "origin": key[1],
                "incidents": n,
                "occurrences": occurrences.get(key, 0),
                "calls": c,
                "per_1k_calls": round(n * 1000 / c, 4) if c else None,
            }
        )
    note = None if rows else "no runtime facts yet: run the app with the sensor, then `codewitness ingest`"
    return IncidentStats(rows=tuple(rows), note=note)
