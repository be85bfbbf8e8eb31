"""Sensor records as the sensor writes them, for tests that fill a store with runtime facts.

Each function returns one record dict (``kind``, ``id`` and the source fields), ready for
:func:`codewitness.ingest.ingest_batch`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from codewitness.facts import Histogram
from codewitness.ingest import IngestResult, ingest_batch
from codewitness.store import Store

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def source(function: str, *, origin: str = "ai", service: str = "shop", revision: str = "r1", **extra: Any) -> dict:
    """The fields every record of a function carries."""
    return {
        "id": uuid.uuid4().hex,
        "service": service,
        "revision": revision,
        "host": "h1",
        "pid": 42,
        "function": function,
        "origin": origin,
        "ai_share": 1.0 if origin == "ai" else 0.0,
        "generation_ids": ["gen_1"] if origin == "ai" else [],
        "models": ["claude-sonnet-4-5"] if origin == "ai" else [],
        "path": "shop/pricing.py",
        "line": 10,
        **extra,
    }


def aggregate(
    function: str, latencies_ns: list[int], errors: dict[str, int] | None = None, start: datetime = T0, **kw: Any
) -> dict:
    """One interval: ``len(latencies_ns)`` calls, ``errors`` by type."""
    hist = Histogram()
    for ns in latencies_ns:
        hist.record(ns)
    return {
        **source(function, **kw),
        "kind": "aggregate",
        "start": start.isoformat(),
        "end": (start + timedelta(seconds=10)).isoformat(),
        "calls": len(latencies_ns),
        "errors": errors or {},
        "histogram": hist.to_json(),
        "total_ns": sum(latencies_ns),
        "max_ns": max(latencies_ns),
    }


def exception(function: str, message: str, when: datetime = T0, **kw: Any) -> dict:
    """One captured exception with its arguments."""
    return {
        **source(function, **kw),
        "kind": "exception",
        "time": when.isoformat(),
        "type": "ValueError",
        "message": message,
        "stack": [{"file": "shop/pricing.py", "line": 14, "function": function}],
        "arguments": {"sku": "x"},
    }


def breach(function: str, rule: str, when: datetime = T0, **kw: Any) -> dict:
    """One broken invariant."""
    return {
        **source(function, **kw),
        "kind": "breach",
        "time": when.isoformat(),
        "rule": rule,
        "rule_kind": "ensure",
        "expression": "result <= paid",
        "arguments": {"amount": 1500, "paid": 1000},
        "result": 1500,
    }


def invariant(function: str, rule: str, passed: int, breached: int, when: datetime = T0, **kw: Any) -> dict:
    """One interval's pass and breach counts of a rule."""
    record = source(function, **kw)
    return {
        **{k: record[k] for k in ("id", "service", "revision", "host", "pid")},
        "kind": "invariant",
        "time": when.isoformat(),
        "function": function,
        "rule": rule,
        "rule_kind": "ensure",
        "expression": "result >= 0",
        "source": "decorator",
        "passed": passed,
        "breached": breached,
        "errors": 0,
    }


def review(function: str, when: datetime = T0, **kw: Any) -> dict:
    """One sampled call waiting for a verdict (with the exact encoding of its input)."""
    return {
        **source(function, **kw),
        "kind": "review",
        "time": when.isoformat(),
        "rule": "",
        "arguments": {"amount": 3},
        "result": 6,
        "input": {"amount": 3},
    }


def sample(
    function: str,
    arguments: Mapping[str, Any],
    result: Any = None,
    *,
    when: datetime = T0,
    shape: str | None = None,
    **kw: Any,
) -> dict:
    """One sampled call as the sensor keeps it: snapshot, exact encodings, shape (values JSON-plain
    or already encoded by :mod:`codewitness.sensor.exact`)."""
    from codewitness.sensor.exact import digest, encode, encode_arguments

    exact = encode_arguments(arguments)
    return {
        **source(function, **kw),
        "kind": "sample",
        "time": when.isoformat(),
        "duration_ns": 1_000,
        "arguments": {k: repr(v) for k, v in arguments.items()},
        "result": repr(result),
        "shape": shape or " ".join(f"{k}={type(v).__name__}" for k, v in arguments.items()),
        "shape_calls": 1,
        "input": exact,
        "input_digest": digest(exact),
        "output": {"ok": encode(result)},
    }


