"""Live problems and incidents on a real store (SQLite and PostgreSQL), and the hook's sqlite3 path."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codewitness.errors import InputError, NotFoundError
from codewitness.store import Store
from codewitness.store.incidents import add_tag
from codewitness.store.problems import sqlite_rows, store_rows
from codewitness.views.incidents import TOP_FRAMES, find_incident, incident_id, incident_stats, list_incidents
from codewitness.views.problems import MIN_CALLS, file_problems, problems_view
from tests.runtime_records import T0, aggregate, breach, exception, ingest

SINCE = T0 - timedelta(days=1)


def _view(store: Store, **kw: Any) -> Any:
    with store_rows(store) as rows:
        return problems_view(rows, **kw)


def _file(store: Store, paths: list[str], **kw: Any) -> Any:
    with store_rows(store) as rows:
        return file_problems(rows, paths, **kw)


def _exc(function: str, frames: list[tuple[str, int, str]], *, type_: str = "ValueError", **kw: Any) -> dict[str, Any]:
    record = exception(function, "boom", **kw)
    record["type"] = type_
    record["stack"] = [{"file": f, "line": n, "function": name} for f, n, name in frames]
    return record


def _later(minutes: float) -> Any:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
def facts(store: Store) -> Store:
    """``total`` raises and got worse at r2; ``quote`` got slower at r2; ``fine`` is fine; ``tidy`` (human) raises."""
    ingest(
        store,
        [
            aggregate("shop.pricing.total", [1_000] * 40, {"ValueError": 1}, revision="r1"),
            aggregate("shop.pricing.total", [1_000] * 40, {"ValueError": 12}, revision="r2", start=_later(5)),
            aggregate("shop.pricing.quote", [1_000] * 30, revision="r1"),
            aggregate("shop.pricing.quote", [5_000] * 30, revision="r2", start=_later(5)),
            aggregate("shop.pricing.fine", [1_000] * 30, revision="r1"),
            aggregate("shop.pricing.fine", [1_000] * 30, revision="r2", start=_later(5)),
            aggregate("shop.util.tidy", [1_000] * 5, {"KeyError": 2}, origin="human", path="shop/util.py"),
            _exc("shop.pricing.total", [("/srv/shop/pricing.py", 14, "total")], when=_later(1)),
            _exc("shop.pricing.total", [("/srv/shop/pricing.py", 15, "total")], when=_later(6), revision="r2"),
            _exc(
                "shop.pricing.total",
                [("/srv/shop/pricing.py", 16, "total"), ("/srv/shop/money.py", 3, "to_cents")],
                when=_later(7),
                revision="r2",
            ),
            _exc(
                "shop.util.tidy",
                [("/srv/shop/util.py", 3, "tidy")],
                type_="KeyError",
                origin="human",
                path="shop/util.py",
            ),
            breach("shop.pricing.total", "total_not_negative", when=_later(2)),
            breach("shop.pricing.total", "total_not_negative", when=_later(8), revision="r2"),
        ],
    )
    return store


def test_problems_rank_functions_and_say_what_is_wrong(facts: Store) -> None:
    view = _view(facts, since=SINCE)
    assert [(f.function, f.kinds) for f in view.functions] == [
        ("shop.pricing.total", ("exception", "breach", "regression")),
        ("shop.pricing.quote", ("slowdown",)),
    ]
    total = view.functions[0]
    assert total.exception_types == {"ValueError": 3} and total.breach_rules == {"total_not_negative": 2}
    assert total.latest_exception is not None and total.latest_exception["where"] == "/srv/shop/money.py:3"
    assert total.latest_exception["arguments"] == {"sku": "x"} and total.latest_exception["revision"] == "r2"
    assert total.revisions is not None and (total.revisions.revision, total.revisions.previous) == ("r2", "r1")
    assert total.revisions.error_rate == pytest.approx(12 / 40)
    assert total.revisions.previous_error_rate == pytest.approx(1 / 40)
    quote = view.functions[1].revisions
    assert quote is not None and quote.mean_ms == pytest.approx(5 * quote.previous_mean_ms)
    assert view.total == 2 and view.note is None

    everyone = _view(facts, since=SINCE, origin="any")
    # One kind of problem each: the one with events first.
    assert [f.function for f in everyone.functions] == ["shop.pricing.total", "shop.util.tidy", "shop.pricing.quote"]
    human = _view(facts, since=SINCE, origin="human")
    assert [f.function for f in human.functions] == ["shop.util.tidy"]
    later = _view(facts, since=_later(60))
    assert later.functions == () and "no exceptions, broken invariants" in (later.note or "")


def test_too_few_calls_are_not_compared(store: Store) -> None:
    ingest(
        store,
        [
            aggregate("a.f", [1_000] * (MIN_CALLS - 1), revision="r1"),
            aggregate("a.f", [9_000] * (MIN_CALLS - 1), {"E": 5}, revision="r2", start=_later(5)),
        ],
    )
    assert _view(store, since=SINCE).functions == ()


def test_an_empty_store_says_why(store: Store) -> None:
    view = _view(store, since=SINCE)
    assert view.functions == () and "no runtime facts" in (view.note or "")
    with pytest.raises(ValueError, match="origin is one of"):
        _view(store, since=SINCE, origin="robots")


def test_the_hooks_sqlite3_reader_sees_the_same_problems_by_file(facts: Store, db_url: str) -> None:
    by_store = _file(facts, ["shop/pricing.py"], since=SINCE)
    assert [f.function for f in by_store] == ["shop.pricing.total", "shop.pricing.quote"]
    assert _file(facts, ["shop/other.py"], since=SINCE) == []
    if not db_url.startswith("sqlite"):
        return
    conn = sqlite3.connect(f"file:{db_url.removeprefix('sqlite:///')}?mode=ro", uri=True)
    try:
        assert file_problems(sqlite_rows(conn), ["shop/pricing.py"], since=SINCE) == by_store
    finally:
        conn.close()


def _same_by_file_and_everywhere(store: Store, db_url: str, path: str) -> list[Any]:
    """The problems of ``path``: the same by file, everywhere, and through the hook's sqlite3 reader."""
    everywhere = [f for f in _view(store, since=SINCE, origin="any").functions if f.path == path]
    by_file = _file(store, [path], since=SINCE)
    assert by_file == everywhere
    if db_url.startswith("sqlite"):
        conn = sqlite3.connect(f"file:{db_url.removeprefix('sqlite:///')}?mode=ro", uri=True)
        try:
            assert file_problems(sqlite_rows(conn), [path], since=SINCE) == by_file
        finally:
            conn.close()
    return by_file


