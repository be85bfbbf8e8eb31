"""Insights read from runtime facts on both backends: each kind is reported on the evidence its
rule asks for and not below it, names the function with its origin, and an acknowledged one
stays hidden until asked for.
"""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from codewitness.errors import InputError, NotFoundError
from codewitness.facts import Histogram
from codewitness.store import Store
from codewitness.views.insights import (
    MIN_CALLS,
    N_PLUS_ONE_MIN,
    acknowledge_insight,
    insight_id,
    insights,
    quantile_interval,
)
from tests.runtime_records import T0, aggregate, dependency, ingest, route

QUERY = "SELECT name FROM items WHERE id = ?"


def kinds(store: Store, **kw: object) -> list[tuple[str, str | None]]:
    return [(i.kind, i.function) for i in insights(store, **kw).insights]  # type: ignore[arg-type]


def test_a_statement_run_many_times_per_request_is_n_plus_one_with_its_function(store: Store) -> None:
    ingest(
        store,
        [
            dependency(QUERY, calls=50, requests=5),  # 10 per request, in every request
            dependency(QUERY, calls=30, requests=3, start=T0 + timedelta(seconds=10)),
            dependency("SELECT * FROM orders WHERE id = ?", calls=5, requests=5),  # once per request
            dependency("INSERT INTO audit (what) VALUES (?)", calls=40, requests=4),  # a write in a loop
            dependency("GET api.example.com/users/{id}", system="http", calls=24, requests=3),
        ],
    )
    found = insights(store).insights
    assert [i.kind for i in found] == ["n_plus_one", "chatty", "chatty"]
    assert found[0].evidence["statement"] == QUERY
    assert {i.evidence["statement"] for i in found[1:]} == {
        "INSERT INTO audit (what) VALUES (?)",
        "GET api.example.com/users/{id}",
    }
    n_plus_one = found[0]
    assert (n_plus_one.function, n_plus_one.route, n_plus_one.origin) == (
        "shop.orders.load_items",
        "/orders/{order_id}",
        "ai",
    )
    assert n_plus_one.generation_ids == ("gen_1",) and n_plus_one.models == ("claude-sonnet-4-5",)
    assert (n_plus_one.evidence["per_request"], n_plus_one.evidence["requests"]) == (10.0, 8)
    assert n_plus_one.evidence["max_per_request"] == 10 and n_plus_one.evidence["calls"] == 80
    key = ("shop.orders.load_items", "/orders/{order_id}", "GET", _fp(QUERY))
    assert n_plus_one.id == insight_id("n_plus_one", *key)  # from what it is about: the same everywhere


def _fp(statement: str) -> str:
    return dependency(statement)["fingerprint"]


def test_below_the_threshold_or_in_few_requests_is_no_n_plus_one(store: Store) -> None:
    ingest(
        store,
        [
            dependency(QUERY, calls=(N_PLUS_ONE_MIN - 1) * 4, requests=4),  # 4 per request: below
            # 6 in one request of ten: most requests ran it once.
            {**dependency("SELECT 1 FROM t WHERE a = ?", calls=15, requests=10), "repeated": 1, "max_per_request": 6},
        ],
    )
    assert insights(store).insights == ()


def test_a_statement_no_watched_function_issued_is_told_by_the_route_s_handler(store: Store) -> None:
    ingest(
        store,
        [
            dependency(QUERY, function=None, calls=20, requests=2),
            route("/orders/{order_id}", [1_000_000] * 2, function="shop.api.order_page", origin="human"),
        ],
    )
    (found,) = insights(store).insights
    assert (found.function, found.origin) == ("shop.api.order_page", "human")
    assert found.evidence["issued_by"] == "route handler (no watched function issued it)"


def _latencies(rng: random.Random, center_ns: int, n: int) -> list[int]:
    return [int(rng.gauss(center_ns, center_ns * 0.1)) for _ in range(n)]


def test_a_function_slower_at_its_newest_revision_is_reported_with_the_generation_that_changed_it(
    store: Store,
) -> None:
    rng = random.Random(7)
    old = aggregate("shop.pricing.quote", _latencies(rng, 1_000_000, 200), revision="r1")
    new = aggregate("shop.pricing.quote", _latencies(rng, 3_000_000, 200), revision="r2", start=T0 + timedelta(hours=1))
    new["generation_ids"] = ["gen_1", "gen_2"]
    steady_old = aggregate("shop.pricing.tax", _latencies(rng, 1_000_000, 200), revision="r1")
    steady_new = aggregate(
        "shop.pricing.tax", _latencies(rng, 1_020_000, 200), revision="r2", start=T0 + timedelta(hours=1)
    )
    ingest(store, [old, new, steady_old, steady_new])
    (slower,) = insights(store).insights
    assert (slower.kind, slower.function, slower.revision) == ("slower", "shop.pricing.quote", "r2")
    assert slower.generation_ids == ("gen_2",)  # the generation new at r2
    assert slower.evidence["previous"] == "r1" and 2.5 < slower.evidence["ratio"] < 3.5
    assert slower.evidence["p95_ci_ms"][0] > slower.evidence["previous_p95_ci_ms"][1]
    assert "r1 -> r2" in slower.title


