"""Baselines, their checks and replay history in the store, on SQLite and PostgreSQL: a pin keeps
every case and is never rewritten, checks are kept newest first, deleting a baseline takes its
cases and checks, and replay rows add up to the flakiness per function."""

from __future__ import annotations

import pytest

from codewitness.errors import InputError, NotFoundError
from codewitness.store import Store
from codewitness.store.behavior import (
    baseline,
    baseline_cases,
    baseline_checks,
    baselines,
    delete_baseline,
    flakiness,
    pin_baseline,
    record_check,
    record_replay,
    replay_history,
)


def _case(function: str, n: int) -> dict[str, object]:
    return {
        "id": f"{function}-{n}",
        "function": function,
        "input_hash": f"h{n}",
        "input": {"n": n},
        "arguments": {"n": n},
        "outcome": {"ok": {"$": "decimal", "v": f"{n}.50"}},
        "outcome_hash": f"o{n}",
    }


def _check(name: str, differing: int, alarm: bool) -> dict[str, object]:
    return {
        "baseline": name,
        "revision": "abc",
        "dirty": False,
        "threshold": 0.02,
        "compared": 10,
        "equal": 10 - differing,
        "differing": differing,
        "errors": 0,
        "nondeterministic": 1,
        "share": differing / 10,
        "alarm": alarm,
        "summary": {"functions": []},
    }


def test_a_baseline_keeps_its_cases_and_checks_and_is_never_rewritten(store: Store) -> None:
    cases = [_case("shop.a", 1), _case("shop.a", 2), _case("shop.b", 3)]
    pinned = pin_baseline(store, name="v1", revision="abc", dirty=True, cases=cases, skipped={"non-deterministic": 2})
    assert (pinned["functions"], pinned["cases"], pinned["dirty"], pinned["skipped"]) == (
        ["shop.a", "shop.b"],
        3,
        True,
        {"non-deterministic": 2},
    )
    assert [c["outcome"] for c in baseline_cases(store, "v1", ["shop.a"])] == [
        {"ok": {"$": "decimal", "v": "1.50"}},
        {"ok": {"$": "decimal", "v": "2.50"}},
    ]
    with pytest.raises(InputError, match="never rewritten"):
        pin_baseline(store, name="v1", revision="def", dirty=False, cases=cases[:1], skipped={})
    assert baseline(store, "v1")["revision"] == "abc" and len(baseline_cases(store, "v1")) == 3
    record_check(store, _check("v1", 1, True))
    record_check(store, _check("v1", 0, False))
    assert [c["alarm"] for c in baseline_checks(store, "v1")] == [False, True]
    (listed,) = baselines(store)
    assert listed["last_check"]["differing"] == 0 and "summary" not in listed["last_check"]
    assert delete_baseline(store, "v1") == 3
    assert baselines(store) == [] and baseline_checks(store, "v1") == [] and baseline_cases(store, "v1") == []
    with pytest.raises(NotFoundError):
        baseline(store, "v1")
    with pytest.raises(NotFoundError):
        delete_baseline(store, "v1")


def test_replay_rows_add_up_to_the_flakiness_of_each_function(store: Store) -> None:
    counts = {"replayed": 4, "equal": 3, "differing": 0, "errors": 0, "nondeterministic": 1, "not_replayable": 2}
    record_replay(store, kind="same-rev", against=None, revision=None, functions=[{"function": "shop.pick", **counts}])
    record_replay(
        store,
        kind="against",
        against="abc",
        revision=None,
        functions=[
            {"function": "shop.pick", **counts, "nondeterministic": 2},
            {"function": "shop.total", **counts, "nondeterministic": 0},
        ],
    )
    assert [(r["function"], r["runs"], r["replayed"], r["nondeterministic"]) for r in flakiness(store)] == [
        ("shop.pick", 2, 8, 3),
        ("shop.total", 1, 4, 0),
    ]
    history = replay_history(store, function="shop.pick")
    assert sorted(r["kind"] for r in history) == ["against", "same-rev"]
    assert all(r["not_replayable"] == 2 for r in history)
