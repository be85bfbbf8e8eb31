"""Stratified sampling of calls: every input *shape* seen in an interval is kept at least once.

A reservoir that keeps a few random calls per interval loses the input that comes once in ten
calls much of the time -- and the rare input is the one that finds the rounding bug. So the
sampler keeps one call of every input shape seen in an interval first: a shape's first call is
always kept, later calls of that shape replace it with equal chance (a reservoir of one per shape:
the kept call is a fair pick among its shape's calls). The room the shapes leave under the bound
(``sensor.samples_per_interval`` samples per function per interval, and so as many shapes at
most) goes to the other calls, picked uniformly at random, identical inputs kept once. Each
sample carries how many calls of its shape the interval saw, and its exact encoding is bounded by
``sensor.sample_max_bytes``.

**The shape** (:func:`shape_of`) is a cheap structural signature of a call's arguments, by name::

    amount=Decimal+.frac currency=Currency.JPY note=None qty=int+ when=datetime+tz

==================  ========================================================================
value               shape
==================  ========================================================================
``None``, ``bool``  ``None``, ``bool``
numbers             type and sign (``int-``, ``int0``, ``int+``); floats and decimals also
                    ``.frac`` when not whole, ``nan`` / ``inf``
strings, bytes      ``str`` or ``str''`` (empty); the text itself never
dates and times     ``datetime`` (naive) or ``datetime+tz`` (aware); ``date``, ``time``
containers          type and length bucket (0, 1, 2-4, 5-16, 17-64, 65+), the shape of the first
                    item, and a dict's keys when they are a few short identifiers
enum members        the member (``Currency.JPY``): members are the categories code branches on
objects             the class and, two levels deep, its fields' shapes
==================  ========================================================================

Values never enter a shape (no text, no number), so the shape is safe to send as it is.

Each kept call also carries its exact, replayable encoding (:mod:`codewitness.sensor.exact`)
of inputs and output, or the reason it has none; a value a snapshot would redact makes the call
not replayable.

Threading: like the reservoir it replaces, the sampler takes no lock (it runs on application
threads and in signal handlers). A count lost to a race costs one count; two threads meeting a
new shape at once may keep one shape more than the bound.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import itertools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from codewitness.facts import Kind, timestamp
from codewitness.sensor._rng import RNG
from codewitness.sensor._secrets import REDACTED, luhn_ok
from codewitness.sensor.exact import NotReplayable, Redaction, digest, encode, encode_arguments

if TYPE_CHECKING:
    from codewitness.sensor.snapshot import Redactor

__all__ = ["Strata", "Token", "exact_arguments", "redaction_of", "shape_of"]

#: The longest shape text sent.
MAX_SHAPE = 500
_BUCKETS = ((0, "0"), (1, "1"), (4, "2-4"), (16, "5-16"), (64, "17-64"))
_SHAPE_DEPTH = 2


def _bucket(n: int) -> str:
    for top, label in _BUCKETS:
        if n <= top:
            return label
    return "65+"


def _sign(value: Any) -> str:
    return "-" if value < 0 else "0" if value == 0 else "+"


def _shape(value: Any, depth: int) -> str:
    cls = type(value)
    if value is None:
        return "None"
    if cls is bool:
        return "bool"
    if cls is int:
        return "int" + _sign(value)
    if cls is float:
        if value != value:
            return "float.nan"
        if value in (float("inf"), float("-inf")):
            return "float" + _sign(value) + ".inf"
        return "float" + _sign(value) + ("" if value.is_integer() else ".frac")
    if cls is decimal.Decimal:
        if not value.is_finite():
            return "Decimal.nan" if value.is_nan() else "Decimal" + _sign(value) + ".inf"
        return "Decimal" + _sign(value) + ("" if value == value.to_integral_value() else ".frac")
    if cls is str or cls is bytes:
        return cls.__name__ + ("''" if not value else "")
    if isinstance(value, datetime.datetime):
        return "datetime" + ("+tz" if value.tzinfo is not None and value.utcoffset() is not None else "")
    if isinstance(value, datetime.time):
        return "time" + ("+tz" if value.tzinfo is not None else "")
    if isinstance(value, datetime.date):
        return "date"
    if isinstance(value, enum.Enum):
        return f"{cls.__name__}.{value.name}"
    if cls in (list, tuple, set, frozenset):
        text = f"{cls.__name__}[{_bucket(len(value))}]"
        if value and depth < _SHAPE_DEPTH and cls in (list, tuple):
            text += f"<{_shape(value[0], depth + 1)}>"
        return text
    if isinstance(value, Mapping):
        text = f"{cls.__name__}[{_bucket(len(value))}]"
        if 0 < len(value) <= 8 and depth < _SHAPE_DEPTH:
            keys = list(value)
            if all(type(k) is str and len(k) <= 32 and k.isidentifier() for k in keys):
                text += "{" + ",".join(sorted(keys)) + "}"
        return text
    if dataclasses.is_dataclass(value) and depth < _SHAPE_DEPTH:
        fields = dataclasses.fields(value)[:8]
        inner = " ".join(f"{f.name}={_shape(getattr(value, f.name), depth + 1)}" for f in fields)
        return f"{cls.__name__}({inner})"
    return cls.__name__


def shape_of(arguments: Mapping[str, Any]) -> str:
    """The shape of a call's arguments (see the module docstring); never raises."""
    try:
        text = " ".join(f"{name}={_shape(value, 0)}" for name, value in arguments.items())
    except Exception:  # a hostile __len__ or __eq__: the call still has a shape
        text = "<unshaped>"
    return text[:MAX_SHAPE]


