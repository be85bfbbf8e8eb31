"""Every ``GET /api/v1/...`` route (and the writes beside them) on a real server, on SQLite and PostgreSQL."""

from __future__ import annotations

import gzip
import json
from datetime import timedelta
from typing import Any

import pytest

from codewitness import ledger
from codewitness.model import FileRange, Generation, utcnow
from codewitness.store import open_store
from tests.conftest import GitRepo
from tests.runtime_records import T0, aggregate, breach, dependency, exception, invariant, review

from .conftest import LiveServer

SOURCE = """\
def total(items):
    return sum(p * q for p, q in items)


def refund(amount, paid):
    return amount
"""
PROMPT_1 = "Write total(items).\n"
PROMPT_2 = "Write total(items), in cents.\n"


def _generation(prompt: str) -> Generation:
    return Generation.create(
        agent="api",
        model="claude-sonnet-4-5",
        prompt=prompt,
        output="def total(items):\n    return sum(p * q for p, q in items)\n",
        params={"temperature": 0.2},
        prompt_name="pricing",
        files=(FileRange("shop/pricing.py", 1, 2),),
        created_at=utcnow(),
    )


@pytest.fixture
def seeded(db_url: str, git_repo: GitRepo, live_server: Any) -> LiveServer:
    git_repo.write("shop/__init__.py", "")
    git_repo.write("shop/pricing.py", SOURCE)
    git_repo.commit("Pricing\n\nCo-Authored-By: Claude <noreply@anthropic.com>")
    with open_store(db_url) as store:
        first = ledger.record(store, _generation(PROMPT_1))
        ledger.record(store, _generation(PROMPT_2))
    server = live_server(db_url, root=git_repo.root)
    rows = [
        aggregate("shop.pricing.total", [1000, 2000, 3000], {"TypeError": 1}, generation_ids=[first.id]),
        aggregate("shop.pricing.total", [4000, 5000], start=T0 + timedelta(minutes=5), generation_ids=[first.id]),
        aggregate("shop.pricing.describe", [100], origin="human", service="admin", revision="r2"),
        exception("shop.pricing.total", "can't multiply"),
        breach("shop.pricing.refund", "refund_never_exceeds_payment"),
        invariant("shop.pricing.refund", "refund_never_exceeds_payment", passed=1, breached=1),
        review("shop.pricing.refund"),
        dependency("SELECT name FROM items WHERE id = ?", function="shop.pricing.total", calls=30, requests=3),
        {
            **aggregate("shop.pricing.refund", [10]),
            "kind": "sample",
            "time": T0.isoformat(),
            "duration_ns": 10,
            "arguments": {"amount": 1},
            "result": 1,
        },
    ]
    body = gzip.compress(b"".join(json.dumps(r).encode() + b"\n" for r in rows))
    answer = server.post("/api/v1/ingest", data=body, headers={**server.auth(), "Content-Encoding": "gzip"})
    assert answer.status_code == 200 and answer.json()["bad"] == 0, answer.text
    return server


def ok(server: LiveServer, path: str, **params: Any) -> Any:
    answer = server.get(path, params=params)
    assert answer.status_code == 200, f"{path}: {answer.status_code} {answer.text[:500]}"
    return answer.json()


def test_functions_list_filter_sort_and_page(seeded: LiveServer) -> None:
    every = ok(seeded, "/api/v1/functions")
    names = {f["function"]: f for f in every["items"]}
    assert {"shop.pricing.total", "shop.pricing.refund", "shop.pricing.describe"} <= set(names)
    total = names["shop.pricing.total"]
    assert (
        total["origin"] == "ai" and total["calls"] == 5 and total["errors"] == 1 and total["path"] == "shop/pricing.py"
    )
    assert names["shop.pricing.refund"]["breaches"] == 1
    human = ok(seeded, "/api/v1/functions", origin="human")
    assert [f["function"] for f in human["items"]] == ["shop.pricing.describe"]
    admin = ok(seeded, "/api/v1/functions", service="admin", sort="calls")
    assert admin["items"][0]["function"] == "shop.pricing.describe" and admin["items"][0]["calls"] == 1
    assert next(f for f in admin["items"] if f["function"] == "shop.pricing.total")["calls"] == 0
    page = ok(seeded, "/api/v1/functions", limit=1, offset=1, sort="name")
    assert page["total"] == every["total"] and len(page["items"]) == 1 and page["offset"] == 1
    assert ok(seeded, "/api/v1/functions", since="2000-01-01")["total"] == every["total"]
    bad = seeded.get("/api/v1/functions", params={"since": "yesterday-ish"})
    assert bad.status_code == 400 and "cannot read time" in bad.json()["error"]
    assert seeded.get("/api/v1/functions", params={"origin": "robot"}).status_code == 400
    assert seeded.get("/api/v1/functions", params={"limit": 0}).status_code == 400


