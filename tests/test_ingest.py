"""Ingest takes each record shape of the format as it is written, refuses a record missing what its
shape requires (alone, with the reason), and loads a decoded batch counting its unreadable lines.

The hostile values (integers beyond their columns, bad times, deep nesting) are in
``test_ingest_hostile.py``; generated segments in ``test_ingest_fuzz.py``.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from codewitness.facts import SHAPES, Kind, decode_batch, encode_batch
from codewitness.ingest import UNREADABLE, ingest_batch, ingest_spool
from codewitness.store import Store
from codewitness.store.runtime import TABLES
from tests.runtime_records import (
    T0,
    aggregate,
    breach,
    dependency,
    exception,
    flow,
    invariant,
    review,
    route,
    source,
    unwatched,
)


def full_record(kind: Kind) -> dict[str, Any]:
    """A record of ``kind`` with every field its shape names."""
    when = T0.isoformat()
    context = flow(statements=["SELECT 1"], path="/orders/7")
    if kind is Kind.AGGREGATE:
        return aggregate("shop.quote", [1_000, 2_000])
    if kind is Kind.EXCEPTION:
        return {**exception("shop.quote", "bad sku"), "fingerprint": "5d41402abc4b2a76", "count": 3, "flow": context}
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
            "flow": context,
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
        return {**breach("shop.refund", "cap"), "mode": "record", "detail": None, "flow": context}
    if kind is Kind.INVARIANT:
        return invariant("shop.refund", "cap", passed=3, breached=1)
    if kind is Kind.ROUTE:
        return route("/orders/{order_id}", [1_000_000, 2_000_000])
    if kind is Kind.DEPENDENCY:
        return dependency("SELECT name FROM items WHERE id = ?")
    if kind is Kind.UNWATCHED:
        return unwatched("shop.cents", calls=12_000, mean_ns=180)
    return {**review("shop.pay"), "not_replayable": "", "flow": context}


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


def _spool_records(n: int, start: int = 0) -> list[dict[str, Any]]:
    return [aggregate("shop.quote", [1_000 * (i + 1)]) for i in range(start, start + n)]


def test_ingest_deletes_the_segments_it_stored_that_their_writer_has_finished(store: Store, tmp_path: Path) -> None:
    from codewitness.sensor.export import Spool

    folder = tmp_path / "spool"
    finished = Spool(folder, max_bytes=1 << 20, segment_bytes=1024)
    finished.export(_spool_records(20))  # past segment_bytes: closed at once
    live = Spool(folder, max_bytes=1 << 20, segment_bytes=1 << 20)
    live.export(_spool_records(3, start=100))  # open, and held by its writer
    assert len(list(folder.glob("seg-*.jsonl"))) == 2
    total, segments = ingest_spool(store, folder, delete=True)
    assert (segments, total.inserted, total.deleted) == (2, 23, 1)
    (left,) = folder.glob("seg-*.jsonl")
    live.export(_spool_records(2, start=200))  # the live segment is still being written
    total, segments = ingest_spool(store, folder, delete=True)
    assert (segments, total.inserted, total.duplicates, total.deleted) == (1, 2, 3, 0)
    assert left.exists()
    live.close()  # the writer is done with it: the next ingest stores what is new and deletes it
    live.export(_spool_records(1, start=300))  # a new segment, open
    total, segments = ingest_spool(store, folder, delete=True)
    assert (segments, total.inserted, total.deleted) == (2, 1, 1)
    assert not left.exists()
    assert [p.name for p in folder.iterdir() if not p.name.startswith("seg-")] == []  # no hidden leftovers
    total, _ = ingest_spool(store, folder)  # without delete: nothing goes
    assert total.deleted == 0 and len(list(folder.glob("seg-*.jsonl"))) == 1
    live.close()
    with store.read() as conn:
        assert conn.execute(select(func.count()).select_from(TABLES[Kind.AGGREGATE])).scalar() == 26


def test_a_segment_another_process_writes_is_kept_until_it_ends(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "spool"
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sys
                from codewitness.sensor.export import Spool
                from tests.runtime_records import aggregate
                spool = Spool({str(folder)!r}, max_bytes=1 << 20, segment_bytes=1 << 20)
                spool.export([aggregate("shop.quote", [1000])])
                print("written", flush=True)
                sys.stdin.readline()
                spool.export([aggregate("shop.quote", [2000])])
                """
            ),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "written"
        total, _ = ingest_spool(store, folder, delete=True)
        assert (total.inserted, total.deleted) == (1, 0)
        assert writer.stdin is not None
        writer.stdin.write("go\n")
        writer.stdin.flush()
        assert writer.wait(timeout=60) == 0
    finally:
        writer.kill()
        writer.communicate()
    total, _ = ingest_spool(store, folder, delete=True)  # its writer ended: nothing was lost, and it goes
    assert (total.inserted, total.duplicates, total.deleted) == (1, 1, 1)
    assert list(folder.iterdir()) == []
