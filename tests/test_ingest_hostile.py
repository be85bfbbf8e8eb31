"""One bad record costs one record: ingest refuses it alone (counted, with its reason) and stores
the rest of its segment, on SQLite and on the real PostgreSQL the suite starts; ``runtime`` leaves
out a stored interval it cannot read instead of crashing.

Before these checks, one spool record with ``calls = 2**63`` made every ``codewitness ingest``
fail (the transaction of its whole segment was refused, and every later segment waited behind
it), and a histogram bucket out of range was stored and then crashed ``runtime``.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select, text

from codewitness.cli import main
from codewitness.facts import Histogram
from codewitness.ingest import ingest_batch, ingest_spool
from codewitness.store import Store, schema
from codewitness.store.queries import summarize

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def aggregate(function: str = "shop.quote", **changes: Any) -> dict[str, Any]:
    hist = Histogram()
    for ns in (1_000, 2_000, 50_000):
        hist.record(ns)
    record = {
        "kind": "aggregate",
        "id": uuid.uuid4().hex,
        "service": "shop",
        "revision": "r1",
        "host": "h1",
        "pid": 42,
        "function": function,
        "origin": "ai",
        "ai_share": 1.0,
        "generation_ids": ["gen_1"],
        "models": ["m"],
        "path": "shop/pricing.py",
        "line": 10,
        "start": T0.isoformat(),
        "end": (T0 + timedelta(seconds=10)).isoformat(),
        "calls": 3,
        "errors": {"ValueError": 1},
        "histogram": hist.to_json(),
        "total_ns": 53_000,
        "max_ns": 50_000,
    }
    record.update(changes)
    return record


def exception(**changes: Any) -> dict[str, Any]:
    record = {
        **aggregate(),
        "kind": "exception",
        "time": T0.isoformat(),
        "type": "ValueError",
        "message": "bad sku",
        "stack": [{"file": "shop/pricing.py", "line": 14, "function": "quote"}],
        "arguments": {"sku": "x"},
    }
    record.update(changes)
    return record


def _stored_ids(store: Store) -> set[str]:
    ids: set[str] = set()
    with store.read() as conn:
        for table in (schema.runtime_aggregates, schema.runtime_exceptions, schema.runtime_samples):
            ids.update(conn.execute(select(table.c.id)).scalars())
    return ids


BAD: dict[str, Callable[[], dict[str, Any]]] = {
    "calls 2**63": lambda: aggregate(calls=2**63, histogram={"5": 2**63}),
    "total_ns 2**63": lambda: aggregate(total_ns=2**63),
    "max_ns -1": lambda: aggregate(max_ns=-1),
    "pid 2**31 (PostgreSQL integer)": lambda: aggregate(pid=2**31),
    "line 2**31": lambda: aggregate(line=2**31),
    "an error count 2**63": lambda: aggregate(errors={"ValueError": 2**63}),
    "error counts adding past 2**63": lambda: aggregate(errors={"A": 2**62, "B": 2**62, "C": 2**62}),
    "histogram bucket 5000": lambda: aggregate(histogram={"5000": 3}),
    "histogram bucket 10**30": lambda: aggregate(histogram={str(10**30): 3}),
    "histogram bucket -1": lambda: aggregate(histogram={"-1": 3}),
    "histogram count 2**63": lambda: aggregate(calls=2**63, histogram={"5": 2**63}),
    "calls as a float": lambda: aggregate(calls=3.0),
    "calls as a string": lambda: aggregate(calls="3"),
    "calls as true": lambda: aggregate(calls=True, histogram={"5": 1}),
    "ai_share NaN": lambda: aggregate(ai_share=math.nan),
    "ai_share infinite": lambda: aggregate(ai_share=math.inf),
    "a time past year 9999 in UTC": lambda: aggregate(start="9999-12-31T23:30:00-05:00"),
    "a time before year 1 in UTC": lambda: aggregate(start="0001-01-01T00:10:00+05:00"),
    "a time that is a number": lambda: aggregate(start=1_700_000_000),
    "function as a list": lambda: aggregate(function=["a"]),
    "missing calls": lambda: {k: v for k, v in aggregate().items() if k != "calls"},
    "unknown kind": lambda: aggregate(kind="mystery"),
    "kind as a list": lambda: aggregate(kind=["aggregate"]),
    "arguments nested 200 deep": lambda: exception(arguments={"a": json.loads("[" * 200 + "]" * 200)}),
    "stack as a string": lambda: exception(stack="oops"),
    "generation ids of lists": lambda: aggregate(generation_ids=[["gen"]]),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_one_bad_record_is_refused_alone(store: Store, case: str) -> None:
    before, bad, after = aggregate(), BAD[case](), exception()
    counts = ingest_batch(store, [before, bad, after], source="test")
    assert (counts.inserted, counts.bad, counts.duplicates) == (2, 1, 0)
    assert sum(counts.reasons.values()) == 1
    assert _stored_ids(store) == {before["id"], after["id"]}
    assert summarize(store)[0]["calls"] == 3


REPAIRED: dict[str, Callable[[], dict[str, Any]]] = {
    "a lone surrogate in the function name": lambda: aggregate(function="shop.\udc80quote"),
    "NUL in the function name": lambda: aggregate(function="shop.\x00quote"),
    "a lone surrogate in the message": lambda: exception(message="bad \ud800 value"),
    "NaN and infinities in the arguments": lambda: exception(arguments={"x": math.nan, "y": [math.inf, -math.inf]}),
    "a 100-digit integer in the arguments": lambda: exception(arguments={"n": 10**100}),
    "extra keys": lambda: aggregate(extra={"anything": [1, 2]}, another=None),
}


@pytest.mark.parametrize("case", sorted(REPAIRED))
def test_values_a_database_cannot_hold_are_stored_readably(store: Store, case: str) -> None:
    record = REPAIRED[case]()
    # An exception is summarised under its function's intervals: give it one.
    records = [record, aggregate()] if record["kind"] == "exception" else [record]
    counts = ingest_batch(store, records, source="test")
    assert (counts.inserted, counts.bad) == (len(records), 0), counts.reasons
    assert _stored_ids(store) == {r["id"] for r in records}
    summaries = summarize(store)
    json.dumps(summaries, allow_nan=False, default=str)  # everything read back is plain JSON
    if record["kind"] == "exception":
        stored = summaries[0]["exceptions"][0]
        if "NaN" in case:
            assert stored["arguments"] == {"x": "NaN", "y": ["Infinity", "-Infinity"]}
        if "surrogate" in case:
            assert stored["message"] == "bad \\ud800 value"
    elif "surrogate" in case:
        assert summaries[0]["function"] == "shop.\\udc80quote"
    elif "NUL" in case:
        assert summaries[0]["function"] == "shop.\\x00quote"


def test_a_row_the_database_refuses_costs_only_that_row(store: Store) -> None:
    # A refusal no check of ours foresaw (here a real trigger in the database itself).
    with store.write() as conn:
        if store.dialect == "sqlite":
            conn.execute(
                text(
                    "CREATE TRIGGER refuse BEFORE INSERT ON runtime_aggregates WHEN NEW.function = 'refuse.me' "
                    "BEGIN SELECT RAISE(ABORT, 'refused by trigger'); END"
                )
            )
        else:
            conn.execute(
                text(
                    "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN "
                    "IF NEW.function = 'refuse.me' THEN RAISE EXCEPTION 'refused by trigger'; END IF; "
                    "RETURN NEW; END $$ LANGUAGE plpgsql"
                )
            )
            conn.execute(
                text("CREATE TRIGGER refuse BEFORE INSERT ON runtime_aggregates FOR EACH ROW EXECUTE FUNCTION refuse()")
            )
    good, refused, other = aggregate(), aggregate("refuse.me"), aggregate("shop.other")
    counts = ingest_batch(store, [good, refused, other], source="test")
    assert (counts.inserted, counts.bad) == (2, 1)
    (reason,) = counts.reasons
    assert reason.startswith("refused by the database") and "refused by trigger" in reason
    assert _stored_ids(store) == {good["id"], other["id"]}
    again = ingest_batch(store, [good, refused, other], source="test")
    assert (again.inserted, again.duplicates, again.bad) == (0, 2, 1)


def _segment(folder: Path, n: int, lines: list[str]) -> None:
    (folder / f"seg-{n:020d}-1.jsonl").write_text("".join(line + "\n" for line in lines), "utf-8")


@pytest.fixture
def spool_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db_url: str) -> Path:
    (tmp_path / ".git").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CODEWITNESS_DB", db_url)
    return tmp_path


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_ingest_never_stops_at_a_bad_record_and_later_segments_load(
    spool_project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CODEWITNESS_RETENTION_ON_INGEST", "false")  # the records are older than the default's 30 days
    spool = spool_project / "spool"
    spool.mkdir()
    first, huge, bucket, last = aggregate(), aggregate(calls=2**63), aggregate(histogram={"4096": 3}), exception()
    _segment(spool, 1, [json.dumps(first)])
    _segment(spool, 2, [json.dumps(huge), json.dumps(aggregate("shop.ok")), json.dumps(bucket)])
    _segment(spool, 3, ["[" * 100_000 + "]" * 100_000, json.dumps(last), '{"kind": "aggregate", "id": "x", "calls'])
    for run in range(2):
        code, out, err = _cli(capsys, "ingest", "--spool", str(spool), "--keep", "--json")
        assert code == 0, err
        result = json.loads(out)
        assert result["segments"] == 3
        assert result["inserted"] == (3 if run == 0 else 0)
        assert result["bad"] == 4  # two refused records, two unreadable lines
        assert result["bad_reasons"] == {
            "calls: not an integer from 0 to 2**63-1": 1,
            "histogram: a bucket out of range (0 to 1023)": 1,
            "not a JSON record with a kind and an id": 2,
        }
    code, _out, err = _cli(capsys, "ingest", "--spool", str(spool))
    assert code == 0
    (line, kept) = [line for line in err.splitlines() if "skipped" in line]
    assert line == (
        "4 record(s) skipped: 2 not a JSON record with a kind and an id; 1 calls: not an integer from 0 to "
        "2**63-1; 1 histogram: a bucket out of range (0 to 1023)"
    )
    # Stored and finished (no sensor writes them): the clean one goes; those with skipped records
    # are set aside, never read again, never lost.
    assert kept == f"kept 2 segment(s) with skipped records as {spool}/rejected-*.jsonl"
    assert sorted(p.name.split("-")[0] for p in spool.iterdir()) == ["rejected", "rejected"]
    code, out, _err = _cli(capsys, "ingest", "--spool", str(spool), "--json")
    assert (code, json.loads(out)["segments"]) == (0, 0)


def test_runtime_leaves_out_a_stored_interval_it_cannot_read(
    spool_project: Path, capsys: pytest.CaptureFixture[str], db_url: str
) -> None:
    from codewitness.store import open_store

    with open_store(db_url) as store:
        assert ingest_batch(store, [aggregate(), exception()], source="test").inserted == 2
        # Stored by a version without today's checks: a bucket no histogram has.
        row = {**aggregate("shop.broken"), "interval_start": T0, "interval_end": T0, "ingested_at": T0}
        row["error_count"] = 1
        row["histogram"] = {"100000": 3}
        columns = {c.name for c in schema.runtime_aggregates.columns}
        with store.write() as conn:
            conn.execute(insert(schema.runtime_aggregates).values({k: v for k, v in row.items() if k in columns}))
    code, out, err = _cli(capsys, "runtime", "--json")
    assert code == 0, err
    assert [s["function"] for s in json.loads(out)] == ["shop.quote"]
    assert "1 stored interval(s) left out: 1 histogram: a bucket out of range (0 to 1023)" in err
    code, out, err = _cli(capsys, "runtime")
    assert code == 0 and "shop.quote" in out and "Traceback" not in err


def test_runtime_shows_text_from_records_as_text_never_markup(
    spool_project: Path, capsys: pytest.CaptureFixture[str], db_url: str
) -> None:
    from codewitness.store import open_store

    message = "closing [/red] and [bold]open"
    with open_store(db_url) as store:
        records = [aggregate("shop.[/x]quote"), exception(function="shop.[/x]quote", message=message)]
        counts = ingest_batch(store, records, source="test")
        assert counts.inserted == 2
    code, out, err = _cli(capsys, "runtime")
    assert code == 0, err
    assert message in out and "shop.[/x]quote" in out


def test_ingest_spool_counts_unreadable_lines_with_refused_records(store: Store, tmp_path: Path) -> None:
    _segment(tmp_path, 1, [json.dumps(aggregate()), json.dumps(aggregate(pid=-(2**40))), "not json"])
    total, segments = ingest_spool(store, tmp_path)
    assert (segments, total.inserted, total.bad) == (1, 1, 2)
    assert total.reasons == {
        "pid: not an integer from -2147483648 to 2**31-1": 1,
        "not a JSON record with a kind and an id": 1,
    }


def test_a_spool_entry_that_is_a_fifo_or_a_link_is_passed_over_not_waited_on(tmp_path: Path) -> None:
    # Before: a FIFO named like a segment made `codewitness ingest` wait for a writer forever, and a
    # link named like one was followed (to /dev/zero: read until memory ran out). In a subprocess,
    # so a hang fails the test instead of the suite.
    import os
    import subprocess
    import sys

    spool = tmp_path / "spool"
    spool.mkdir()
    _segment(spool, 2, [json.dumps(aggregate())])
    os.mkfifo(spool / "seg-00000000000000000001.jsonl")
    (spool / "seg-00000000000000000003.jsonl").symlink_to("/dev/zero")
    code = (
        "import json, sys\nfrom codewitness.ingest import read_spool\n"
        "print(json.dumps([[p.name, len(r), u] for p, r, u in read_spool(sys.argv[1])]))"
    )
    done = subprocess.run([sys.executable, "-c", code, str(spool)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [["seg-00000000000000000002-1.jsonl", 1, 0]]
    load = (
        "import sys\nfrom pathlib import Path\nfrom codewitness.ingest import ingest_spool\n"
        "from codewitness.store import open_store\n"
        "with open_store(sys.argv[2]) as store:\n"
        "    total, segments = ingest_spool(store, Path(sys.argv[1]), delete=True)\n"
        "print(total.inserted, segments, total.deleted)"
    )
    url = f"sqlite:///{tmp_path / 'cw.db'}"
    done = subprocess.run([sys.executable, "-c", load, str(spool), url], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1", "1", "1"]
    assert sorted(p.name for p in spool.iterdir()) == [
        "seg-00000000000000000001.jsonl",  # the FIFO and the link are left alone
        "seg-00000000000000000003.jsonl",
    ]
