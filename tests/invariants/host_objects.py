"""Objects a host application might pass to a function a configured invariant guards.

Every hook of theirs (special methods, properties, methods, ``__getattr__``, a time zone's
``utcoffset``) records in :data:`RAN` that it ran: an invariant must never run any of them.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime
import decimal
import enum
import fractions
import functools
import types
import typing
import unittest.mock
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

#: Every piece of the host's code an expression ran (nothing may ever land here).
RAN: list[str] = []


class Spy:
    """An object whose every hook records that it ran, and changes the object."""

    def __init__(self) -> None:
        self.items = [1, 2, 3]

    def _ran(self, name: str) -> Any:
        RAN.append(name)
        self.items.append(name)
        return 1

    def __eq__(self, other: object) -> bool:
        return bool(self._ran("__eq__"))

    def __lt__(self, other: object) -> bool:
        return bool(self._ran("__lt__"))

    def __hash__(self) -> int:
        return int(self._ran("__hash__"))

    def __bool__(self) -> bool:
        return bool(self._ran("__bool__"))

    def __len__(self) -> int:
        return int(self._ran("__len__"))

    def __iter__(self) -> Iterator[int]:
        self._ran("__iter__")
        return iter([1])

    def __getitem__(self, key: object) -> Any:
        return self._ran("__getitem__")

    def __contains__(self, key: object) -> bool:
        return bool(self._ran("__contains__"))

    def __add__(self, other: object) -> Any:
        return self._ran("__add__")

    def __radd__(self, other: object) -> Any:
        return self._ran("__radd__")

    def __mul__(self, other: object) -> Any:
        return self._ran("__mul__")

    def __index__(self) -> int:
        return int(self._ran("__index__"))

    def __float__(self) -> float:
        return float(self._ran("__float__"))

    def __str__(self) -> str:
        return str(self._ran("__str__"))

    def __repr__(self) -> str:
        return str(self._ran("__repr__"))

    def __format__(self, spec: str) -> str:
        return str(self._ran("__format__"))

    def __round__(self, ndigits: int | None = None) -> int:
        return int(self._ran("__round__"))

    def __getattr__(self, name: str) -> Any:
        return self._ran(f"__getattr__({name})")

    @property
    def total(self) -> int:
        return int(self._ran("total"))

    def get(self, *args: object) -> Any:
        return self._ran("get")

    def count(self, *args: object) -> Any:
        return self._ran("count")

    def lower(self) -> Any:
        return self._ran("lower")

    def pop(self, *args: object) -> Any:
        return self._ran("pop")


class Quiet:
    """A class that defines no special method: plain data with Python's default operations."""

    limit = 10

    def __init__(self, price: int) -> None:
        self.price = price

    @property
    def doubled(self) -> int:
        RAN.append("Quiet.doubled")
        return self.price * 2

    def save(self) -> None:
        RAN.append("Quiet.save")
        Path("saved.txt").write_text("saved")


@dataclasses.dataclass
class Order:
    total: int
    items: list[Quiet]
    coupon: Quiet | None = None

    def mark_paid(self) -> None:
        RAN.append("Order.mark_paid")
        self.total = 0


class Slotted:
    __slots__ = ("price", "qty")

    def __init__(self, price: int, qty: int) -> None:
        self.price = price
        self.qty = qty


class Point(typing.NamedTuple):
    x: int
    y: int


class Copyable:
    """A record with the copy hooks: ``copy.copy`` and ``copy.replace`` (3.13) run them, nothing else does."""

    def __init__(self, x: int) -> None:
        self.x = x

    def __copy__(self) -> Copyable:
        RAN.append("Copyable.__copy__")
        return Copyable(self.x)

    def __replace__(self, **changes: int) -> Copyable:
        RAN.append("Copyable.__replace__")
        return Copyable(changes.get("x", self.x))


class Status(enum.Enum):
    PAID = "paid"
    OPEN = "open"

    def label(self) -> str:
        RAN.append("Status.label")
        return str(self.value).upper()


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 3