def test_function_detail_and_series(seeded: LiveServer) -> None:
    detail = ok(seeded, "/api/v1/functions/shop.pricing.total")
    assert detail["function"] == "shop.pricing.total" and detail["path"] == "shop/pricing.py"
    assert detail["origin"]["ai_share"] == 1.0 and detail["runtime"]["calls"] == 5
    assert detail["recent_exceptions"][0]["arguments"] == {"sku": "x"}
    assert [p["model"] for p in detail["provenance"]] == ["claude-sonnet-4-5"]
    by_line = ok(seeded, "/api/v1/functions/shop/pricing.py:5")
    assert by_line["function"] == "shop.pricing.refund" and by_line["recent_breaches"][0]["result"] == 1500
    series = ok(seeded, "/api/v1/functions/shop.pricing.total/series", buckets=5)
    assert sum(p["calls"] for p in series["points"]) == 5 and series["errors_by_type"]["TypeError"][0] == 1
    missing = seeded.get("/api/v1/functions/shop.nothing.here")
    assert missing.status_code == 404 and "nothing is known" in missing.json()["error"]


def test_files_and_per_line_origin(seeded: LiveServer) -> None:
    tree = ok(seeded, "/api/v1/files")
    by_path = {n["path"]: n for n in tree["items"]}
    assert by_path["shop/pricing.py"]["ai"] == 4 and by_path["shop"]["kind"] == "dir"
    lines = ok(seeded, "/api/v1/files/shop/pricing.py")["lines"]
    assert len(lines) == 6 and lines[0]["origin"] == "ai" and lines[0]["evidence"] == "trailer"
    assert seeded.get("/api/v1/files/shop/missing.py").status_code == 400


def test_generations_and_prompts(seeded: LiveServer) -> None:
    page = ok(seeded, "/api/v1/generations", model="claude-sonnet-4-5")
    assert page["total"] == 2 and page["items"][0]["prompt_name"] == "pricing"
    assert ok(seeded, "/api/v1/generations", model="gpt-x")["total"] == 0
    assert ok(seeded, "/api/v1/generations", prompt="pricing@1")["total"] == 1
    one = ok(seeded, f"/api/v1/generations/{page['items'][0]['id'][:12]}")
    assert one["output"].startswith("def total") and one["params"] == {"temperature": 0.2}
    assert seeded.get("/api/v1/generations/gen_0000000000").status_code == 404
    assert seeded.get("/api/v1/generations/gen_no").status_code == 404, "any prefix is looked up"
    assert seeded.get("/api/v1/generations/gen_").status_code == 400, "an empty prefix is no reference"
    prompts = ok(seeded, "/api/v1/prompts")
    assert prompts["items"] == [
        {"name": "pricing", "latest_version": 2, "changed_at": prompts["items"][0]["changed_at"], "generations": 2}
    ]
    history = ok(seeded, "/api/v1/prompts/pricing")
    assert history["changes"] == 1 and "+Write total(items), in cents." in history["diffs"][0]["diff"]


def test_runtime_events_and_overview(seeded: LiveServer) -> None:
    exceptions = ok(seeded, "/api/v1/exceptions", origin="ai")
    assert exceptions["total"] == 1 and exceptions["items"][0]["message"] == "can't multiply"
    assert ok(seeded, "/api/v1/exceptions", origin="human")["total"] == 0
    assert ok(seeded, "/api/v1/exceptions", revision="r9")["total"] == 0
    assert ok(seeded, "/api/v1/breaches", function="shop.pricing.refund")["items"][0]["rule"] == (
        "refund_never_exceeds_payment"
    )
    assert ok(seeded, "/api/v1/samples")["items"][0]["result"] == 1
    invariants = ok(seeded, "/api/v1/invariants")["items"]
    assert invariants[0]["breached"] == 1 and invariants[0]["passed"] == 1
    view = ok(seeded, "/api/v1/overview")
    ai, human = view["runtime"]
    assert (ai["calls"], ai["errors"], ai["breaches"], human["calls"]) == (5, 1, 1, 1)
    assert view["ai_share"] > 0.5 and view["counts"]["generations"] == 2 and view["counts"]["open_review"] == 1
    assert [p["ai_share"] for p in view["history"]] == [view["ai_share"]]
    assert ok(seeded, "/api/v1/sources") == {"services": ["admin", "shop"], "revisions": ["r1", "r2"]}


