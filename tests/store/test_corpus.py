"""The replay corpus in the store, on SQLite and PostgreSQL: samples join it as they are ingested
(one entry per distinct input, sightings counted, a segment ingested twice adds nothing), inputs
that cannot be replayed are kept with their reason, people's entries and corrected expectations
come in through ``corpus add`` and review verdicts, and pruning removes only sampled entries."""

from __future__ import annotations

from datetime import timedelta

import pytest
from tests.runtime_records import T0, ingest, review, sample

from codewitness.behavior.corpus import add_user_entry
from codewitness.errors import InputError
from codewitness.sensor.exact import digest
from codewitness.store import Store
from codewitness.store.corpus import corpus_counts, corpus_entries, input_hash, prune
from codewitness.store.invariants import mark_review, regression_cases


def test_samples_join_the_corpus_once_per_distinct_input(store: Store) -> None:
    batch = [
        sample("shop.total", {"amount": 3, "qty": 1}, 3, revision="r1"),
        sample("shop.total", {"amount": 3, "qty": 1}, 3, revision="r2", when=T0 + timedelta(hours=1)),
        sample("shop.total", {"amount": 3.0, "qty": 1}, 3.0),  # 3.0 is another input than 3
        sample("shop.other", {"x": None}, None),
    ]
    assert ingest(store, batch).inserted == 4
    assert ingest(store, batch).inserted == 0  # the same records again: nothing new, no sighting added
    entries = corpus_entries(store, functions=["shop.total"])
    assert [(e.seen, e.revisions, e.source) for e in entries] == [(2, ("r1", "r2"), "sample"), (1, ("r1",), "sample")]
    first = entries[0]
    assert first.input == {"amount": 3, "qty": 1} and first.observed == {"ok": 3}
    assert first.input_hash == digest(first.input) == input_hash(first.input, None)  # one identity, two codes
    assert first.last_seen == T0 + timedelta(hours=1)
    counts = {row["function"]: row for row in corpus_counts(store)}
    assert counts["shop.total"]["entries"] == 2 and counts["shop.total"]["seen"] == 3
    assert counts["shop.total"]["sources"] == {"sample": 2}


def test_an_input_without_an_exact_encoding_is_kept_with_its_reason(store: Store) -> None:
    record = sample("shop.login", {"user": "ann"})
    for key in ("input", "input_digest", "output"):
        record.pop(key)
    record["not_replayable"] = "redacted: its snapshot hides a secret"
    old_sensor = sample("shop.login", {"user": "bob"})
    for key in ("input", "input_digest", "output"):
        old_sensor.pop(key)
    ingest(store, [record, old_sensor])
    entries = corpus_entries(store, functions=["shop.login"])
    assert sorted(e.not_replayable or "" for e in entries) == [
        "recorded without an exact encoding (a sensor older than replay)",
        "redacted: its snapshot hides a secret",
    ]
    assert all(not e.replayable and e.input_hash.startswith("~") for e in entries)
    assert corpus_entries(store, functions=["shop.login"], replayable=True) == []


def test_pytest_samples_are_their_own_source(store: Store) -> None:
    ingest(store, [{**sample("shop.total", {"amount": 1}), "source": "pytest"}])
    (entry,) = corpus_entries(store)
    assert entry.source == "pytest"


def test_people_add_inputs_and_expectations(store: Store) -> None:
    entry = add_user_entry(store, "shop.pricing:total", {"amount": {"$": "decimal", "v": "1.50"}}, expect=3, note="x")
    assert (entry.function, entry.source, entry.expect, entry.expect_source) == (
        "shop.pricing.total",
        "user",
        {"ok": 3},
        "user",
    )
    again = add_user_entry(store, "shop.pricing.total", {"amount": {"$": "decimal", "v": "1.50"}}, expect=4)
    assert again.id == entry.id and again.seen == 2 and again.expect == {"ok": 4}
    with pytest.raises(InputError, match=r"module\.qualname"):
        add_user_entry(store, "total", {})
    with pytest.raises(InputError, match="arguments by name"):
        add_user_entry(store, "shop.total", [1, 2])


def test_a_call_marked_wrong_becomes_a_corpus_input_with_the_corrected_expectation(store: Store) -> None:
    item = review("shop.pay")
    ingest(store, [item])
    mark_review(store, item["id"], "wrong", "should be 5", expect={"ok": 5})
    (case,) = regression_cases(store)
    assert case["input"] == {"amount": 3} and case["expect"] == {"ok": 5}
    (entry,) = corpus_entries(store, functions=["shop.pay"])
    assert (entry.source, entry.input, entry.expect, entry.expect_source) == (
        "review",
        {"amount": 3},
        {"ok": 5},
        "corrected",
    )
    mark_review(store, item["id"], "ok")  # changed their mind: neither a case nor a corpus input any more
    assert regression_cases(store) == [] and corpus_entries(store, functions=["shop.pay"]) == []
    with pytest.raises(InputError, match="goes with the verdict 'wrong'"):
        mark_review(store, item["id"], "ok", expect={"ok": 1})


def test_pruning_removes_sampled_entries_only(store: Store) -> None:
    old = [sample("shop.total", {"amount": n}, n, when=T0 - timedelta(days=60)) for n in range(1, 6)]
    new = [sample("shop.total", {"amount": n}, n, when=T0) for n in range(10, 13)]
    ingest(store, old + new)
    add_user_entry(store, "shop.total", {"amount": -1})
    with pytest.raises(InputError, match="say what to prune"):
        prune(store)
    assert prune(store, older_than=T0 - timedelta(days=30)) == 5
    assert prune(store, keep_per_shape=1) == 2  # three sampled entries of one shape: the newest stays
    remaining = corpus_entries(store)
    assert sorted(e.source for e in remaining) == ["sample", "user"]
