"""The exact encoding: every supported value comes back equal and of the same type (hypothesis),
what cannot come back is refused with a reason that names the place but never the value, what a
snapshot would redact is refused, and a decoder given hostile data calls no class but the kind
the tag names."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import fractions
import json
import math
import pathlib
import threading
import uuid
import zoneinfo
from collections import OrderedDict
from typing import Any, NamedTuple

import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codewitness.sensor._sampling import redaction_of
from codewitness.sensor.exact import (
    NotReplayable,
    canonical,
    decode,
    decode_arguments,
    digest,
    encode,
    encode_arguments,
)
from codewitness.sensor.snapshot import Redactor


class Colour(enum.Enum):
    RED = 1
    BLUE = "b"


@dataclasses.dataclass(frozen=True)
class Money:
    amount: decimal.Decimal
    currency: str
    tags: tuple[str, ...] = ()


class Point(NamedTuple):
    x: int
    y: float


class Plain:
    def __init__(self, a: Any) -> None:
        self.a = a

    def __eq__(self, other: object) -> bool:
        return type(other) is Plain and other.a == self.a

    __hash__ = None  # type: ignore[assignment]


def same(a: Any, b: Any) -> bool:
    """Equal and of the same type all the way down (NaN equals NaN; aware datetimes keep their zone)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    if isinstance(a, decimal.Decimal):
        return str(a) == str(b)
    if isinstance(a, datetime.datetime | datetime.time):
        return a == b and a.tzinfo == b.tzinfo and a.fold == b.fold
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if dataclasses.is_dataclass(a):
        return all(same(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a))
    if isinstance(a, Plain):  # its own == says NaN != NaN (Hypothesis found Plain(nan))
        return same(a.a, b.a)
    return bool(a == b)


zones = st.sampled_from(
    [
        None,
        datetime.UTC,
        datetime.timezone(datetime.timedelta(hours=-3, minutes=-30)),
        zoneinfo.ZoneInfo("Europe/Paris"),
        zoneinfo.ZoneInfo("Asia/Tokyo"),
    ]
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**63, max_value=2**200),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(),
    st.binary(),
    st.decimals(allow_nan=False, allow_infinity=True),
    st.fractions(),
    st.complex_numbers(allow_nan=False),
    st.uuids(),
    st.dates(),
    st.builds(lambda d, z: d.replace(tzinfo=z), st.datetimes(), zones),
    st.builds(lambda t, z: t.replace(tzinfo=None if isinstance(z, zoneinfo.ZoneInfo) else z), st.times(), zones),
    st.timedeltas(),
    st.sampled_from(list(Colour)),
    st.builds(Point, st.integers(), st.floats(allow_nan=False)),
    st.builds(pathlib.PurePosixPath, st.text(alphabet="abc/", max_size=10)),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=4).map(tuple),
        st.dictionaries(st.one_of(st.text(max_size=5), st.integers()), inner, max_size=4),
        st.frozensets(st.one_of(st.integers(), st.text(max_size=3)), max_size=4),
        st.builds(Money, st.decimals(allow_nan=False, allow_infinity=False), st.text(max_size=3)),
        st.builds(Plain, inner),
    ),
    max_leaves=12,
)


@settings(max_examples=400)
@given(values)
def test_every_supported_value_comes_back_equal_and_of_its_type(value: Any) -> None:
    data = encode(value)
    text = json.dumps(data)  # plain JSON, as the record format and the store carry it
    assert same(decode(json.loads(text)), value)
    assert digest(json.loads(text)) == digest(data)


def test_the_differences_that_matter_to_behaviour_are_kept() -> None:
    # JSON keeps 2 and 2.0 apart (Python's == does not: encodings are compared as canonical text)
    texts = [canonical(encode(v)) for v in (2, 2.0, decimal.Decimal("2"), True)]
    assert texts == ["2", "2.0", '{"$":"decimal","v":"2"}', "true"]
    assert type(decode(json.loads(texts[1]))) is float
    assert encode(decimal.Decimal("2.50")) != encode(decimal.Decimal("2.5"))
    naive = datetime.datetime(2026, 3, 1, 12)
    assert encode(naive) != encode(naive.replace(tzinfo=datetime.UTC))
    assert decode(encode(naive.replace(tzinfo=zoneinfo.ZoneInfo("Europe/Paris")))).tzinfo == zoneinfo.ZoneInfo(
        "Europe/Paris"
    )
    assert encode([1, 2]) != encode((1, 2)) != encode({1, 2})
    assert type(decode(encode(OrderedDict(a=1)))) is OrderedDict
    assert decode(encode(Money(decimal.Decimal("1.10"), "EUR"))) == Money(decimal.Decimal("1.10"), "EUR")


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (threading.Lock(), "arguments.x: a _thread:lock value has no exact encoding"),
        ((i for i in ()), "arguments.x: a builtins:generator value has no exact encoding"),
        ({"k": [open]}, "arguments.x['k'][0]: a builtins:builtin_function_or_method value has no exact encoding"),
        (datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC).astimezone(), None),
    ],
)
def test_what_cannot_be_rebuilt_is_refused_with_where_and_why(value: Any, reason: str | None) -> None:
    if reason is None:  # a local fixed offset is a datetime.timezone: fine
        assert same(decode_arguments(encode_arguments({"x": value}))["x"], value)
        return
    with pytest.raises(NotReplayable) as caught:
        encode_arguments({"x": value})
    assert str(caught.value) == reason