class Column:
    """A data descriptor like an ORM column: it keeps the loaded value in the instance's __dict__."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: object, owner: type | None = None) -> Any:
        RAN.append(f"Column({self.name})")
        return obj.__dict__.get(self.name) if obj is not None else self

    def __set__(self, obj: object, value: object) -> None:
        obj.__dict__[self.name] = value


class Row:
    amount = Column()
    customer = Column()

    def __init__(self, amount: int) -> None:
        self.amount = amount


class Zone(datetime.tzinfo):
    """A time zone written in Python: comparing aware datetimes calls its methods."""

    def utcoffset(self, dt: datetime.datetime | None) -> datetime.timedelta:
        RAN.append("Zone.utcoffset")
        return datetime.timedelta(0)

    def dst(self, dt: datetime.datetime | None) -> datetime.timedelta:
        RAN.append("Zone.dst")
        return datetime.timedelta(0)


class Lazy:
    """Every attribute computed: __getattribute__, a cached property, a class whose metaclass hashes."""

    def __init__(self) -> None:
        self.stored = 1

    def __getattribute__(self, name: str) -> Any:
        RAN.append(f"Lazy.__getattribute__({name})")
        return object.__getattribute__(self, name)

    @functools.cached_property
    def cached(self) -> int:
        RAN.append("Lazy.cached")
        return 2


class Meta(type):
    def __hash__(cls) -> int:
        RAN.append("Meta.__hash__")
        return 1

    def __eq__(cls, other: object) -> bool:
        RAN.append("Meta.__eq__")
        return True


class Odd(metaclass=Meta):
    def __init__(self) -> None:
        self.n = 1


def numbers() -> Iterator[int]:
    yield from (1, 2, 3)


def callback(*args: object) -> None:
    RAN.append("callback")


def lazy_module() -> types.ModuleType:
    module = types.ModuleType("lazy")
    module.answer = 42  # type: ignore[attr-defined]

    def __getattr__(name: str) -> Any:
        RAN.append(f"lazy.__getattr__({name})")
        return 0

    module.__getattr__ = __getattr__  # type: ignore[method-assign]
    return module


def world(folder: Path) -> dict[str, Any]:
    """One fresh set of arguments of every shape, made in ``folder`` (which holds ``data.txt``)."""
    path = folder / "data.txt"
    path.write_text("data")
    return {
        "cart": [3, 1, 2],
        "prices": {"a": 1, "b": 2.5},
        "counts": collections.defaultdict(int, {"x": 1}),
        "tally": collections.Counter("abca"),
        "big": list(range(5000)),
        "nested": [[1, 2], [3, [4, 5]], {"k": (6, 7)}],
        "text": "Hello",
        "n": 12,
        "result": 42,
        "huge": 2**4000,
        "price": decimal.Decimal("19.99"),
        "ratio": fractions.Fraction(1, 3),
        "ident": uuid.UUID(int=7),
        "when": datetime.datetime(2024, 5, 1, 12, tzinfo=datetime.UTC),
        "local": datetime.datetime(2024, 5, 1, 12, tzinfo=Zone()),
        "status": Status.PAID,
        "level": Level.HIGH,
        "path": path,
        "order": Order(total=10, items=[Quiet(4), Quiet(6)]),
        "quiet": Quiet(5),
        "slotted": Slotted(2, 3),
        "point": Point(1, 2),
        "row": Row(7),
        "spy": Spy(),
        "spies": [Spy(), Spy()],
        "gen": numbers(),
        "callback": callback,
        "lazy": lazy_module(),
        "computed": Lazy(),
        "odd": Odd(),
        "odds": [Odd(), Odd()],
        "mock": unittest.mock.MagicMock(),
        "exponent": decimal.Decimal("1e999999"),
        "namespace": types.SimpleNamespace(a=1),
    }


def state(variables: dict[str, Any]) -> Any:
    """Everything about the arguments an expression could have changed, as plain data (read raw)."""
    plain = {
        name: variables[name]
        for name in ("cart", "prices", "big", "nested", "text", "n", "result", "huge", "price", "ratio", "ident")
    }
    counts, tally, order = variables["counts"], variables["tally"], variables["order"]
    return {
        "plain": repr(plain),
        "counts": (dict(counts), counts.default_factory),
        "tally": dict(tally),
        "order": (order.total, [vars(i) for i in order.items], order.coupon),
        "quiet": vars(variables["quiet"]),
        "row": dict(vars(variables["row"])),
        "spy": list(vars(variables["spy"])["items"]),
        "spies": [list(vars(s)["items"]) for s in variables["spies"]],
        "lazy": dict(vars(variables["lazy"])),
        "computed": dict(object.__getattribute__(variables["computed"], "__dict__")),
        "mock": (variables["mock"].mock_calls, sorted(vars(variables["mock"])["_mock_children"])),
        "namespace": vars(variables["namespace"]),
        "path": variables["path"].read_text(),
    }


def files(folder: Path) -> list[tuple[str, int]]:
    return sorted((str(p.relative_to(folder)), p.stat().st_size) for p in folder.rglob("*"))
