"""Generated spool segments of good records mixed with malformed ones, through the real spool
reader into SQLite and PostgreSQL: ingest never raises, every good record of the segment is
stored, every malformed one is refused and counted, and what was stored reads back.

Malformed: a required field missing or of the wrong type, integers beyond their column
(2**63, 2**31 for 32-bit columns, negative counts), histogram buckets out of range or not numbers,
NaN and infinities where numbers are counted, times out of range, free-form values nested too
deep, unreadable lines. Extra keys, NaN in free-form values, lone surrogates and NUL in text are
not malformed: those records must be stored.
"""

from __future__ import annotations

import itertools
import json
import math
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from codewitness.facts import LAST_BUCKET
from codewitness.ingest import ingest_spool
from codewitness.store import Store, schema
from codewitness.store.queries import summarize

TABLES = {
    "aggregate": schema.runtime_aggregates,
    "exception": schema.runtime_exceptions,
    "sample": schema.runtime_samples,
    "sensor": schema.runtime_sensor_health,
    "breach": schema.runtime_breaches,
    "invariant": schema.runtime_invariant_counts,
    "review": schema.review_items,
}
INT64 = 2**63 - 1
INT32 = 2**31 - 1
_EXAMPLE = itertools.count()

# -- good records ----------------------------------------------------------------------------

texts = st.text(max_size=20) | st.sampled_from(["lone \udc80 surrogate", "nul \x00 here", "[/red] markup"])
names = st.text(min_size=1, max_size=30) | st.sampled_from(["shop.\udcffquote", "a\x00b"])
free = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**100), 2**100) | st.floats() | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=8,
)
times = st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31), timezones=st.just(UTC)).map(
    lambda t: t.isoformat()
) | st.sampled_from(["2026-11-01T12:00:00", "2026-11-01T12:00:00+05:30", "2026-11-01 12:00:00.123456-08:00"])
counts64 = st.integers(0, INT64)


@st.composite
def source(draw: st.DrawFn, kind: str) -> dict[str, Any]:
    return {
        "kind": kind,
        "service": draw(names),
        "revision": draw(st.none() | texts),
        "host": draw(names),
        "pid": draw(st.integers(-(2**31), INT32)),
    }


@st.composite
def function_fields(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "function": draw(names),
        "origin": draw(st.sampled_from(["ai", "human", "mixed", "unknown", None])),
        "ai_share": draw(st.floats(0.0, 1.0) | st.sampled_from([0, 1, None])),
        "generation_ids": draw(st.lists(texts, max_size=3)),
        "models": draw(st.lists(texts, max_size=2)),
        "path": draw(st.none() | texts),
        "line": draw(st.none() | st.integers(0, INT32)),
    }


@st.composite
def good_record(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(sorted(TABLES)))
    record = draw(source(kind))
    if kind in ("aggregate", "exception", "sample", "breach", "review"):
        record.update(draw(function_fields()))
    if kind == "aggregate":
        histogram = draw(st.dictionaries(st.integers(0, LAST_BUCKET).map(str), st.integers(0, 2**60), max_size=5))
        record.update(
            start=draw(times),
            end=draw(times),
            calls=sum(histogram.values()),
            errors=draw(st.dictionaries(texts, st.integers(0, 2**60), max_size=4)),
            histogram=histogram,
            total_ns=draw(counts64),
            max_ns=draw(counts64),
        )
    elif kind == "exception":
        record.update(
            time=draw(times),
            type=draw(names),
            message=draw(texts),
            stack=draw(st.lists(free, max_size=3)),
            arguments=draw(st.dictionaries(texts, free, max_size=3)),
        )
    elif kind == "sample":
        record.update(time=draw(times), duration_ns=draw(counts64), arguments=draw(st.dictionaries(texts, free)))
        record["result"] = draw(free)
    elif kind == "sensor":
        record.update(start=draw(times), end=draw(times), dropped_events=draw(counts64))
        record["internal_errors"] = draw(st.dictionaries(texts, free, max_size=2))
    elif kind == "breach":
        record.update(time=draw(times), rule=draw(names), rule_kind=draw(st.sampled_from(["ensure", "require"])))
        record.update(expression=draw(texts), arguments=draw(st.dictionaries(texts, free)), result=draw(free))
    elif kind == "invariant":
        record.update(time=draw(times), function=draw(names), rule=draw(names), rule_kind="ensure")
        record.update(passed=draw(counts64), breached=draw(counts64), errors=draw(counts64))
    else:
        record.update(time=draw(times), rule=draw(texts), arguments=draw(st.dictionaries(texts, free)))
    if draw(st.booleans()):  # extra keys are ignored, never a reason to refuse
        record.update(draw(st.dictionaries(st.text(min_size=1).map(lambda k: "x-" + k), free, max_size=2)))
    return record


