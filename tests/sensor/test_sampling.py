"""Stratified sampling: the shape of a call's arguments, one kept call per shape per interval (the rare
input is kept every interval it occurs), bounded in shapes and bytes, and values never in a shape."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import random
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from codewitness.sensor._rng import RNG
from codewitness.sensor._sampling import MAX_SHAPE, Strata, redaction_of, shape_of
from codewitness.sensor.snapshot import Redactor


class Currency(enum.Enum):
    EUR = "EUR"
    JPY = "JPY"


@dataclasses.dataclass
class Line:
    sku: str
    qty: int


@pytest.mark.parametrize(
    ("arguments", "shape"),
    [
        ({"a": 0, "b": -3, "c": 7}, "a=int0 b=int- c=int+"),
        ({"x": 2.0, "y": 2.5, "z": float("nan")}, "x=float+ y=float+.frac z=float.nan"),
        ({"amount": decimal.Decimal("19.99"), "fee": decimal.Decimal("0")}, "amount=Decimal+.frac fee=Decimal0"),
        ({"s": "", "t": "hello", "u": None, "v": True}, "s=str'' t=str u=None v=bool"),
        (
            {"at": datetime.datetime(2026, 1, 1), "tz": datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)},
            "at=datetime tz=datetime+tz",
        ),
        ({"currency": Currency.JPY}, "currency=Currency.JPY"),
        ({"items": [Line("a", 1), Line("b", 2)]}, "items=list[2-4]<Line(sku=str qty=int+)>"),
        ({"payload": {"id": 1, "name": "x"}}, "payload=dict[2-4]{id,name}"),
        ({"by_email": {"ann@example.com": 1}}, "by_email=dict[1]"),
        ({"rows": list(range(100))}, "rows=list[65+]<int0>"),
    ],
)
def test_the_shape_of_a_call(arguments: dict[str, Any], shape: str) -> None:
    assert shape_of(arguments) == shape


@given(
    st.dictionaries(
        st.from_regex(r"[a-e]{1,4}", fullmatch=True),
        st.one_of(st.text(alphabet="xyzXYZ!@# 7", min_size=2), st.integers(), st.floats(), st.lists(st.integers())),
    )
)
def test_no_value_ever_enters_a_shape(arguments: dict[str, Any]) -> None:
    shape = shape_of(arguments)
    assert len(shape) <= MAX_SHAPE
    assert not set(shape) & set("xyzXYZ!@#")  # no character of any text value
    # digits only in length buckets and the zero sign (int0, float0), never from a value
    assert not re.search(r"\d", re.sub(r"\[(0|1|2-4|5-16|17-64|65\+)\]|(int|float)0", "", shape))


def _interval(calls: list[dict[str, Any]], strata: Strata) -> dict[str, dict[str, Any]]:
    redactor = Redactor()
    redaction = redaction_of(redactor)
    for arguments in calls:
        token = strata.take(arguments, redactor, redaction)
        if token is not None:
            strata.keep(1000, token, arguments["amount"], redactor, redaction)
    return {r["shape"]: r for r in strata.drain()}


def test_a_shape_seen_in_one_call_of_ten_is_kept_every_interval() -> None:
    rng = random.Random(7)
    kept_rare = 0
    intervals = 200
    for _ in range(intervals):
        calls = [{"amount": decimal.Decimal(rng.randint(1, 99)), "coupon": None} for _ in range(9)]
        calls.insert(rng.randrange(10), {"amount": decimal.Decimal(5), "coupon": "HALF"})
        kept = _interval(calls, Strata(max_samples=5, max_bytes=4096))
        assert kept["amount=Decimal+ coupon=None"]["shape_calls"] == 9
        kept_rare += "amount=Decimal+ coupon=str" in kept
    assert kept_rare == intervals  # a reservoir of 5 random calls keeps it in about half of them


def test_the_kept_call_of_a_shape_is_one_of_its_calls_chosen_fairly() -> None:
    RNG.seed(11)  # the sampler draws from the sensor's own generator, never from ``random``
    picks: dict[int, int] = {}
    for _ in range(3000):
        kept = _interval([{"amount": i + 1} for i in range(6)], Strata(max_samples=1, max_bytes=4096))
        (record,) = kept.values()
        picks[record["input"]["amount"]] = picks.get(record["input"]["amount"], 0) + 1
    assert sorted(picks) == [1, 2, 3, 4, 5, 6]
    assert all(380 < n < 620 for n in picks.values()), picks  # 500 each when fair


def _one_shape(values: list[int]) -> list[dict[str, Any]]:
    redactor = Redactor()
    strata = Strata(max_samples=5, max_bytes=4096)
    redaction = redaction_of(redactor)
    for value in values:  # one shape, int+
        token = strata.take({"amount": value}, redactor, redaction)
        if token is not None:
            strata.keep(1000, token, value, redactor, redaction)
    return strata.drain()


def test_the_room_shapes_leave_goes_to_other_calls() -> None:
    records = _one_shape([3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25])
    assert len({r["input"]["amount"] for r in records}) == len(records) == 5  # distinct calls fill the bound
    assert all(r["shape_calls"] == 12 for r in records)


@pytest.mark.parametrize("seed", range(20))
def test_identical_inputs_are_kept_once_and_leave_the_room_to_other_inputs(seed: int) -> None:
    # Before: the repeated input took reservoir slots that the drain then left empty (an input is
    # kept once), while distinct inputs had been turned away: 1 to 5 samples of 10 distinct inputs.
    RNG.seed(seed)
    records = _one_shape([3, 3, 3, 7, 9, 11, 13, 15, 17, 19, 21, 23])
    inputs = [r["input"]["amount"] for r in records]
    assert len(records) == 5 and len(set(inputs)) == 5
    assert all(r["shape_calls"] == 12 for r in records)
    # A flood of one input first, then a few others: every other input still finds room.
    records = _one_shape([4] * 50 + [6, 8, 10, 12])
    assert sorted(r["input"]["amount"] for r in records) == [4, 6, 8, 10, 12]


def test_calls_without_a_replayable_input_leave_the_room_to_calls_with_one() -> None:
    # The drain keeps only replayable "other" calls; before, unreplayable ones held slots to the end.
    redactor = Redactor()
    strata = Strata(max_samples=3, max_bytes=100)
    redaction = redaction_of(redactor)
    for value in ["y" * 500] * 5 + ["a", "b"]:  # one shape (str); the long ones are over max_bytes
        token = strata.take({"amount": value}, redactor, redaction)
        if token is not None:
            strata.keep(1000, token, value, redactor, redaction)
    replayable = sorted(r["input"]["amount"] for r in strata.drain() if "input" in r)
    assert replayable == ["a", "b"]


def test_shapes_and_bytes_are_bounded() -> None:
    calls = [{"amount": v} for v in (1, 0, -1, 1.5, "x", None)]
    kept = _interval(calls, Strata(max_samples=3, max_bytes=4096))
    assert sorted(kept) == ["amount=int+", "amount=int-", "amount=int0"]
    big = _interval([{"amount": "y" * 10_000}], Strata(max_samples=3, max_bytes=1000))
    (record,) = big.values()
    assert "input" not in record and record["not_replayable"] == "arguments.amount: larger than 1000 bytes"
    assert record["arguments"]["amount"].endswith("...[cut: 10000 chars]")  # the snapshot is still there


def test_a_large_bound_costs_nothing_until_it_is_used() -> None:
    # The secrets corpus test runs with samples_per_interval = 100,000 on hundreds of functions:
    # room reserved up front (a list per function and interval) kept its exporter busy past shutdown.
    strata = Strata(max_samples=100_000, max_bytes=4096)
    assert strata.room == 99_999 and len(strata.extra) == 0
    kept = _interval([{"amount": n} for n in range(1, 50)], strata)
    assert len(strata.drain()) == 49 and len(kept) == 1  # every call kept (room enough), one shape