def test_a_class_of_main_or_of_a_function_is_not_replayable() -> None:
    @dataclasses.dataclass
    class Local:
        a: int

    with pytest.raises(NotReplayable, match=r"cannot be imported by a replay \(defined in __main__ or a function\)"):
        encode(Local(1))


def test_a_value_that_contains_itself_is_refused_not_looped() -> None:
    loop: list[Any] = [1]
    loop.append(loop)
    with pytest.raises(NotReplayable, match=r"value\[1\]: a value that contains itself"):
        encode(loop)


def test_size_and_depth_are_bounded() -> None:
    with pytest.raises(NotReplayable, match="larger than 1000 bytes"):
        encode("x" * 5000, max_bytes=1000)
    deep: Any = 1
    for _ in range(40):
        deep = [deep]
    with pytest.raises(NotReplayable, match="nested deeper than 16 levels"):
        encode(deep)


SECRET = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"


@pytest.mark.parametrize(
    ("arguments", "where"),
    [
        ({"password": "hunter2"}, "arguments.password"),
        ({"note": f"token {SECRET}"}, "arguments.note"),
        ({"headers": [("Authorization", "Bearer abc")]}, "arguments.headers[0]"),
        ({"payload": {"api_key": "x"}}, "arguments.payload['api_key']"),
        ({"card": 4111111111111111}, "arguments.card"),
        ({"blob": SECRET.encode()}, "arguments.blob"),
    ],
)
def test_what_a_snapshot_would_redact_is_not_replayable(arguments: dict[str, Any], where: str) -> None:
    redaction = redaction_of(Redactor())
    with pytest.raises(NotReplayable) as caught:
        encode_arguments(arguments, redaction=redaction)
    message = str(caught.value)
    assert message.startswith(where + ": redacted")
    assert "hunter2" not in message and SECRET not in message and "4111" not in message


def test_the_decoder_calls_no_class_but_the_kind_its_tag_names() -> None:
    hostile = [
        {"$": "path", "type": "subprocess:Popen", "v": "true"},
        {"$": "enum", "type": "subprocess:Popen", "name": "x"},
        {"$": "namedtuple", "type": "subprocess:Popen", "fields": []},
        {"$": "dataclass", "type": "subprocess:Popen", "fields": []},
        {"$": "object", "type": "subprocess:Popen", "fields": []},
        {"$": "pydantic", "type": "subprocess:Popen", "fields": []},
        {"$": "nothing"},
        {"a": 1},
    ]
    for data in hostile:
        with pytest.raises(NotReplayable):
            decode(data)


def test_a_type_that_is_gone_is_a_reason_not_a_crash() -> None:
    with pytest.raises(
        NotReplayable, match=r"arguments.m: type shop.gone:Money cannot be imported here \(ModuleNotFoundError"
    ):
        decode_arguments({"m": {"$": "dataclass", "type": "shop.gone:Money", "fields": []}})


def test_uuid_and_fraction_round_trip() -> None:
    for value in (uuid.UUID(int=5), fractions.Fraction(-7, 3), range(1, 9, 2)):
        assert same(decode(encode(value)), value)


class Order(pydantic.BaseModel):
    sku: str
    qty: int
    price: decimal.Decimal


class Login(pydantic.BaseModel):
    user: str
    secret: pydantic.SecretStr


def test_a_pydantic_model_comes_back_as_its_model_and_a_secret_field_is_refused() -> None:
    order = Order(sku="A-1", qty=2, price=decimal.Decimal("9.90"))
    data = encode(order)
    assert data["$"] == "pydantic" and data["type"] == f"{__name__}:Order"
    back = decode(json.loads(json.dumps(data)))
    assert type(back) is Order and back == order and str(back.price) == "9.90"
    with pytest.raises(NotReplayable, match=r"value.secret: redacted \(a secret type\)"):
        encode(Login(user="ann", secret=pydantic.SecretStr("hunter2")))
