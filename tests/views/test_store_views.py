"""The read models over runtime facts: runtime rollup, invariants, review queue (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from codewitness.errors import InputError, UsageError
from codewitness.ingest import ingest_batch
from codewitness.invariants import Rule
from codewitness.store import Store
from codewitness.store.invariants import mark_review
from codewitness.views.invariants import invariant_table
from codewitness.views.review import review_queue
from codewitness.views.runtime import runtime_view
from tests.runtime_records import T0, aggregate, invariant, review


def test_the_rollup_covers_every_match_while_the_list_is_limited(store: Store) -> None:
    ingest_batch(
        store,
        [
            aggregate("a.ai", [1000] * 10, {"E": 2}),
            aggregate("a.mixed", [1000] * 5, origin="mixed", models=["gpt-5"]),
            aggregate("h.one", [1000] * 20, {"E": 1}, origin="human"),
            aggregate("u.one", [1000] * 3, origin="unknown"),
        ],
        source="test",
    )
    view = runtime_view(store, sort="calls", limit=1)
    assert [s["function"] for s in view.functions] == ["h.one"] and view.total == 4
    assert [(g.label, g.functions, g.calls, g.errors) for g in view.groups] == [
        ("AI-written", 2, 15, 2),
        ("human/unknown", 2, 23, 1),
    ]
    assert view.groups[0].error_rate == pytest.approx(2 / 15)
    assert dict(view.models) == {"claude-sonnet-4-5": 1, "gpt-5": 1}
    assert runtime_view(store, function="a.*").total == 2
    with pytest.raises(UsageError):
        runtime_view(store, sort="slowest")
    with pytest.raises(UsageError):
        runtime_view(store, limit=0)


def test_invariants_reported_and_configured(store: Store) -> None:
    ingest_batch(
        store,
        [
            invariant("shop.refund", "refund_cap", passed=3, breached=1),
            invariant("shop.refund", "refund_cap", passed=2, breached=0, when=T0 + timedelta(minutes=1)),
            invariant("shop.total", "total_positive", passed=9, breached=0),
        ],
        source="test",
    )
    configured = [
        Rule(name="refund_cap", function="shop.refund", kind="ensure", text="result <= paid", source="config"),
        Rule(name="never_called", function="shop.unused", kind="require", text="x > 0", source="config"),
    ]
    table = invariant_table(store, configured)
    assert [(r["rule"], r["passed"], r["breached"], r["source"]) for r in table.rows] == [
        ("refund_cap", 5, 1, "decorator"),
        ("total_positive", 9, 0, "decorator"),
        ("never_called", 0, 0, "config"),
    ]
    assert [table.has_calls(r) for r in table.rows] == [True, True, False]
    assert invariant_table(store, (), since=T0 + timedelta(seconds=30)).rows[0]["passed"] == 2


def test_the_review_queue_by_status_with_counts(store: Store) -> None:
    ingest_batch(store, [review("shop.total", when=T0 + timedelta(minutes=n)) for n in range(4)], source="test")
    queue = review_queue(store)
    assert len(queue.items) == 4 and queue.counts == {"open": 4, "ok": 0, "wrong": 0}
    first, second = queue.items[0]["id"], queue.items[1]["id"]
    mark_review(store, first, "wrong", "off by one")
    mark_review(store, second, "ok")
    assert [i["id"] for i in review_queue(store, status="wrong").items] == [first]
    limited = review_queue(store, status="open", limit=1)
    assert len(limited.items) == 1 and limited.matching == 2 and limited.items[0]["verdict"] is None
    everything = review_queue(store, status="all")
    assert everything.counts == {"open": 2, "ok": 1, "wrong": 1} and everything.matching == 4
    assert everything.items[0]["note"] == "off by one"
    with pytest.raises(InputError, match="--status is one of open, ok, wrong, all"):
        review_queue(store, status="closed")
