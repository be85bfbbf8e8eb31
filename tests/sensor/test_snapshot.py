"""Snapshots are redacted, bounded, JSON-ready, and never raise."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codewitness.sensor.snapshot import REDACTED, Redactor

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"


@pytest.mark.parametrize(
    "name",
    [
        "password",
        "PASSWORD",
        "db_passwd",
        "api_key",
        "apiKey",
        "secret",
        "client_secret",
        "token",
        "access_token",
        "Authorization",
        "cookie",
        "session_id",
        "private_key",
        "key",
        "card_number",
        "cvv",
    ],
)
def test_secret_names_are_redacted(name: str) -> None:
    r = Redactor()
    assert r.snapshot_arguments({name: "value-123"}) == {name: REDACTED}
    assert r.snapshot({"nested": {name: "value-123"}}) == {"nested": {name: REDACTED}}


@pytest.mark.parametrize(
    "name", ["user", "quantity", "monkey", "compass", "passenger", "keyboard_layout", "sku"]
)
def test_ordinary_names_are_kept(name: str) -> None:
    assert Redactor().snapshot_arguments({name: "plain"}) == {name: "plain"}


@pytest.mark.parametrize(
    "secret",
    [
        JWT,
        "sk-proj-abcdefghijklmnopqrstuvwx1234",
        "sk-ant-api03-abcdefghijklmnopqrstuvwxyz",
        "ghp_" + "a1" * 18,
        "AKIAIOSFODNN7EXAMPLE",
        "xoxb-123456789012-abcdefghij",
        "Bearer abc.def.ghi-jkl",
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "5500005555555559",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----",
    ],
)
def test_secret_values_are_redacted_inside_text(secret: str) -> None:
    out = Redactor().snapshot(f"before {secret} after")
    assert secret not in out
    assert REDACTED in out
    assert out.startswith("before ")


@pytest.mark.parametrize(
    "text", ["order 1234567890123 shipped", "call +44 20 7946 0958", "4111 1111 1111 1112"]
)
def test_numbers_that_are_not_cards_are_kept(text: str) -> None:
    assert Redactor().snapshot(text) == text


def test_user_patterns_from_config() -> None:
    r = Redactor(names=[r"^ssn_"], patterns=[r"EMP-\d{6}"])
    assert r.snapshot_arguments({"ssn_last4": "1234", "employee": "EMP-123456 on leave"}) == {
        "ssn_last4": REDACTED,
        "employee": f"{REDACTED} on leave",
    }


def test_a_bad_user_pattern_is_an_error() -> None:
    with pytest.raises(re.error):
        Redactor(patterns=["(unclosed"])


def test_size_bounds() -> None:
    r = Redactor(max_chars=32, max_items=4, max_depth=2)
    long = r.snapshot("x" * 10_000)
    assert len(long) < 80 and "more chars" in long
    listed = r.snapshot(list(range(100)))
    assert listed[:4] == [0, 1, 2, 3] and listed[4] == "...[96 more]"
    deep = r.snapshot({"a": {"b": {"c": {"d": 1}}}})
    assert deep == {"a": {"b": "<builtins.dict>"}}
    big = r.snapshot(10**200)
    assert isinstance(big, str) and len(big) < 80
    assert r.snapshot(b"\x00\xff" * 100)["len"] == 200


def test_objects_are_walked_without_their_repr() -> None:
    @dataclass
    class Card:
        holder: str
        card_number: str

    class Hostile:
        def __init__(self) -> None:
            self.visible = 1
            self.token = "t"

        def __repr__(self) -> str:
            raise RuntimeError("repr explodes")

    r = Redactor()
    card = r.snapshot(Card("ann", "4111111111111111"))
    assert card["holder"] == "ann" and card["card_number"] == REDACTED
    assert card["__type__"].endswith("Card")
    hostile = r.snapshot(Hostile())
    assert hostile["visible"] == 1 and hostile["token"] == REDACTED

    class NoDict:
        __slots__ = ()

        def __repr__(self) -> str:
            raise RuntimeError("repr explodes")

    assert r.snapshot(NoDict()) == {"__unrepresentable__": "RuntimeError"}
    assert r.snapshot(float("nan")) == "nan"


values: Any = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text() | st.binary(),
    lambda inner: (
        st.lists(inner)
        | st.dictionaries(st.text(), inner)
        | st.tuples(inner, inner)
        | st.frozensets(st.integers())
    ),
    max_leaves=40,
)


@given(values)
@settings(max_examples=200, deadline=None)
def test_any_value_gives_json(value: Any) -> None:
    out = Redactor(max_chars=64, max_items=8).snapshot(value)
    json.dumps(out, allow_nan=False)
