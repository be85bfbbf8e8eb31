"""The behaviour pages and routes on a real server (SQLite and PostgreSQL): baselines with their
latest check, a baseline's check history with counts per function, the corpus, flakiness -- and
never a replayed outcome (those are not redacted)."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest

from codewitness.behavior.corpus import add_user_entry
from codewitness.store import open_store
from codewitness.store.behavior import pin_baseline, record_check, record_replay

from .conftest import LiveServer

#: A pinned outcome: it must never appear in a page or an answer.
OUTCOME = "outcome-kept-off-the-server-7f3a"


def _counts(function: str, differing: int, errors: int = 0) -> dict[str, Any]:
    return {
        "function": function,
        "replayed": 10,
        "equal": 10 - differing - errors,
        "differing": differing,
        "errors": errors,
        "nondeterministic": 0,
        "not_replayable": 0,
        # what a check's summary also holds: inputs and outcomes, which stay off the server
        "differing_inputs": [{"input": "amount=1", "old": [f"returned '{OUTCOME}'"], "new": ["returned 2"]}],
    }


def _check(differing: int, alarm: bool) -> dict[str, Any]:
    return {
        "baseline": "release-42",
        "revision": "b" * 40,
        "dirty": False,
        "threshold": 0.02,
        "compared": 20,
        "equal": 20 - differing,
        "differing": differing,
        "errors": 0,
        "nondeterministic": 0,
        "share": differing / 20,
        "alarm": alarm,
        "summary": {"functions": [_counts("shop.pricing.total", differing), _counts("shop.pricing.label", 0)]},
    }


@pytest.fixture
def server(db_url: str, live_server: Any) -> LiveServer:
    with open_store(db_url) as store:
        entry = add_user_entry(store, "shop.pricing:total", {"amount": 1})
        add_user_entry(store, "shop.pricing:total", {"amount": 2})
        case = {
            "id": entry.id,
            "function": "shop.pricing.total",
            "input_hash": entry.input_hash,
            "input": {"amount": 1},
            "arguments": {"amount": 1},
            "outcome": {"ok": OUTCOME},
            "outcome_hash": "0" * 64,
        }
        pin_baseline(store, name="release-42", revision="a" * 40, dirty=False, cases=[case], skipped={"excluded": 3})
        pin_baseline(store, name="never-checked", revision=None, dirty=True, cases=[case], skipped={})
        record_check(store, _check(0, alarm=False))
        record_check(store, _check(2, alarm=True))
        record_replay(
            store,
            kind="same-rev",
            against=None,
            revision="c" * 40,
            functions=[{**_counts("shop.pricing.total", 0), "nondeterministic": 1}],
        )
    return live_server(db_url)


def _ok(server: LiveServer, path: str) -> Any:
    answer = server.get(path)
    assert answer.status_code == 200, f"{path}: {answer.status_code} {answer.text[:300]}"
    assert OUTCOME not in answer.text
    return answer


def test_baselines_and_the_corpus_over_the_api(server: LiveServer) -> None:
    listed = _ok(server, "/api/v1/baselines").json()
    assert listed["total"] == 2
    assert {b["name"]: (b["last_check"] or {}).get("alarm") for b in listed["items"]} == {
        "release-42": True,
        "never-checked": None,
    }
    one = _ok(server, "/api/v1/baselines/release-42").json()
    assert (one["revision"], one["cases"], one["skipped"]) == ("a" * 40, 1, {"excluded": 3})
    assert [(c["differing"], c["alarm"]) for c in one["checks"]] == [(2, True), (0, False)]  # newest first
    assert one["checks"][0]["functions"] == [
        {k: v for k, v in _counts("shop.pricing.total", 2).items() if k != "differing_inputs"},
        {k: v for k, v in _counts("shop.pricing.label", 0).items() if k != "differing_inputs"},
    ]
    assert [c["differing"] for c in _ok(server, "/api/v1/baselines/release-42?checks=1").json()["checks"]] == [2]
    missing = server.get("/api/v1/baselines/nope")
    assert missing.status_code == 404 and "no baseline 'nope'" in missing.json()["error"]
    corpus = _ok(server, "/api/v1/corpus").json()
    assert [(r["function"], r["entries"], r["nondeterministic"]) for r in corpus["items"]] == [
        ("shop.pricing.total", 2, 1)
    ]
    paths = set(_ok(server, "/api/v1/openapi.json").json()["paths"])
    assert {"/api/v1/baselines", "/api/v1/baselines/{name}", "/api/v1/corpus"} <= paths


def _text(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def test_the_behaviour_pages(server: LiveServer) -> None:
    page = _ok(server, "/behavior").text
    text = _text(page)
    assert 'href="/behavior" aria-current="page"' in page  # the navigation names the page
    assert 'href="/behavior/baselines/release-42"' in page
    assert "2 of 20 (10.0%; limit 2.0%) alarm" in text
    assert "never-checked" in text and "never checked" in text
    assert "shop.pricing.total 2 2 2 1 user 2" in text  # inputs, replayable, seen, non-deterministic, sources
    assert "Non-deterministic inputs" in text

    detail = _text(_ok(server, "/behavior/baselines/release-42").text)
    assert "Pinned at aaaaaaaaaa" in detail and "1 input(s) of 1 function(s)" in detail and "excluded 3" in detail
    rows = re.findall(r"bbbbbbbbbb 20 (\d+) ([\d.]+%) 2\.0% 0 0 (alarm|ok)", detail)
    assert rows == [("2", "10.0%", "alarm"), ("0", "0.0%", "ok")]
    assert "shop.pricing.total 2 differing" in detail and "shop.pricing.label 0 differing" not in detail
    assert server.get("/behavior/baselines/nope").status_code == 404
