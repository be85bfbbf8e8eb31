"""`codewitness runtime --service --revision --sort --top/--limit` on a real store (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from tests.runtime_records import T0, aggregate, unwatched

from codewitness.cli import main
from codewitness.ingest import ingest_batch
from codewitness.store import open_store

MS = 1_000_000


@pytest.fixture
def facts(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Three functions reported by two services and two revisions."""
    monkeypatch.chdir(tmp_path)
    with open_store(db_url) as store:
        counts = ingest_batch(
            store,
            [
                aggregate("shop.a", [1 * MS] * 100, {"ValueError": 5}, service="shop", revision="r1"),
                aggregate("shop.a", [1 * MS] * 50, service="admin", revision="r2"),
                aggregate("shop.b", [MS // 10] * 300, {"KeyError": 1}, origin="human", service="shop", revision="r1"),
                aggregate("shop.c", [50 * MS] * 10, {"TypeError": 9}, service="shop", revision="r2"),
            ],
            source="test",
        )
    assert counts.inserted == 4
    return db_url


def runtime(capsys: pytest.CaptureFixture[str], db: str, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["--db", db, "runtime", *args])
    out, err = capsys.readouterr()
    return code, out, err


def listed(capsys: pytest.CaptureFixture[str], db: str, *args: str) -> list[tuple[str, int]]:
    code, out, err = runtime(capsys, db, *args, "--json")
    assert code == 0, err
    return [(s["function"], s["calls"]) for s in json.loads(out)]


def test_every_service_is_summed_unless_one_is_named(facts: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert listed(capsys, facts) == [("shop.a", 150), ("shop.c", 10), ("shop.b", 300)]
    assert listed(capsys, facts, "--service", "shop") == [("shop.a", 100), ("shop.c", 10), ("shop.b", 300)]
    assert listed(capsys, facts, "--service", "admin") == [("shop.a", 50)]
    assert listed(capsys, facts, "--revision", "r2") == [("shop.a", 50), ("shop.c", 10)]
    assert listed(capsys, facts, "--service", "shop", "--revision", "r2") == [("shop.c", 10)]
    _, out, _ = runtime(capsys, facts, "--service", "admin", "--json")
    assert json.loads(out)[0]["services"] == ["admin"] and json.loads(out)[0]["errors"] == 0


def test_sort_orders_largest_first(facts: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert [f for f, _ in listed(capsys, facts, "--sort", "calls")] == ["shop.b", "shop.a", "shop.c"]
    assert [f for f, _ in listed(capsys, facts, "--sort", "errors")] == ["shop.c", "shop.a", "shop.b"]
    assert [f for f, _ in listed(capsys, facts, "--sort", "p95")] == ["shop.c", "shop.a", "shop.b"]
    code, _, err = runtime(capsys, facts, "--sort", "latency")
    assert code == 2 and "--sort is one of origin, calls, errors, p95" in err


def test_top_and_limit_keep_the_first_n_and_the_rollup_keeps_them_all(
    facts: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert listed(capsys, facts, "--sort", "errors", "--top", "1") == [("shop.c", 10)]
    assert listed(capsys, facts, "--sort", "calls", "--limit", "2") == [("shop.b", 300), ("shop.a", 150)]
    code, out, err = runtime(capsys, facts, "--sort", "errors", "--top", "1")
    assert code == 0, err
    rows = [line for line in out.splitlines() if line.startswith("shop.")]
    assert [r.split()[0] for r in rows] == ["shop.c"]
    assert "AI-written: 160 calls, 14 errors" in out and "human/unknown: 300 calls, 1 errors" in out
    assert "showing 1 of 3 functions" in err and "showing" not in out
    code, _, err = runtime(capsys, facts, "--top", "0")
    assert code == 2


def test_an_empty_scope_says_what_was_looked_at(facts: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = runtime(capsys, facts, "--service", "billing")
    assert code == 0 and out == ""
    assert "no runtime facts for --service billing" in err and "codewitness ingest" in err
    code, out, _ = runtime(capsys, facts, "--service", "billing", "--json")
    assert code == 0 and json.loads(out) == []


def test_a_function_the_sensor_stopped_watching_is_shown_with_why(
    facts: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with open_store(facts) as store:
        counts = ingest_batch(
            store,
            [
                unwatched("shop.b", calls=1_500, mean_ns=240, when=T0 + timedelta(seconds=10)),
                unwatched("shop.b", calls=3_000, mean_ns=200, when=T0 + timedelta(minutes=5), service="admin"),
                unwatched("shop.gone", calls=2_000, mean_ns=90, when=T0 + timedelta(hours=2)),
            ],
            source="test",
        )
    assert counts.inserted == 3
    code, out, err = runtime(capsys, facts, "--json")
    assert code == 0, err
    by_name = {s["function"]: s for s in json.loads(out)}
    assert by_name["shop.b"]["unwatched"] == {
        "reason": "cheap",
        "time": (T0 + timedelta(minutes=5)).isoformat(),  # the newest
        "calls": 3_000,
        "mean_ns": 200,
    }
    assert by_name["shop.b"]["calls"] == 300  # what was counted before stays
    assert "unwatched" not in by_name["shop.a"]
    assert by_name["shop.gone"]["calls"] == 0 and by_name["shop.gone"]["unwatched"]["mean_ns"] == 90
    code, out, err = runtime(capsys, facts, "--service", "shop")
    assert code == 0, err
    assert "unwatched: cheap shop.b since 2026-11-01T12:00:10+00:00: 1,500 calls at 240 ns each" in out
    assert "unwatched: cheap shop.a" not in out
    assert "sensor.keep keeps a function watched" in err
    _, out, err = runtime(capsys, facts, "--function", "shop.a")
    assert "unwatched" not in out + err
