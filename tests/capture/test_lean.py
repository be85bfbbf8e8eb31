"""The hook's lean stand-ins agree with typing.NamedTuple and json.loads."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from codewitness.capture._lean import NamedTuple, loads

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=20,
)


@given(json_values, st.sampled_from([None, 2]))
def test_loads_agrees_with_json(value: object, indent: int | None) -> None:
    text = json.dumps(value, indent=indent)
    assert loads(text) == json.loads(text)
    assert loads(text.encode("utf-8")) == json.loads(text)


@pytest.mark.parametrize("bad", ["", "{", "[1,]", '{"a" 1}', "1 2", "nul", '"\\x"', "\ufeff{}"])
def test_loads_refuses_what_json_refuses(bad: str) -> None:
    with pytest.raises(ValueError):
        json.loads(bad)
    with pytest.raises(ValueError):
        loads(bad)


def test_loads_constants_and_whitespace() -> None:
    assert loads(' \n{"x": [NaN, Infinity, -Infinity]}\r\n')["x"][1:] == [math.inf, -math.inf]
    assert math.isnan(loads("NaN"))


class Point(NamedTuple):
    """A point."""

    x: int
    y: int = 0
    tags: tuple[str, ...] = ()

    def norm1(self) -> int:
        return abs(self.x) + abs(self.y)


def test_named_tuple_stand_in() -> None:
    p = Point(3, y=-4)
    assert p == (3, -4, ()) and p.norm1() == 7 and p._replace(x=0).x == 0
    assert repr(p) == "Point(x=3, y=-4, tags=())"
    assert Point.__doc__ == "A point." and Point._fields == ("x", "y", "tags")
    with pytest.raises(AttributeError):
        p.z = 1  # type: ignore[attr-defined]


def test_the_hook_path_imports_neither_typing_nor_json() -> None:
    code = (
        "import sys, codewitness.capture.hook, codewitness.capture._base, codewitness.capture.claude, "
        "codewitness.capture.cursor, codewitness.capture.codex, codewitness.capture.gemini; "
        "print(sorted(m for m in ('typing', 'json', 're', 'pathlib', 'dataclasses', 'sqlalchemy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_truncated_strings_and_bad_escapes_are_one_clear_value_error() -> None:
    # In a process that never imported json (as the hook), Python 3.11's scanner used to fail
    # with "SystemError: <_json.Scanner object> returned NULL without setting an exception".
    code = (
        "import sys\n"
        "from codewitness.capture._lean import loads\n"
        "for text in sys.argv[1:]:\n"
        "    try:\n"
        "        loads(text)\n"
        "    except ValueError as exc:\n"
        "        print(type(exc).__name__, exc)\n"
    )
    bad = ['{"file_path": "/src/a.p', '"abc', '["x\\u12', '{"a": "\\', '{"a": "b\\q"}', '[1,']
    out = subprocess.run([sys.executable, "-c", code, *bad], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == [
        "ValueError invalid JSON at position 14: Unterminated string starting at",
        "ValueError invalid JSON at position 0: Unterminated string starting at",
        "ValueError invalid JSON at position 4: Invalid \\uXXXX escape",
        "ValueError invalid JSON at position 6: Unterminated string starting at",
        "ValueError invalid JSON at position 8: Invalid \\escape",
        "ValueError invalid JSON at position 3",
    ]
