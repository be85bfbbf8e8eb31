"""The read models behind the dashboard and the HTTP API, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from codewitness import ledger
from codewitness.attribution.report import Report, Shares
from codewitness.errors import NotFoundError, UsageError
from codewitness.model import Generation, utcnow
from codewitness.store import Store
from codewitness.store.events import Scope, exception_rows
from codewitness.store.gate_runs import record_gate_run
from codewitness.store.tokens import create_token, open_session, revoke_token, session_token, verify_token
from codewitness.views.catalog import code_tree, function_catalog
from codewitness.views.checks import gate_run_detail, gate_run_list
from codewitness.views.ledger_lists import generation_list, prompt_detail
from codewitness.views.paging import Page
from codewitness.views.timeline import runtime_series, runtime_sides
from tests.runtime_records import T0, aggregate, breach, exception, ingest


def test_the_catalog_filters_by_origin_searches_sorts_and_pages(store: Store) -> None:
    ingest(
        store,
        [
            aggregate("shop.a", [1000] * 3, {"ValueError": 2}),
            aggregate("shop.b", [5_000_000] * 5),
            aggregate("admin.c", [10] * 9, origin="human"),
            breach("shop.b", "rule"),
        ],
    )
    every = function_catalog(store, None, sort="calls")
    assert [e["function"] for e in every.items] == ["admin.c", "shop.b", "shop.a"]
    assert function_catalog(store, None, sort="errors").items[0]["function"] == "shop.a"
    assert function_catalog(store, None, sort="p95").items[0]["function"] == "shop.b"
    assert function_catalog(store, None, sort="breaches").items[0]["breaches"] == 1
    assert [e["function"] for e in function_catalog(store, None, origin="human").items] == ["admin.c"]
    assert function_catalog(store, None, origin="ai+mixed").total == 2
    assert [e["function"] for e in function_catalog(store, None, search="ADMIN").items] == ["admin.c"]
    second = function_catalog(store, None, sort="name", limit=1, offset=1)
    assert (second.total, [e["function"] for e in second.items], second.more) == (3, ["shop.a"], True)
    with pytest.raises(UsageError, match="origin is one of"):
        function_catalog(store, None, origin="robots")
    with pytest.raises(UsageError, match="limit"):
        function_catalog(store, None, limit=0)


def test_the_runtime_series_buckets_intervals_by_time(store: Store) -> None:
    ingest(
        store,
        [
            aggregate("shop.a", [1_000_000] * 4, {"TypeError": 1}, start=T0),
            aggregate("shop.a", [1_000_000] * 2, start=T0 + timedelta(seconds=30)),
            aggregate("shop.a", [9_000_000] * 6, start=T0 + timedelta(minutes=10)),
            aggregate("shop.other", [1] * 50, start=T0),
        ],
    )
    series = runtime_series(store, "shop.a", buckets=2)
    assert [p["calls"] for p in series.points] == [6, 6]
    assert series.errors_by_type == {"TypeError": [1, 0]}
    first, last = series.points
    assert 0.9 < first["p95_ms"] < 1.2 and 8 < last["p95_ms"] < 10
    assert series.bucket_seconds == 300.0
    assert runtime_series(store, "shop.none").points == ()
    assert sum(p["calls"] for p in runtime_series(store, "shop.a", since=T0 + timedelta(minutes=5)).points) == 6


def test_ai_written_and_human_code_side_by_side(store: Store) -> None:
    ingest(
        store,
        [
            aggregate("shop.a", [2_000_000] * 10, {"ValueError": 1}),
            aggregate("shop.h", [1000] * 30, origin="human"),
            breach("shop.a", "r"),
            breach("shop.a", "r"),
            breach("shop.h", "r", origin="human"),
        ],
    )
    ai, human = runtime_sides(store)
    assert (ai.functions, ai.calls, ai.errors, ai.breaches) == (1, 10, 1, 2)
    assert (human.functions, human.calls, human.errors, human.breaches) == (1, 30, 0, 1)
    assert ai.p95_ms > human.p95_ms and ai.error_rate == 0.1


def test_exceptions_page_by_scope(store: Store) -> None:
    ingest(store, [exception("shop.a", f"m{i}", when=T0 + timedelta(seconds=i)) for i in range(5)])
    ingest(store, [exception("shop.b", "other", service="admin")])
    rows, total = exception_rows(store, Scope(function="shop.a"), limit=2, offset=1)
    assert total == 5 and [r["message"] for r in rows] == ["m3", "m2"]
    assert rows[0]["where"] == "shop/pricing.py:14" and rows[0]["arguments"] == {"sku": "x"}
    assert exception_rows(store, Scope(service="admin"), limit=10)[1] == 1


def test_the_code_tree_sums_folders_and_lists_folders_first() -> None:
    report = Report(root="/r", revision="c")
    report.modules = {
        "b.py": Shares(lines=10, human=10),
        "pkg/sub/x.py": Shares(lines=4, ai=4),
        "pkg/a.py": Shares(lines=6, ai=1, mixed=1, human=4),
    }
    nodes = code_tree(report)
    assert [n["path"] for n in nodes] == ["", "pkg", "pkg/sub", "pkg/sub/x.py", "pkg/a.py", "b.py"]
    by_path = {n["path"]: n for n in nodes}
    assert (by_path[""]["lines"], by_path[""]["ai"], by_path[""]["mixed"]) == (20, 5, 1)
    assert by_path["pkg"]["ai_share"] == 0.6 and by_path["pkg/sub"]["ai_share"] == 1.0
    assert by_path["pkg/sub/x.py"]["depth"] == 3 and by_path["pkg"]["kind"] == "dir"


def test_generations_page_and_a_prompts_diffs(store: Store) -> None:
    for n, text in enumerate(["v one\n", "v two\n", "v three\n"]):
        ledger.record(
            store,
            Generation.create(
                agent="api",
                model="m1" if n else "m0",
                prompt=text,
                output=f"x = {n}\n",
                prompt_name="p",
                created_at=utcnow() + timedelta(days=2 * n),
            ),
        )
    page = generation_list(store, limit=2)
    assert page.total == 3 and len(page.items) == 2 and page.items[0]["output_lines"] == 1
    assert generation_list(store, model="m0").total == 1
    detail = prompt_detail(store, "p")
    assert [(d.old, d.new) for d in detail.diffs] == [(1, 2), (2, 3)]
    assert "-v one" in detail.diffs[0].text and "+v two" in detail.diffs[0].text
    assert detail.days_per_change is not None and detail.to_dict()["changes"] == 2
    with pytest.raises(NotFoundError):
        prompt_detail(store, "nope")


def test_gate_runs_newest_first_with_findings_by_severity(store: Store) -> None:
    findings = [
        {"rule": "CW307", "severity": "medium", "path": "a.py", "line": 3},
        {"rule": "CW301", "severity": "high", "path": "b.py", "line": 9},
        {"rule": "CW301", "severity": "high", "path": "a.py", "line": 1},
    ]
    first = record_gate_run(store, {"findings": [], "counts": {}}, revision="r1", source="ci")
    second = record_gate_run(
        store, {"findings": findings, "counts": {"high": 2, "medium": 1}}, revision="r2", source="ci"
    )
    page = gate_run_list(store)
    assert [r["id"] for r in page.items] == [second, first] and page.items[0]["findings"] == 3
    detail = gate_run_detail(store, second)
    assert [(f["rule"], f["path"]) for f in detail.findings] == [
        ("CW301", "a.py"),
        ("CW301", "b.py"),
        ("CW307", "a.py"),
    ]
    assert detail.by_rule == {"CW301": 2, "CW307": 1}
    with pytest.raises(NotFoundError):
        gate_run_detail(store, "missing")


def test_tokens_and_sessions(store: Store) -> None:
    made = create_token(store, "ci")
    assert verify_token(store, made.secret) == made.info
    assert verify_token(store, made.secret + "x") is None and verify_token(store, "plain") is None
    session = open_session(store, made.info)
    assert session_token(store, session) == made.info and session_token(store, "other") is None
    revoke_token(store, made.info.id)
    assert verify_token(store, made.secret) is None and session_token(store, session) is None
    with pytest.raises(NotFoundError):
        revoke_token(store, "nope")


@given(st.lists(st.integers(), max_size=40), st.integers(1, 20), st.integers(0, 50))
def test_a_page_is_a_window_of_the_list(items: list[int], limit: int, offset: int) -> None:
    page = Page.of(items, limit=limit, offset=offset)
    assert list(page.items) == items[offset : offset + limit] and page.total == len(items)
    assert page.more == (offset + limit < len(items))