def test_a_function_is_as_its_newest_interval_says(store: Store, db_url: str) -> None:
    # r2 was first reported by a process without the manifest (origin unknown), then with it (ai).
    # Before: the origin of a revision was the greatest text of its intervals ('unknown' > 'ai'),
    # so the regression of an AI-written function was missing from problems(origin="ai").
    ingest(
        store,
        [
            aggregate("shop.pricing.total", [1_000] * 40, revision="r1"),
            aggregate("shop.pricing.total", [1_000] * 40, {"E": 9}, revision="r2", origin="unknown", start=_later(5)),
            aggregate("shop.pricing.total", [1_000] * 40, {"E": 9}, revision="r2", start=_later(6)),
        ],
    )
    view = _view(store, since=SINCE)
    assert [(f.function, f.kinds, f.origin) for f in view.functions] == [("shop.pricing.total", ("regression",), "ai")]
    assert _same_by_file_and_everywhere(store, db_url, "shop/pricing.py") == list(view.functions)


def test_revisions_compare_across_a_move_and_an_unknown_revision(store: Store, db_url: str) -> None:
    # No revision (None) before, r2 after; r2 reported from the old file and the new one (the
    # function moved while both ran): one revision with both files' calls.
    ingest(
        store,
        [
            aggregate("shop.pricing.total", [1_000] * 40, revision=None),
            aggregate("shop.pricing.total", [1_000] * 20, {"E": 4}, revision="r2", start=_later(5)),
            aggregate(
                "shop.pricing.total", [1_000] * 20, {"E": 4}, revision="r2", path="shop/money.py", start=_later(6)
            ),
        ],
    )
    (total,) = _view(store, since=SINCE).functions
    assert total.revisions is not None and (total.revisions.revision, total.revisions.previous) == ("r2", None)
    assert (total.revisions.calls, total.revisions.errors, total.revisions.previous_calls) == (40, 8, 40)
    # By file, each file's own intervals: the old one still compares r2 (20 calls) with no revision.
    (old,) = _file(store, ["shop/pricing.py"], since=SINCE)
    assert old.revisions is not None and (old.revisions.revision, old.revisions.previous) == ("r2", None)
    assert (old.revisions.calls, old.revisions.errors, old.revisions.previous_calls) == (20, 4, 40)
    assert _file(store, ["shop/money.py"], since=SINCE) == []  # r2 alone there: nothing to compare
    if db_url.startswith("sqlite"):
        conn = sqlite3.connect(f"file:{db_url.removeprefix('sqlite:///')}?mode=ro", uri=True)
        try:
            assert file_problems(sqlite_rows(conn), ["shop/pricing.py"], since=SINCE) == [old]
        finally:
            conn.close()


