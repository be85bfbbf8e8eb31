"""Comparing outcomes: equal to itself always, strict about types, tolerant only where configured,
noise rules leave out exactly what they name, and the diff points at the place that changed
(hypothesis over generated values); values written back as Python rebuild the same value."""

from __future__ import annotations

import datetime
import decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.sensor.test_exact import Colour, Money, Plain, Point, same, values

from codewitness.behavior.compare import Rules, differences, equal
from codewitness.behavior.values import Imports, display, from_json, outcome_text, to_source
from codewitness.errors import InputError
from codewitness.sensor.exact import decode, encode


@settings(max_examples=300)
@given(values)
def test_an_outcome_equals_itself_and_its_source_rebuilds_it(value: Any) -> None:
    data = encode(value)
    assert equal({"ok": data}, {"ok": data}, Rules())
    assert differences({"ok": data}, {"ok": data}, Rules()) == []
    imports = Imports()
    source = to_source(data, imports)
    namespace: dict[str, Any] = {"_rebuild": _rebuild, "Money": Money, "Point": Point, "Colour": Colour, "Plain": Plain}
    for line in imports.lines():
        if "tests.sensor.test_exact" not in line:
            exec(line, namespace)
    assert same(eval(source, namespace), value)


def _rebuild(cls: type, **fields: Any) -> Any:
    obj = cls.__new__(cls)
    for k, v in fields.items():
        object.__setattr__(obj, k, v)
    return obj


@pytest.mark.parametrize(
    ("old", "new", "rules", "paths"),
    [
        (2, 2.0, Rules(), ["result"]),
        (2, 2.0, Rules(numbers="loose"), []),
        (decimal.Decimal("2.50"), decimal.Decimal("2.5"), Rules(), ["result"]),
        (1.0, 1.0 + 1e-12, Rules(), ["result"]),
        (1.0, 1.0 + 1e-12, Rules(float_rel=1e-9), []),
        ({"id": 1, "total": 5}, {"id": 2, "total": 5}, Rules(ignore=("result.id",)), []),
        ({"id": 1, "total": 5}, {"id": 2, "total": 6}, Rules(ignore=("result.id",)), ["result.total"]),
        (
            [{"at": 1, "v": 1}, {"at": 2, "v": 2}],
            [{"at": 9, "v": 1}, {"at": 8, "v": 3}],
            Rules(ignore=("result[*].at",)),
            ["result[1].v"],
        ),
        ({"trace_id": "a", "x": 1}, {"trace_id": "b", "x": 1}, Rules(ignore_keys=("^trace_",)), []),
        ({1, 2, 3}, {3, 2, 1}, Rules(), []),
        ({"a": 1, "b": 2}, {"b": 2, "a": 1}, Rules(), []),
        ((1, 2), [1, 2], Rules(), ["result"]),
        ([1, 2, 3], [1, 2], Rules(), ["result (length)"]),
        ({"a": 1}, {"b": 1}, Rules(), ["result.a", "result.b"]),
        (datetime.datetime(2026, 1, 1), datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC), Rules(), ["result"]),
        (Money(decimal.Decimal("1.10"), "EUR"), Money(decimal.Decimal("1.1"), "EUR"), Rules(), ["result.amount"]),
        (Point(1, 2.0), Point(1, 2.5), Rules(), ["result.y"]),
        (Colour.RED, Colour.BLUE, Rules(), ["result"]),
    ],
)
def test_where_outcomes_differ(old: Any, new: Any, rules: Rules, paths: list[str]) -> None:
    found = differences({"ok": encode(old)}, {"ok": encode(new)}, rules)
    assert [d.path for d in found] == paths


def test_exceptions_are_outcomes_by_type_and_message() -> None:
    a = {"raised": {"type": "builtins.ValueError", "message": "no"}}
    b = {"raised": {"type": "builtins.ValueError", "message": "nope"}}
    c = {"raised": {"type": "builtins.KeyError", "message": "no"}}
    assert [d.path for d in differences(a, b, Rules())] == ["raised.message"]
    assert differences(a, b, Rules(ignore=("raised.message",))) == []
    assert [d.path for d in differences(a, c, Rules())] == ["raised.type"]
    (outcome,) = differences({"ok": 1}, a, Rules())
    assert (outcome.path, outcome.old, outcome.new) == ("outcome", "returned 1", "raised builtins.ValueError: no")


@given(st.dictionaries(st.text(max_size=4), st.integers(), min_size=1, max_size=6), st.data())
def test_changing_one_value_is_reported_at_its_path_only(mapping: dict[str, int], data: st.DataObject) -> None:
    key = data.draw(st.sampled_from(sorted(mapping)))
    changed = {**mapping, key: mapping[key] + 1}
    (found,) = differences({"ok": encode(mapping)}, {"ok": encode(changed)}, Rules())
    assert found.old == str(mapping[key]) and found.new == str(mapping[key] + 1)
    assert found.path.endswith(f".{key}" if key.isascii() and key.isidentifier() else f"[{key!r}]")


def test_typed_in_values_and_their_mistakes() -> None:
    assert decode(from_json({"amount": {"$": "decimal", "v": "19.99"}, "tags": ["a"]})) == {
        "amount": decimal.Decimal("19.99"),
        "tags": ["a"],
    }
    with pytest.raises(InputError, match=r"value.x: unknown type tag 'decimals'"):
        from_json({"x": {"$": "decimals", "v": "1"}})
    with pytest.raises(InputError, match=r"a 'dataclass' needs \"type\": \"module:Qualname\""):
        from_json({"$": "dataclass", "fields": []})
    with pytest.raises(InputError, match=r"value: a 'decimal' value cannot be rebuilt"):
        from_json({"$": "decimal", "v": "not a number"})
    assert outcome_text({"error": "timed out"}) == "could not run: timed out"
    assert (
        display({"$": "opaque", "type": "socket:socket", "repr": "<socket>", "why": "x"}) == "<socket:socket: <socket>>"
    )