def _card(value: int) -> bool:
    return 10**12 <= abs(value) < 10**19 and luhn_ok(str(abs(value)))


def redaction_of(redactor: Redactor) -> Redaction:
    """The exact encoder's view of a redactor: what it would redact makes a value not replayable."""
    return Redaction(secret_name=redactor.secret_name, scrub=redactor.redact_text, secret_int=_card)


def exact_arguments(
    arguments: Mapping[str, Any], snapshot: Any, redaction: Redaction, max_bytes: int
) -> tuple[dict[str, Any] | None, str | None]:
    """The exact encoding of a call's arguments, or ``None`` and why not.

    Two guards keep secrets out: the encoder refuses what the redaction rules match anywhere in
    the value (names, text, card numbers, name/value pairs, secret types), and a call whose
    snapshot shows a redaction -- the snapshot knows contexts, such as a URL's password -- is not
    encoded at all.
    """
    if _redacted(snapshot):
        return None, "redacted: its snapshot hides a secret"
    try:
        return encode_arguments(arguments, redaction=redaction, max_bytes=max_bytes), None
    except NotReplayable as exc:
        return None, str(exc)


def _redacted(snapshot: Any) -> bool:
    if isinstance(snapshot, str):
        return REDACTED in snapshot
    if isinstance(snapshot, dict):
        return any(REDACTED in key or _redacted(item) for key, item in snapshot.items())
    if isinstance(snapshot, list):
        return any(_redacted(item) for item in snapshot)
    return False


#: What a call chosen for a sample carries from its start to its end: its shape, where it is kept
#: (-1: its shape's slot; else a slot of the reservoir of other calls), the redacted snapshot of
#: its arguments, and their exact encoding (or why there is none).
Token = tuple[str, int, dict[str, Any], "dict[str, Any] | None", "str | None"]


class _Count:
    __slots__ = ("n",)

    def __init__(self) -> None:
        self.n = 0