def test_incidents_group_by_function_type_and_top_frames(facts: Store) -> None:
    found = list_incidents(facts)
    exceptions = [i for i in found.incidents if i.kind == "exception"]
    total = sorted((i for i in exceptions if i.function == "shop.pricing.total"), key=lambda i: len(i.frames))
    # Two places raise in total(): its own line (moved between revisions: one incident) and to_cents below it.
    assert [i.frames for i in total] == [("total (pricing.py)",), ("total (pricing.py)", "to_cents (money.py)")]
    assert [i.events for i in total] == [2, 1]
    assert [i.count for i in total] == [2, 1]  # two places for one type: the counted errors cannot be split
    assert total[0].revisions == ("r1", "r2") and total[0].origin == "ai" and total[0].generation_ids == ("gen_1",)
    (tidy,) = [i for i in exceptions if i.function == "shop.util.tidy"]
    assert tidy.count == 2 and tidy.events == 1  # one place: every counted KeyError belongs to it
    (broken,) = [i for i in found.incidents if i.kind == "breach"]
    assert (broken.key, broken.count, broken.frames) == ("total_not_negative", 2, ())
    assert broken.id == incident_id("breach", "shop.pricing.total", "total_not_negative")

    assert {i.function for i in list_incidents(facts, origin="human").incidents} == {"shop.util.tidy"}
    assert len(list_incidents(facts, origin="ai").incidents) == 3
    assert list_incidents(facts, since=_later(7.5)).total == 1  # only the newest breach is that recent
    assert list_incidents(facts, limit=1).total == 4
    with pytest.raises(InputError, match="origin is one of"):
        list_incidents(facts, origin="robots")


def test_an_incident_is_found_by_prefix_and_tagged(facts: Store) -> None:
    first = list_incidents(facts).incidents[0]
    assert find_incident(facts, first.id[:9]).id == first.id
    with pytest.raises(NotFoundError, match="no incident inc_zzzz"):
        find_incident(facts, "inc_zzzz")
    with pytest.raises(InputError, match="name an incident"):
        find_incident(facts, " ")
    add_tag(facts, first.id, cause="human", note="config typo")
    add_tag(facts, first.id, cause="ai", note="the generated loop", link="https://example.com/pm/1")
    tagged = find_incident(facts, first.id).tag
    assert tagged is not None and (tagged.cause, tagged.link) == ("ai", "https://example.com/pm/1")
    with pytest.raises(InputError, match="--cause is one of"):
        add_tag(facts, first.id, cause="robots")
    with pytest.raises(InputError, match="--link must be"):
        add_tag(facts, first.id, cause="ai", link="javascript:alert(1)")


