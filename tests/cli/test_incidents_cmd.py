"""``codewitness incidents`` (list, show, tag, stats) through the real entry point, on a real store."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from tests.runtime_records import T0, aggregate, breach, exception, ingest

from codewitness.cli import main
from codewitness.store import open_store


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db_url: str) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CODEWITNESS_DB", db_url)
    with open_store(db_url) as store:
        ingest(
            store,
            [
                aggregate("shop.pricing.total", [1_000] * 50, {"ValueError": 2}),
                aggregate("shop.util.tidy", [1_000] * 20, origin="human", start=T0 + timedelta(days=31)),
                exception("shop.pricing.total", "bad sku"),
                exception("shop.pricing.total", "bad sku again", when=T0 + timedelta(seconds=5)),
                breach("shop.util.tidy", "sorted", origin="human", when=T0 + timedelta(days=31)),
            ],
        )
    return tmp_path


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_list_show_tag_stats(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "incidents", "--json")
    assert code == 0
    listed = json.loads(out)
    assert [(i["function"], i["kind"], i["count"]) for i in listed["incidents"]] == [
        ("shop.util.tidy", "breach", 1),
        ("shop.pricing.total", "exception", 2),
    ]
    ai = next(i for i in listed["incidents"] if i["origin"] == "ai")

    code, out, _ = cli(capsys, "incidents", "--origin", "ai")
    assert code == 0 and ai["id"] in out and "shop.util.tidy" not in out
    code, out, _ = cli(capsys, "incidents", "show", ai["id"][:10])
    assert code == 0 and "ValueError in shop.pricing.total" in out and "bad sku again" in out
    assert '"sku": "x"' in out

    code, out, _ = cli(
        capsys,
        "incidents",
        "tag",
        ai["id"],
        "--cause",
        "ai",
        "--note",
        "generated off-by-one",
        "--link",
        "https://example.com/pm/7",
        "--json",
    )
    assert code == 0 and json.loads(out)["cause"] == "ai"
    code, out, _ = cli(capsys, "incidents", "show", ai["id"], "--json")
    shown = json.loads(out)
    assert shown["incident"]["tag"]["note"] == "generated off-by-one" and len(shown["tags"]) == 1
    code, out, _ = cli(capsys, "incidents")
    assert code == 0 and "ai" in out.split(ai["id"])[1].splitlines()[0]  # the cause column

    code, out, _ = cli(capsys, "incidents", "stats", "--by", "month", "--by", "origin", "--json")
    rows = {(r["period"], r["origin"]): r for r in json.loads(out)["rows"]}
    assert rows[("2026-11", "ai")]["incidents"] == 1 and rows[("2026-11", "ai")]["per_1k_calls"] == 20.0
    assert rows[("2026-12", "human")]["per_1k_calls"] == 50.0
    code, out, _ = cli(capsys, "incidents", "stats", "--by", "origin")
    assert code == 0 and "per 1k calls" in out and "2026-11" not in out


def test_mistakes_are_one_line_errors(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "incidents", "show", "inc_nothing")
    assert code == 1 and err.startswith("codewitness: error: no incident inc_nothing") and "Traceback" not in err
    code, _, err = cli(capsys, "incidents", "--origin", "robots")
    assert code == 2 and "origin is one of" in err
    code, _, err = cli(capsys, "incidents", "stats", "--by", "week")
    assert code == 2 and "--by is month or origin" in err
    code, out, _ = cli(capsys, "incidents", "--json")
    some = json.loads(out)["incidents"][0]["id"]
    code, _, err = cli(capsys, "incidents", "tag", some, "--cause", "aliens")
    assert code == 2 and "--cause is one of" in err
    code, _, err = cli(capsys, "incidents", "--since", "2027-01-01")
    assert code == 0 and "no exceptions or broken invariants" in err


def test_an_empty_store_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CODEWITNESS_DB", f"sqlite:///{tmp_path / 'w.db'}")
    code, out, err = cli(capsys, "incidents")
    assert code == 0 and out == "" and "codewitness run" in err
    code, out, err = cli(capsys, "incidents", "stats")
    assert code == 0 and out == "" and "no runtime facts yet" in err
