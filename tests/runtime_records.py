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


def ingest(store: Store, records: Iterable[Mapping[str, Any]]) -> IngestResult:
    """Load ``records`` into ``store`` through the one loader every ingest path shares."""
    return ingest_batch(store, records, source="test")