def test_insights_through_the_api(seeded: LiveServer) -> None:
    (found,) = ok(seeded, "/api/v1/insights")["insights"]
    assert (found["kind"], found["function"], found["origin"]) == ("n_plus_one", "shop.pricing.total", "ai")
    assert found["evidence"]["per_request"] == 10
    assert ok(seeded, "/api/v1/insights", kind="slower")["insights"] == []
    assert ok(seeded, "/api/v1/insights", origin="human")["insights"] == []
    assert seeded.get("/api/v1/insights", params={"kind": "fast"}).status_code == 400  # the API's "bad input"


def test_review_queue_and_verdicts_need_a_token(seeded: LiveServer) -> None:
    queue = ok(seeded, "/api/v1/review")
    (item,) = queue["items"]
    refused = seeded.post(f"/api/v1/review/{item['id']}", json={"verdict": "wrong"})
    assert refused.status_code == 401
    marked = seeded.post(
        f"/api/v1/review/{item['id']}", json={"verdict": "wrong", "note": "refund above payment"}, headers=seeded.auth()
    )
    assert marked.status_code == 200 and marked.json()["verdict"] == "wrong"
    assert ok(seeded, "/api/v1/review")["total"] == 0
    assert ok(seeded, "/api/v1/review", status="wrong")["items"][0]["note"] == "refund above payment"
    assert seeded.post("/api/v1/review/zzzzzz", json={"verdict": "ok"}, headers=seeded.auth()).status_code == 404
    assert (
        seeded.post(f"/api/v1/review/{item['id']}", json={"verdict": "meh"}, headers=seeded.auth()).status_code == 400
    )


def test_gate_runs_posted_and_listed(seeded: LiveServer) -> None:
    document = {
        "findings": [{"rule": "CW301", "severity": "high", "path": "shop/pricing.py", "line": 2}],
        "counts": {"high": 1},
    }
    assert seeded.post("/api/v1/checks", json={"document": document}).status_code == 401
    made = seeded.post("/api/v1/checks", json={"document": document, "revision": "abc"}, headers=seeded.auth())
    assert made.status_code == 200
    runs = ok(seeded, "/api/v1/checks")
    assert (
        runs["total"] == 1 and runs["items"][0]["counts"] == {"high": 1} and runs["items"][0]["source"] == "api (tests)"
    )
    detail = ok(seeded, f"/api/v1/checks/{made.json()['id']}")
    assert detail["findings"][0]["rule"] == "CW301" and detail["revision"] == "abc"
    assert seeded.get("/api/v1/checks/nope").status_code == 404
    not_a_run = seeded.post("/api/v1/checks", json={"document": {"x": 1}}, headers=seeded.auth())
    assert not_a_run.status_code == 400


def test_openapi_schema_lists_every_route(seeded: LiveServer) -> None:
    schema = ok(seeded, "/api/v1/openapi.json")
    paths = set(schema["paths"])
    assert {
        "/api/v1/ingest",
        "/api/v1/functions",
        "/api/v1/functions/{name}",
        "/api/v1/functions/{name}/series",
        "/api/v1/files",
        "/api/v1/files/{path}",
        "/api/v1/generations",
        "/api/v1/generations/{ref}",
        "/api/v1/prompts",
        "/api/v1/prompts/{name}",
        "/api/v1/exceptions",
        "/api/v1/breaches",
        "/api/v1/samples",
        "/api/v1/invariants",
        "/api/v1/review",
        "/api/v1/review/{item}",
        "/api/v1/checks",
        "/api/v1/checks/{run_id}",
        "/api/v1/overview",
        "/api/v1/sources",
        "/api/v1/insights",
    } <= paths
    assert not any(p.startswith(("/functions", "/code", "/review")) for p in paths), "pages stay out of the schema"


def test_auth_read_asks_for_a_token_to_read(db_url: str, live_server: Any) -> None:
    server = live_server(db_url, auth="read")
    assert server.get("/api/v1/functions").status_code == 401
    assert server.get("/api/v1/functions", headers=server.auth()).status_code == 200
    page = server.get("/functions", headers={"Accept": "text/html"}, allow_redirects=False)
    assert page.status_code == 303 and page.headers["Location"].startswith("/login?next=")