def test_incident_rate_per_thousand_calls_by_month_and_origin(facts: Store) -> None:
    rows = {(r["period"], r["origin"]): r for r in incident_stats(facts).rows}
    assert set(rows) == {("2026-11", "ai"), ("2026-11", "human")}
    ai = rows[("2026-11", "ai")]
    assert ai["incidents"] == 3 and ai["calls"] == 40 + 40 + 30 + 30 + 30 + 30
    assert ai["per_1k_calls"] == pytest.approx(3 * 1000 / 200)
    assert rows[("2026-11", "human")]["per_1k_calls"] == pytest.approx(1 * 1000 / 5)
    (all_time,) = incident_stats(facts, by_month=False, by_origin=False).rows
    assert all_time["incidents"] == 4 and all_time["calls"] == 205


_frame = st.tuples(
    st.sampled_from(["/srv/a.py", "/opt/app/a.py", "/srv/b.py"]), st.integers(1, 500), st.sampled_from(["f", "g"])
)


@settings(max_examples=100, deadline=None)
@given(stack=st.lists(_frame, min_size=1, max_size=8), moved=st.integers(0, 50))
def test_a_fingerprint_ignores_lines_and_folders_but_not_the_top_frames(
    stack: list[tuple[str, int, str]], moved: int
) -> None:
    from codewitness.views.incidents import _top_frames

    shifted = [(f.replace("/srv/", "/opt/app/"), n + moved, name) for f, n, name in stack]
    as_json = [{"file": f, "line": n, "function": name} for f, n, name in stack]
    assert _top_frames(as_json) == _top_frames([{"file": f, "line": n, "function": x} for f, n, x in shifted])
    assert len(_top_frames(as_json)) == min(TOP_FRAMES, len(stack))
    other = [*as_json[:-1], {**as_json[-1], "function": as_json[-1]["function"] + "_x"}]
    assert _top_frames(other) != _top_frames(as_json)


def test_blast_radius_and_stack_origins_come_from_the_repository(store: Store, tmp_path: Path) -> None:
    # Covered end to end in tests/test_mcp.py (a real captured project); here: without one, it says so.
    ingest(store, [_exc("shop.pricing.total", [("/srv/shop/pricing.py", 14, "total")])])
    from codewitness.views.incidents import incident_detail

    first = list_incidents(store).incidents[0]
    detail = incident_detail(store, first.id)
    assert detail.reach is None and "not inside the repository" in (detail.note or "")
    assert [f["origin"] for f in detail.stack] == ["ai"]  # the failing function's own frame, from the runtime facts
    assert detail.samples[0]["arguments"] == {"sku": "x"}


def test_error_counts_of_some_functions_are_those_of_all_kept_for_them(store: Store) -> None:
    from codewitness.store.incidents import error_counts

    ingest(
        store,
        [
            aggregate("a.f", [1_000] * 4, {"ValueError": 2, "KeyError": 1}),
            aggregate("a.f", [1_000] * 4, {"ValueError": 1}, start=_later(1)),
            aggregate("a.g", [1_000] * 4, {"OSError": 3}),
            aggregate("a.g", [1_000] * 4, {"OSError": 3}, host="h2"),  # the same map twice: counted twice
            aggregate("a.h", [1_000] * 4),
        ],
    )
    every = error_counts(store)
    assert [(c.function, c.type, c.count) for c in every] == [
        ("a.f", "KeyError", 1),
        ("a.f", "ValueError", 3),
        ("a.g", "OSError", 6),
    ]
    # More names than one statement holds: read in several.
    names = {"a.f", "a.h", *(f"b.f{i}" for i in range(1_200))}
    assert error_counts(store, functions=names) == [c for c in every if c.function in names]
    assert error_counts(store, functions=set()) == []
    assert error_counts(store, since=_later(1), functions={"a.f"}) == error_counts(store, since=_later(1))