class Strata:
    """One interval's samples of one function: one per input shape first, then others at random
    (see the module docstring).

    Args:
        max_samples: the most samples kept (``sensor.samples_per_interval``), and so the most shapes.
        max_bytes: the largest exact encoding of one call's inputs (or output) kept.
    """

    __slots__ = ("calls", "extra", "fresh", "held", "holes", "kept", "max_bytes", "max_samples", "offered", "room")

    def __init__(self, max_samples: int, max_bytes: int) -> None:
        self.max_samples = max_samples
        self.max_bytes = max_bytes
        self.calls: dict[str, _Count] = {}
        self.kept: dict[str, dict[str, Any]] = {}
        #: A reservoir of the calls of shapes already kept, for the room the shapes leave: slots
        #: by number, filled as calls come (a bound of 100,000 costs nothing until it is used).
        self.room = max(0, max_samples - 1)
        self.extra: dict[int, dict[str, Any]] = {}
        self.offered = itertools.count()
        #: The next slot of the reservoir never handed out, and slots handed out but left empty
        #: (the call's input was kept already, or has no replayable form): the next calls get them.
        self.fresh = 0
        self.holes: list[int] = []
        #: How many kept records (shape slots and reservoir) hold each input digest.
        self.held: dict[str, int] = {}

    def admit(self, shape: str) -> int | None:
        """Count a call of ``shape``; where to keep it: ``-1`` (its shape's slot), a slot of the
        reservoir of other calls, or ``None`` (not kept)."""
        count = self.calls.get(shape)
        if count is None:
            if len(self.calls) >= self.max_samples:
                return None
            count = self.calls.setdefault(shape, _Count())
        count.n += 1
        n = count.n
        if n <= 1 or RNG.randrange(n) == 0:
            return -1  # a fair pick among the shape's calls holds its slot
        return self._other()

    def _other(self) -> int | None:
        """A slot of the reservoir of other calls for one more call, or ``None``: an empty one while
        there is one, then algorithm R's choice."""
        offered = next(self.offered)
        if self.holes:
            return self.holes.pop()
        if self.fresh < self.room:
            self.fresh += 1
            return self.fresh - 1
        slot = RNG.randrange(offered + 1)
        return slot if slot < self.room else None

    def _count(self, record: dict[str, Any], change: int) -> None:
        digest = record.get("input_digest")
        if digest is not None:
            held = self.held.get(digest, 0) + change
            if held > 0:
                self.held[digest] = held
            else:
                self.held.pop(digest, None)

    def _put(self, slot: int, record: dict[str, Any]) -> None:
        """Keep ``record`` in reservoir slot ``slot`` -- unless :meth:`drain` would drop it (an input
        kept already, or none replayable): then the slot keeps what it holds, or waits for another call.
        Before, such records took slots that were empty after the drain, while other inputs had been
        turned away."""
        digest = record.get("input_digest")
        if digest is None or digest in self.held:
            if slot not in self.extra:
                self.holes.append(slot)
            return
        old = self.extra.get(slot)
        if old is not None:
            self._count(old, -1)
        self.extra[slot] = record
        self._count(record, 1)

    def take(self, arguments: Mapping[str, Any], redactor: Redactor, redaction: Redaction) -> Token | None:
        """Before a call: its token when it is to be kept, else ``None``."""
        shape = shape_of(arguments)
        slot = self.admit(shape)
        if slot is None:
            return None
        snapshot = redactor.snapshot_arguments(arguments)
        exact, reason = exact_arguments(arguments, snapshot, redaction, self.max_bytes)
        return shape, slot, snapshot, exact, reason

    def keep(
        self,
        ns: int,
        token: Token,
        result: Any,
        redactor: Redactor,
        redaction: Redaction,
        context: Mapping[str, Any] | None = None,
    ) -> None:
        """After the call returned ``result``: make its sample record and keep it where its token says.

        ``context`` holds the fields every event of the call gets (the request it ran in).
        """
        shape, slot, snapshot, exact, reason = token
        record: dict[str, Any] = {
            "kind": Kind.SAMPLE,
            "time": timestamp(),
            "duration_ns": ns,
            "arguments": snapshot,
            "result": redactor.snapshot(result),
            "shape": shape,
            **(context or {}),
        }
        if exact is not None:
            record["input"] = exact
            record["input_digest"] = digest(exact)
            try:
                if _redacted(record["result"]):
                    raise NotReplayable("result: redacted: its snapshot hides a secret")
                record["output"] = {"ok": encode(result, redaction=redaction, where="result", max_bytes=self.max_bytes)}
            except NotReplayable as exc:
                record["output_unkept"] = str(exc)
        else:
            record["not_replayable"] = reason
        if slot < 0:
            displaced = self.kept.get(shape)
            self.kept[shape] = record
            self._count(record, 1)
            if displaced is not None:  # the call it replaces is one of the other calls now
                self._count(displaced, -1)
                other = self._other() if self.room else None
                if other is not None:
                    self._put(other, displaced)
        elif slot < self.room:
            self._put(slot, record)

    def drain(self) -> list[dict[str, Any]]:
        """The kept samples -- one per shape, then as many others as leave the total within the
        bound, identical inputs once -- each with the number of calls of its shape this interval."""
        out = list(self.kept.values())
        seen = {record.get("input_digest") for record in out}
        room = self.max_samples - len(out)
        for slot in sorted(self.extra):
            if room <= 0:
                break
            record = self.extra[slot]
            if record.get("input_digest") in seen or "input_digest" not in record:
                continue
            seen.add(record["input_digest"])
            out.append(record)
            room -= 1
        for record in out:
            count = self.calls.get(record["shape"])
            record["shape_calls"] = count.n if count is not None else 1
        return out