# -- malformed records -----------------------------------------------------------------------

REQUIRED_TEXT = {"service", "host", "function", "type", "rule", "rule_kind"}
COUNTS = {"calls", "total_ns", "max_ns", "duration_ns", "passed", "breached", "dropped_events", "errors"}
TIMES = {"start", "end", "time"}
DEEP = json.loads("[" * 150 + "]" * 150)


def _fields(record: dict[str, Any]) -> list[str]:
    required = {"kind", "service", "host", "pid"} | (set(record) & (REQUIRED_TEXT | COUNTS | TIMES | {"histogram"}))
    if record["kind"] == "invariant":
        required.discard("errors")  # optional there (0 when missing)
    if record["kind"] == "review":
        required.discard("rule")  # optional there ("" when missing)
    return sorted(required)


@st.composite
def bad_record(draw: st.DrawFn) -> dict[str, Any]:
    record = draw(good_record())
    field = draw(st.sampled_from(_fields(record)))
    how = draw(st.sampled_from(["missing", "wrong type", "out of range", "nan", "deep"]))
    if how == "missing" and not (record["kind"] == "sensor" and field == "dropped_events"):
        del record[field]
        return record
    if field == "histogram" or (field == "errors" and record["kind"] == "aggregate"):
        key = draw(st.sampled_from([str(LAST_BUCKET + 1), str(2**70), "-1", "x", "1.5"]))
        if field == "histogram":
            record["histogram"] = {**record["histogram"], key: 1}
            if key.isdigit():
                record["calls"] += 1  # still adds up: the bucket alone is wrong
        else:
            record["errors"] = {"E": draw(st.sampled_from([2**63, -1, 1.5, "1", None, math.nan]))}
        return record
    if field in COUNTS or field == "pid":
        high = INT32 if field == "pid" else INT64
        record[field] = draw(
            st.sampled_from([high + 1, 2**64, -(2**70), math.nan, math.inf, 1.5, "7", True, None, [1], DEEP])
            | st.integers(min_value=high + 1)
        )
        if field != "pid":
            record[field] = draw(st.sampled_from([-1, record[field]]))
        return record
    if field in TIMES:
        out_of_range = ["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00"]
        record[field] = draw(st.sampled_from([*out_of_range, "yesterday", "", 1.0, None, DEEP]))
        return record
    # text fields and kind
    record[field] = draw(st.sampled_from([None, 5, 1.5, math.nan, True, ["a"], {"a": 1}, DEEP]))
    return record


@st.composite
def deep_value(draw: st.DrawFn) -> dict[str, Any]:
    """A good record with a free-form value nested too deep (refused)."""
    record = draw(good_record().filter(lambda r: r["kind"] in ("exception", "sample", "breach", "review")))
    record["arguments"] = {"a": DEEP}
    return record


GARBAGE = ['{"kind": "aggregate", "id": "cut', "[" * 100_000 + "]" * 100_000, "not json", "[1, 2]", '{"id": 5}']


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.large_base_example],
)
@given(
    st.lists(
        st.tuples(st.sampled_from(["good", "bad", "deep"]), st.data()),
        min_size=1,
        max_size=12,
    ),
    st.lists(st.sampled_from(GARBAGE), max_size=2),
    st.randoms(use_true_random=False),
)
def test_ingest_keeps_every_good_record_and_counts_every_bad_one(
    store: Store, plan: list[tuple[str, st.DataObject]], garbage: list[str], rnd: Any
) -> None:
    example = next(_EXAMPLE)
    lines: list[str] = []
    good: dict[str, str] = {}
    bad: set[str] = set()
    for n, (what, data) in enumerate(plan):
        strategy = {"good": good_record(), "bad": bad_record(), "deep": deep_value()}[what]
        record = data.draw(strategy)
        record_id = f"{example}-{n}"
        record["id"] = record_id
        if what == "good":
            good[record_id] = record["kind"]
        else:
            bad.add(record_id)
        lines.append(json.dumps(record, allow_nan=True))
    lines.extend(garbage)
    rnd.shuffle(lines)
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "seg-00000000000000000001-1.jsonl").write_text("\n".join(lines) + "\n", "utf-8")
        total, segments = ingest_spool(store, Path(folder))
    assert segments == 1
    assert total.inserted == len(good), total.reasons
    assert total.bad == len(bad) + len(garbage), total.reasons
    assert total.duplicates == 0
    assert sum(total.reasons.values()) == total.bad  # every refusal has its reason
    stored: dict[str, str] = {}
    with store.read() as conn:
        for kind, table in TABLES.items():
            ids = [*good, *bad]
            for record_id in conn.execute(select(table.c.id).where(table.c.id.in_(ids))).scalars():
                stored[record_id] = kind
    assert stored == good
    json.dumps(summarize(store), allow_nan=False, default=str)  # what was stored reads back
