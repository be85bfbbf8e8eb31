"""The check of free-form values (arguments, results, stacks) accepts, rebuilds and refuses exactly
what the recursive check it replaced did.

:func:`codewitness.ingest._value` returns a value that needs nothing as it is, after one loop over
its containers; the old recursive check, kept here as the oracle, copied every value. Hypothesis
feeds both the values JSON decoding makes and what a Python caller could pass (subclasses, tuples,
bytes, non-string keys, NaN and infinities, integers near the size limit, nesting near the depth limit).
"""

from __future__ import annotations

import enum
import json
import math
from collections import OrderedDict
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from codewitness.facts import LAST_BUCKET, BadRecord, Histogram
from codewitness.ingest import MAX_INT_BITS, MAX_VALUE_DEPTH, _histogram, _value


def _oracle(value: Any, key: str, depth: int = 0) -> Any:
    """The recursive check as it was before the loop (kept verbatim)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        if value.bit_length() > MAX_INT_BITS:
            raise BadRecord(f"{key}: a number too large to store")
        return value
    if isinstance(value, float):
        if value != value:
            return "NaN"
        if value in (math.inf, -math.inf):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if depth >= MAX_VALUE_DEPTH:
        raise BadRecord(f"{key}: nested deeper than {MAX_VALUE_DEPTH} levels")
    if isinstance(value, list):
        return [_oracle(item, key, depth + 1) for item in value]
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise BadRecord(f"{key}: an object key that is not a string")
        return {k: _oracle(item, key, depth + 1) for k, item in value.items()}
    raise BadRecord(f"{key}: not a JSON value")


class Colour(enum.IntEnum):
    RED = 1


class Name(str):
    pass


def _shape(value: Any) -> Any:
    """``value`` with every type spelled out (== alone says 1 == 1.0 == True and OrderedDict == dict)."""
    if isinstance(value, dict):
        return (type(value), [(_shape(k), _shape(v)) for k, v in value.items()])
    if isinstance(value, (list, tuple)):
        return (type(value), [_shape(v) for v in value])
    if isinstance(value, float) and math.isnan(value):
        return (float, "nan")
    return (type(value), value)


_big = st.integers(min_value=2 ** (MAX_INT_BITS - 2), max_value=2 ** (MAX_INT_BITS + 2))
_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | _big
    | _big.map(lambda n: -n)
    | st.sampled_from([2**MAX_INT_BITS - 1, 2**MAX_INT_BITS, -(2**MAX_INT_BITS), Colour.RED, Name("x"), b"bytes"])
    | st.floats()
    | st.text(max_size=5)
)
_keys = st.text(max_size=3) | st.sampled_from([1, None, (1,), Name("k")])


def _containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=3), inner, max_size=4)
        | st.dictionaries(_keys, inner, max_size=3)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(st.text(max_size=3), inner, max_size=3).map(OrderedDict)
    )


_values = st.recursive(_scalars, _containers, max_leaves=25)


@st.composite
def _deep(draw: st.DrawFn) -> Any:
    """A value wrapped in lists and objects to about the depth limit."""
    value = draw(_values)
    for _ in range(draw(st.integers(MAX_VALUE_DEPTH - 3, MAX_VALUE_DEPTH + 2))):
        value = (draw(st.sampled_from(["list", "dict"])) == "list" and [value]) or {"k": value}
    return value


def _nested(levels: int, kind: type) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = [value] if kind is list else {"k": value}
    return value


def _outcome(check: Any, value: Any) -> Any:
    try:
        return ("ok", _shape(check(value, "arguments")))
    except BadRecord as exc:
        return ("refused", str(exc))


@given(value=_values | _deep())
@example(value=[[[1.5, math.nan, {"a": -math.inf}]]])
@example(value={"a": [1, 2**MAX_INT_BITS]})
@example(value={1: "x"})
@example(value={"a": [math.inf]})
@example(value=_nested(MAX_VALUE_DEPTH, list))
@example(value=_nested(MAX_VALUE_DEPTH + 1, list))
@example(value=_nested(MAX_VALUE_DEPTH + 1, dict))
def test_the_loop_decides_as_the_recursive_check_did(value: Any) -> None:
    assert _outcome(_value, value) == _outcome(_oracle, value)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner, max_size=4),
    max_leaves=30,
)


@given(value=_json)
def test_a_decoded_value_with_nothing_to_change_is_kept_as_it_is(value: Any) -> None:
    decoded = json.loads(json.dumps(value))
    assert _value(decoded, "arguments") is decoded  # not copied
    assert _shape(_oracle(decoded, "arguments")) == _shape(decoded)


_bucket_keys = st.one_of(
    st.integers(0, LAST_BUCKET + 2).map(str),
    st.integers(0, 99).map(lambda n: f"0{n}"),
    st.text(alphabet="0123456789٣² -+a", max_size=8),
)
_bucket_counts = st.one_of(st.integers(-2, 2**63 + 1), st.booleans(), st.floats(0, 3), st.none())


@given(st.one_of(st.dictionaries(_bucket_keys, _bucket_counts, max_size=8), st.lists(st.integers()), st.none()))
@example({"1": 1, "0": 2})  # not ascending
@example({"00": 1})
@example({str(LAST_BUCKET): 2**63 - 1, "0": 0})
def test_a_histogram_is_kept_or_refused_as_histogram_from_json_keeps_it(value: Any) -> None:
    """The fast path keeps a map only when it is exactly what ``Histogram.from_json(...).to_json()`` makes."""
    try:
        histogram = Histogram.from_json(value)
    except BadRecord as exc:
        expected: Any = ("refused", str(exc))
    else:
        expected = (list(histogram.to_json().items()), histogram.count)
    try:
        stored, count = _histogram({"histogram": value})
    except BadRecord as exc:
        got: Any = ("refused", str(exc))
    else:
        got = (list(stored.items()), count)
    assert got == expected