def flow(route: str = "/orders/{order_id}", statements: Iterable[str] = (), **extra: Any) -> dict:
    """The ``flow`` context of an event: a GET request of ``route`` that ran ``statements``."""
    return {
        "kind": "http",
        "id": uuid.uuid4().hex[:12],
        "method": "GET",
        "route": route,
        "function": "shop.api.order",
        "path_params": {"order_id": 7},
        "query": {"page": "2"},
        "in_flight": 1,
        "elapsed_ns": 1_500_000,
        "statements": [
            {"system": "sqlite", "statement": s, "duration_ns": 20_000, "rows": -1, "error": False} for s in statements
        ],
        "statements_dropped": 0,
        **extra,
    }


def route(
    route: str,
    latencies_ns: list[int],
    *,
    function: str | None = "shop.api.order",
    errors: int = 0,
    concurrency: dict[str, list[int]] | None = None,
    start: datetime = T0,
    **kw: Any,
) -> dict:
    """One interval of a route: ``len(latencies_ns)`` requests."""
    hist = Histogram()
    for ns in latencies_ns:
        hist.record(ns)
    fields = source(function or "x", **kw)
    if function is None:
        fields = {k: v for k, v in fields.items() if k in ("id", "service", "revision", "host", "pid")}
        fields["function"] = None
    return {
        **fields,
        "kind": "route",
        "start": start.isoformat(),
        "end": (start + timedelta(seconds=10)).isoformat(),
        "flow": "http",
        "method": "GET",
        "route": route,
        "requests": len(latencies_ns),
        "errors": errors,
        "statuses": {"2xx": len(latencies_ns) - errors, **({"5xx": errors} if errors else {})},
        "histogram": hist.to_json(),
        "total_ns": sum(latencies_ns),
        "max_ns": max(latencies_ns),
        "concurrency": concurrency if concurrency is not None else {"1": [len(latencies_ns), sum(latencies_ns)]},
    }


def dependency(
    statement: str,
    *,
    function: str | None = "shop.orders.load_items",
    route: str | None = "/orders/{order_id}",
    calls: int = 10,
    requests: int = 1,
    max_per_request: int | None = None,
    system: str = "sqlite",
    start: datetime = T0,
    **kw: Any,
) -> dict:
    """One interval of one statement issued by ``function`` in ``route``: ``calls`` runs over ``requests``."""
    fields = source(function or "x", **kw)
    if function is None:
        fields = {k: v for k, v in fields.items() if k in ("id", "service", "revision", "host", "pid")}
        fields["function"] = None
    per_request = max_per_request if max_per_request is not None else -(-calls // max(requests, 1))
    return {
        **fields,
        "kind": "dependency",
        "start": start.isoformat(),
        "end": (start + timedelta(seconds=10)).isoformat(),
        "route": route,
        "method": "GET",
        "system": system,
        "statement": statement,
        "fingerprint": uuid.uuid5(uuid.NAMESPACE_URL, statement).hex[:16],
        "calls": calls,
        "errors": 0,
        "total_ns": calls * 20_000,
        "max_ns": 40_000,
        "rows": 0,
        "requests": requests,
        "repeated": requests if per_request > 1 else 0,
        "max_per_request": per_request,
        "details": {},
    }


def unwatched(function: str, calls: int, mean_ns: int, when: datetime = T0, **kw: Any) -> dict:
    """The sensor stopped watching ``function`` at ``when``: ``calls`` calls at ``mean_ns`` the interval before."""
    return {
        **source(function, **kw),
        "kind": "unwatched",
        "time": when.isoformat(),
        "reason": "cheap",
        "calls": calls,
        "mean_ns": mean_ns,
    }


def ingest(store: Store, records: Iterable[Mapping[str, Any]]) -> IngestResult:
    """Load ``records`` into ``store`` through the one loader every ingest path shares."""
    return ingest_batch(store, records, source="test")
