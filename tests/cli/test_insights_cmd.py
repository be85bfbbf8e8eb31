"""``codewitness insights`` (list, ack) through the real entry point, on a real store; and
``incidents show`` telling the request an exception happened in."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from tests.runtime_records import T0, aggregate, dependency, exception, flow, ingest

from codewitness.cli import main
from codewitness.store import open_store

QUERY = "SELECT name FROM items WHERE id = ?"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db_url: str) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CODEWITNESS_DB", db_url)
    later = T0 + timedelta(hours=1)
    with open_store(db_url) as store:
        ingest(
            store,
            [
                dependency(QUERY, calls=40, requests=4),
                aggregate("shop.pricing.quote", [1_000_000] * 40, revision="r1"),
                {**aggregate("shop.pricing.quote", [5_000_000] * 40, revision="r2", start=later),
                 "generation_ids": ["gen_1", "gen_7"]},
                {**exception("shop.orders.total", "order 13 has no items"),
                 "flow": flow(statements=["SELECT id FROM orders WHERE id = ?", QUERY])},
            ],
        )  # fmt: skip
    return tmp_path


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_list_filter_and_acknowledge(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "insights", "--json")
    assert code == 0
    listed = json.loads(out)
    assert [(i["kind"], i["function"]) for i in listed["insights"]] == [
        ("n_plus_one", "shop.orders.load_items"),
        ("slower", "shop.pricing.quote"),
    ]
    slower = listed["insights"][1]
    assert (slower["revision"], slower["generation_ids"], slower["origin"]) == ("r2", ["gen_7"], "ai")

    code, out, _ = cli(capsys, "insights")
    assert code == 0 and "runs the same query 10.0 times per request" in out and QUERY in out
    assert "generations: gen_7" in out
    code, out, _ = cli(capsys, "insights", "--kind", "slower", "--json")
    assert [i["kind"] for i in json.loads(out)["insights"]] == ["slower"]

    code, out, _ = cli(capsys, "insights", "ack", slower["id"][:12], "--note", "expected: a new tax table")
    assert code == 0 and f"{slower['id']} acknowledged" in out
    code, out, err = cli(capsys, "insights")
    assert slower["id"] not in out and "1 acknowledged insight(s) hidden" in err
    code, out, _ = cli(capsys, "insights", "--all", "--json")
    (acked,) = [i for i in json.loads(out)["insights"] if i["id"] == slower["id"]]
    assert acked["acknowledged"]["note"] == "expected: a new tax table"


def test_mistakes_get_one_line(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "insights", "--kind", "fast")
    assert code != 0 and "unknown insight kind fast" in err and "Traceback" not in err
    code, _, err = cli(capsys, "insights", "ack", "ins_0000000000000000")
    assert code != 0 and "no insight" in err and "Traceback" not in err


def test_an_empty_store_says_what_to_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CODEWITNESS_DB", f"sqlite:///{tmp_path / 'empty.db'}")
    code, out, err = cli(capsys, "insights")
    assert code == 0 and out == "" and "no runtime facts" in err and "codewitness run" in err


def test_incidents_show_tells_the_request_and_its_statements(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "incidents", "--json")
    (incident,) = json.loads(out)["incidents"]
    code, out, _ = cli(capsys, "incidents", "show", incident["id"])
    assert code == 0
    assert 'request: GET /orders/{order_id} {"order_id": 7}' in out
    assert "sqlite: SELECT id FROM orders WHERE id = ?" in out and f"sqlite: {QUERY}" in out
    code, out, _ = cli(capsys, "incidents", "show", incident["id"], "--json")
    (sample,) = json.loads(out)["samples"]
    assert sample["flow"]["route"] == "/orders/{order_id}" and len(sample["flow"]["statements"]) == 2