def test_a_slowdown_on_too_few_calls_or_within_the_noise_is_not_reported(store: Store) -> None:
    rng = random.Random(11)
    later = T0 + timedelta(hours=1)
    ingest(
        store,
        [
            aggregate("shop.a", _latencies(rng, 1_000_000, MIN_CALLS - 1), revision="r1"),
            aggregate("shop.a", _latencies(rng, 9_000_000, MIN_CALLS - 1), revision="r2", start=later),
            # 1.5 times the p95, from two tails of a few calls: the 95% intervals overlap.
            aggregate("shop.b", [1_000_000] * 28 + [10_000_000] * 2, revision="r1"),
            aggregate("shop.b", [1_000_000] * 27 + [15_000_000] * 3, revision="r2", start=later),
        ],
    )
    assert kinds(store) == []


def test_an_error_rate_jump_is_significant_or_not_reported(store: Store) -> None:
    later = T0 + timedelta(hours=1)
    ingest(
        store,
        [
            aggregate("shop.pay", [1_000] * 1000, {"ValueError": 2}, revision="r1"),
            aggregate("shop.pay", [1_000] * 1000, {"ValueError": 40}, revision="r2", start=later),
            aggregate("shop.refund", [1_000] * 40, {"ValueError": 1}, revision="r1"),
            aggregate("shop.refund", [1_000] * 40, {"ValueError": 3}, revision="r2", start=later),  # z < 3
        ],
    )
    (jump,) = insights(store).insights
    assert (jump.kind, jump.function, jump.revision) == ("error_jump", "shop.pay", "r2")
    assert (jump.evidence["previous_error_rate"], jump.evidence["error_rate"]) == (0.002, 0.04)
    assert jump.evidence["z"] > 5


def test_a_route_that_slows_down_under_load_is_reported_with_its_handler(store: Store) -> None:
    ingest(
        store,
        [
            route(
                "/search",
                [2_000_000] * 60,
                function="shop.api.search",
                concurrency={"1": [30, 30 * 2_000_000], "2": [10, 10 * 2_500_000], "5-8": [20, 20 * 9_000_000]},
            ),
            route(
                "/health",
                [100_000] * 60,
                function="shop.api.health",
                concurrency={"1": [30, 30 * 100_000], "5-8": [30, 30 * 110_000]},
            ),
        ],
    )
    (scaling,) = insights(store).insights
    assert (scaling.kind, scaling.route, scaling.function) == ("scaling", "/search", "shop.api.search")
    assert scaling.evidence["ratio"] == 4.5
    assert scaling.evidence["mean_ms_by_in_flight"] == {"1": 2.0, "2": 2.5, "5-8": 9.0}


def test_filters_acknowledgement_and_ids(store: Store) -> None:
    ingest(
        store,
        [
            dependency(QUERY, calls=50, requests=5),
            dependency(
                "SELECT * FROM notes WHERE id = ?", function="shop.notes.load", origin="human", calls=60, requests=6
            ),
        ],
    )
    assert [i.function for i in insights(store, origin="ai").insights] == ["shop.orders.load_items"]
    assert [i.function for i in insights(store, origin="human").insights] == ["shop.notes.load"]
    assert insights(store, kinds=["slower"]).insights == ()
    first = insights(store).insights[0]
    assert first.id == insights(store).insights[0].id and first.id.startswith("ins_")
    acknowledged = acknowledge_insight(store, first.id[:10], note="known; fix in #42")
    assert acknowledged.acknowledged is not None and acknowledged.acknowledged.note == "known; fix in #42"
    listed = insights(store)
    assert [i.id for i in listed.insights] != [first.id] and first.id not in [i.id for i in listed.insights]
    assert listed.acknowledged_hidden == 1
    again = [i for i in insights(store, include_acknowledged=True).insights if i.id == first.id]
    assert again[0].acknowledged is not None
    with pytest.raises(NotFoundError):
        acknowledge_insight(store, "ins_ffffffffffffffff")
    with pytest.raises(InputError):
        acknowledge_insight(store, "ins_")  # both match
    with pytest.raises(InputError, match="unknown insight kind"):
        insights(store, kinds=["fast"])
    with pytest.raises(InputError, match="--origin"):
        insights(store, origin="robot")


def test_an_empty_answer_says_why(store: Store) -> None:
    assert "no runtime facts" in (insights(store).note or "")
    ingest(store, [dependency(QUERY, calls=2, requests=2)])
    assert (insights(store).note or "").startswith("no insights")
    assert "no runtime facts since" in (insights(store, since=T0 + timedelta(days=1)).note or "")


def test_a_quantile_s_interval_holds_the_quantile_and_narrows_with_more_calls() -> None:
    rng = random.Random(3)
    few, many = Histogram(), Histogram()
    for _ in range(50):
        few.record(int(rng.expovariate(1e-6)))
    for _ in range(5000):
        many.record(int(rng.expovariate(1e-6)))
    low, p95, high = quantile_interval(few, 0.95)
    assert low <= p95 <= high
    many_low, many_p95, many_high = quantile_interval(many, 0.95)
    assert many_low <= many_p95 <= many_high
    assert (many_high - many_low) / many_p95 < (high - low) / p95
    assert quantile_interval(Histogram(), 0.95) == (0.0, 0.0, 0.0)
