"""Ingest takes each record shape of the format as it is written, refuses a record missing what its
shape requires (alone, with the reason), and loads a decoded batch counting its unreadable lines.

The hostile values (integers beyond their columns, bad times, deep nesting) are in
``test_ingest_hostile.py``; generated segments in ``test_ingest_fuzz.py``.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import pytest
from sqlalchemy import func, select

from codewitness.facts import SHAPES, Kind, decode_batch, encode_batch
from codewitness.ingest import UNREADABLE, ingest_batch
from codewitness.store import Store
from codewitness.store.runtime import TABLES
from tests.runtime_records import T0, aggregate, breach, exception, invariant, review, source


def full_record(kind: Kind) -> dict[str, Any]:
    """A record of ``kind`` with every field its shape names."""
    when = T0.isoformat()
    if kind is Kind.AGGREGATE:
        return aggregate("shop.quote", [1_000, 2_000])
    if kind is Kind.EXCEPTION:
        return exception("shop.quote", "bad sku")
    if kind is Kind.SAMPLE:
        return {
            **source("shop.quote"),
            "kind": "sample",
            "time": when,
            "duration_ns": 5,
            "arguments": {},
            "result": 1,
            "shape": "",
            "shape_calls": 1,
            "source": "sensor",
            "input": {},
            "input_digest": "0" * 32,
            "output": {"ok": 1},
            "output_unkept": "",
            "not_replayable": "",
        }
    if kind is Kind.HEALTH:
        fields = {k: v for k, v in source("x").items() if k in ("id", "service", "revision", "host", "pid")}
        return {
            **fields,
            "kind": "sensor",
            "start": when,
            "end": when,
            "dropped_events": 1,
            "suppressed_exceptions": 0,
            "internal_errors": {"check": 1},
            "exporters": {},
        }
    if kind is Kind.BREACH:
        return {**breach("shop.refund", "cap"), "mode": "record", "detail": None}
    if kind is Kind.INVARIANT:
        return invariant("shop.refund", "cap", passed=3, breached=1)
    return {**review("shop.pay"), "not_replayable": ""}


@pytest.mark.parametrize("kind", list(Kind), ids=str)
def test_a_record_of_each_shape_is_stored_and_every_field_it_requires_is_required(store: Store, kind: Kind) -> None:
    shape = SHAPES[kind]
    record = full_record(kind)
    assert set(record) == shape.__required_keys__ | shape.__optional_keys__
    result = ingest_batch(store, [record], source="test")
    assert (result.inserted, result.bad, result.by_kind) == (1, 0, {kind.value: 1}), result.reasons
    for key in sorted(shape.__required_keys__):
        lacking = {k: v for k, v in record.items() if k != key} | {"id": uuid.uuid4().hex}
        if key == "id":
            lacking.pop("id")
        result = ingest_batch(store, [lacking], source="test")
        assert result.bad == 1, f"{kind}: a record without {key!r} was stored"
        if key != "histogram":  # without its histogram, an aggregate's calls cannot be checked either
            assert result.reasons == {f"missing field {key!r}": 1}
    for key in sorted(shape.__optional_keys__):
        lacking = {k: v for k, v in record.items() if k != key} | {"id": uuid.uuid4().hex}
        result = ingest_batch(store, [lacking], source="test")
        assert (result.inserted, result.bad) == (1, 0), f"{kind} without {key!r}: {result.reasons}"


def test_a_decoded_batch_counts_its_unreadable_lines_after_the_refused_records(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    good, bad = aggregate("shop.quote", [1_000]), {**aggregate("shop.quote", [1_000]), "calls": -1}
    body = encode_batch([good, bad]).data + b"not json\n" + b'{"kind": "aggregate"}\n'
    with caplog.at_level(logging.DEBUG, logger="codewitness.ingest"):
        result = ingest_batch(store, decode_batch(body), source="http 127.0.0.1")
    assert (result.inserted, result.bad) == (1, 3)
    assert list(result.reasons.items()) == [("calls: not an integer from 0 to 2**63-1", 1), (UNREADABLE, 2)]
    assert "http 127.0.0.1: 3 record(s) refused" in caplog.text
    with store.read() as conn:
        assert conn.execute(select(func.count()).select_from(TABLES[Kind.AGGREGATE])).scalar() == 1
    again = ingest_batch(store, decode_batch(body), source="http 127.0.0.1")
    assert (again.inserted, again.duplicates, again.bad) == (0, 1, 3)


def test_the_same_record_twice_in_one_batch_is_stored_once(store: Store) -> None:
    record = aggregate("shop.quote", [1_000])
    result = ingest_batch(store, [record, dict(record)], source="test")
    assert (result.inserted, result.duplicates) == (1, 1)
