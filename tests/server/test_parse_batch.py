"""The ingest route reads a batch's lines as ``json.loads`` does, though orjson reads most of them.

``parse_batch`` tries orjson first and the standard library when orjson refuses a line; a line
must come out the same (types, order, NaN, huge integers, lone surrogates) or be refused by both.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from codewitness.server.api.v1.ingest import BadBatch, _reader, parse_batch

_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=2**63 - 2, max_value=2**70)
    | st.integers(min_value=-(2**70), max_value=-(2**63) + 2)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()
    | st.text(alphabet=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF) | st.characters(max_codepoint=0x7F))
)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=20,
)


def _read(line: str) -> tuple[str, Any]:
    try:
        return "value", repr(json.loads(line))
    except (ValueError, RecursionError):
        return "refused", None


def _read_fast(line: str) -> tuple[str, Any]:
    try:
        return "value", repr(_reader(line.encode("utf-8", "surrogatepass"))(line))
    except (ValueError, RecursionError):
        return "refused", None


@given(_values, st.booleans())
def test_a_json_line_reads_as_the_standard_library_reads_it(value: Any, ascii_only: bool) -> None:
    line = json.dumps(value, ensure_ascii=ascii_only)
    assert _read_fast(line) == _read(line)


@given(st.text(alphabet=st.sampled_from('{}[]",:0123456789.eE+- \t\\u"abnNIfinity\ufeff\x00\ud800')))
def test_any_line_reads_or_is_refused_as_the_standard_library_would(line: str) -> None:
    assert _read_fast(line) == _read(line)


@pytest.mark.parametrize(
    "line",
    [
        '{"kind": "aggregate", "id": "a", "x": NaN, "y": -Infinity}',
        '{"kind": "aggregate", "id": "a", "big": 123456789012345678901234567890}',
        '{"kind": "aggregate", "id": "a", "s": "\\udc80 lone"}',
        '{"kind": "aggregate", "id": "a", "d": 1, "d": 2}',
        '{"kind": "aggregate", "id": "a", "n": -9223372036854775809, "m": 18446744073709551616}',
    ],
)
def test_lines_orjson_refuses_are_read_by_the_standard_library(line: str) -> None:
    assert [repr(r) for r in parse_batch(line.encode())] == [repr(json.loads(line))]


@pytest.mark.parametrize("others", [1, 40])
def test_a_long_number_in_one_line_is_read_exactly_beside_others(others: int) -> None:
    """Runs of 19 digits are looked for in the whole batch; the line holding one is read by json
    (also when many lines hold one, and an id holds digits of the same run)."""
    lines = [json.dumps({"kind": "k", "id": f"{n:032d}", "n": 2**64 + n}) for n in range(others)]
    lines.insert(0, json.dumps({"kind": "k", "id": "a", "x": 1.5}))
    records = parse_batch("\n".join(lines).encode())
    assert [repr(r) for r in records] == [repr(json.loads(line)) for line in lines]


def test_a_line_too_deep_for_either_is_a_malformed_batch() -> None:
    with pytest.raises(BadBatch, match="line 2 is not JSON"):
        parse_batch(b'{"kind": "x", "id": "a"}\n' + b"[" * 100_000 + b"]" * 100_000)
