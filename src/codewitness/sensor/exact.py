"""Exact, replayable encodings of Python values: what a sampled call's inputs are rebuilt from.

A redacted snapshot (:mod:`codewitness.sensor.snapshot`) is for people: it shows a value, cut
and bounded. Replaying a call needs more: ``2`` and ``2.0`` and ``Decimal("2.0")`` and ``True``
must come back as what they were, a datetime with its time zone, a dataclass as that dataclass.
:func:`encode` turns a value into JSON data that :func:`decode` turns back into an equal value
of the same type, or refuses with :class:`NotReplayable` and a reason a person can read:

==============================  ====================================================================
value                           encoding
==============================  ====================================================================
``None``, ``bool``, ``str``      itself (a string JSON cannot hold, with a lone surrogate, is tagged)
``int``                          itself up to 64 bits, else ``{"$": "int", "v": "<digits>"}``
``float``                        itself when finite, else ``{"$": "float", "v": "nan" | "inf" | "-inf"}``
``list``                         a JSON array of encoded items
``tuple``, ``set``, ``frozenset``  ``{"$": "tuple" | "set" | "frozenset", "items": [...]}`` (sets sorted)
``dict``, ``OrderedDict``        ``{"$": "dict", "items": [[key, value], ...]}`` (keys encoded too, in order)
``bytes``, ``bytearray``         ``{"$": "bytes" | "bytearray", "b64": "..."}``
``Decimal``, ``Fraction``,       ``{"$": "decimal", "v": str(d)}`` (exponent kept: ``2.50`` is not ``2.5``),
``complex``, ``UUID``, paths,    and alike, by their exact text
IP addresses, ``range``
``datetime``, ``date``,          ISO text and the time zone: ``None`` (naive), a fixed offset
``time``, ``timedelta``          (``datetime.timezone``) or an IANA zone (``zoneinfo.ZoneInfo``)
enum members                     ``{"$": "enum", "type": "module:Qualname", "name": ...}``
named tuples, dataclasses,       ``{"$": "...", "type": "module:Qualname", "fields": [[name, value], ...]}``,
Pydantic models, plain objects   rebuilt without running ``__init__`` (as ``copy`` and ``pickle`` do)
classes                          ``{"$": "type", "type": "module:Qualname"}``
==============================  ====================================================================

Anything else -- an open file, a lock, a generator, an object with its own ``__reduce__`` or
``__getstate__``, a class defined in ``__main__`` or inside a function, a time zone of another
library -- is *not replayable*, and so is a value that would be redacted in a snapshot (a
secret-looking name or text, a card number): a replay never runs with a placeholder.
``pickle`` is deliberately not used: decoding a pickle runs whatever it names, and corpus entries
may come from any process that can write to the store.

Standard library only, and no import of codewitness at all: the replay runner loads this file by
its path into the project's own interpreter, whatever is installed there.

Example:
    >>> from decimal import Decimal
    >>> data = encode({"amount": Decimal("2.50"), "qty": 2, "ratio": 2.0})
    >>> data["items"][0]
    ['amount', {'$': 'decimal', 'v': '2.50'}]
    >>> decode(data) == {"amount": Decimal("2.50"), "qty": 2, "ratio": 2.0}
    True
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import decimal
import enum
import fractions
import hashlib
import importlib
import ipaddress
import json
import pathlib
import sys
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

__all__ = [
    "MAX_DEPTH",
    "MAX_ITEMS",
    "NotReplayable",
    "Redaction",
    "canonical",
    "decode",
    "decode_arguments",
    "digest",
    "encode",
    "encode_arguments",
    "type_name",
]

#: The deepest nesting of containers and objects encoded (each level is up to three JSON levels).
MAX_DEPTH = 16
#: The most items (container items, fields) one encoding may hold.
MAX_ITEMS = 10_000
#: Tag key of every non-JSON value.
TAG = "$"


class NotReplayable(ValueError):
    """A value that cannot be encoded exactly, or an encoding that cannot be rebuilt here.

    The message says why in words (``"a socket.socket value has no exact encoding"``), names the
    place in the value (``arguments.card``), and never shows the value itself.
    """


class Redaction:
    """What a snapshot would redact, asked of every name, string and integer while encoding.

    The default redacts nothing (outputs of a replay on the developer's machine). The sensor
    passes its redactor's rules, so that a value a snapshot would redact makes the call
    not replayable instead.

    Args:
        secret_name: whether values stored under a name are secret.
        scrub: a string with its secret-looking parts replaced (equal to the input when clean).
        secret_int: whether an integer is secret (a card number).
    """

    __slots__ = ("scrub", "secret_int", "secret_name")

    def __init__(
        self,
        secret_name: Callable[[str], bool] | None = None,
        scrub: Callable[[str], str] | None = None,
        secret_int: Callable[[int], bool] | None = None,
    ) -> None:
        self.secret_name = secret_name
        self.scrub = scrub
        self.secret_int = secret_int


_NONE = Redaction()
_INT64 = 2**63


def type_name(cls: type) -> str:
    """``module:Qualname`` of a class, as encodings name types."""
    return f"{getattr(cls, '__module__', '?')}:{getattr(cls, '__qualname__', '?')}"


def _importable(cls: type, where: str) -> str:
    name = type_name(cls)
    module = getattr(cls, "__module__", None)
    qualname = getattr(cls, "__qualname__", "")
    if not module or module == "__main__" or "<locals>" in qualname or "<" in module:
        raise NotReplayable(f"{where}: type {name} cannot be imported by a replay (defined in __main__ or a function)")
    return name


#: Classes (by ``module:Qualname``, anywhere in the MRO) never encoded, and why: what a snapshot
#: redacts whole or reduces to a few safe parts is not replayed either.
_REFUSED = {
    "pydantic.types:_SecretBase": "redacted (a secret type)",
    "pydantic.v1.types:SecretStr": "redacted (a secret type)",
    "pydantic.v1.types:SecretBytes": "redacted (a secret type)",
    "starlette.requests:HTTPConnection": "a web request is not replayed",
    "django.http.request:HttpRequest": "a web request is not replayed",
    "werkzeug.sansio.request:Request": "a web request is not replayed",
    "werkzeug.local:LocalProxy": "a web request is not replayed",
}
_URLS = frozenset(
    f"urllib.parse:{name}" for name in ("SplitResult", "ParseResult", "SplitResultBytes", "ParseResultBytes")
)


def _refused(cls: type) -> str | None:
    for base in cls.__mro__:
        reason = _REFUSED.get(type_name(base))
        if reason is not None:
            return reason
    return None


def _is_pydantic(cls: type) -> bool:
    return any(type_name(base) == "pydantic.main:BaseModel" for base in cls.__mro__)


def _is_namedtuple(cls: type) -> bool:
    return issubclass(cls, tuple) and isinstance(getattr(cls, "_fields", None), tuple)


def _plain_object(cls: type) -> bool:
    """Whether instances are rebuilt from their ``__dict__`` as ``copy`` would: a class made by a
    ``class`` statement, with no state protocol of its own and no ``__slots__``."""
    if not cls.__flags__ & _HEAPTYPE:
        return False
    if getattr(cls, "__reduce_ex__", None) is not object.__reduce_ex__ or getattr(cls, "__reduce__", None) is not (
        object.__reduce__
    ):
        return False
    if getattr(cls, "__getstate__", None) is not getattr(object, "__getstate__", None):
        return False
    if getattr(cls, "__setstate__", None) is not None:
        return False
    return not any("__slots__" in base.__dict__ for base in cls.__mro__ if base is not object)


#: ``Py_TPFLAGS_HEAPTYPE``: set on classes made by a ``class`` statement, not on built-in types.
_HEAPTYPE = 1 << 9


class _Encoder:
    __slots__ = ("active", "items", "max_bytes", "redaction", "size")

    def __init__(self, redaction: Redaction, max_bytes: int | None) -> None:
        self.redaction = redaction
        self.items = 0
        self.active: set[int] = set()
        #: About how many bytes the encoding takes so far (text by its length, anything else 8).
        self.size = 0
        self.max_bytes = max_bytes

    def grow(self, n: int, where: str) -> None:
        self.size += n
        if self.max_bytes is not None and self.size > self.max_bytes:
            raise NotReplayable(f"{where}: larger than {self.max_bytes} bytes")

    def name(self, name: str, where: str) -> None:
        check = self.redaction.secret_name
        if check is not None and check(name):
            raise NotReplayable(f"{where}: redacted (a secret-looking name)")

    def text(self, text: str, where: str) -> None:
        scrub = self.redaction.scrub
        if scrub is not None and scrub(text) != text:
            raise NotReplayable(f"{where}: redacted (secret-looking text)")

    def shown_key(self, key: Any) -> str:
        """How a refusal names a mapping key: a short clean name or a number as it is, else ``<key>``."""
        if type(key) is int and abs(key) < 10**6:
            return str(key)
        if type(key) is str and len(key) <= 40 and key.isidentifier():
            scrub = self.redaction.scrub
            if scrub is None or scrub(key) == key:
                return repr(key)
        return "<key>"

    def pair(self, items: Any, where: str) -> None:
        """A ``(name, value)`` pair -- a header list, ASGI headers, ``parse_qsl`` -- is secret by its name,
        as a snapshot redacts it."""
        if len(items) == 2 and isinstance(items[0], str | bytes | bytearray):
            name = items[0] if isinstance(items[0], str) else bytes(items[0]).decode("utf-8", "backslashreplace")
            self.name(name, where)

    def count(self, n: int, where: str) -> None:
        self.items += n
        if self.items > MAX_ITEMS:
            raise NotReplayable(f"{where}: more than {MAX_ITEMS} items")

    def fields(self, pairs: list[tuple[str, Any]], depth: int, where: str) -> list[list[Any]]:
        self.count(len(pairs), where)
        out = []
        for key, item in pairs:
            at = f"{where}.{key}"
            self.name(key, at)
            out.append([key, self.value(item, depth + 1, at)])
        return out

    def value(self, value: Any, depth: int, where: str) -> Any:
        cls = type(value)
        if value is None or cls is bool:
            self.grow(5, where)
            return value
        if cls is str:
            self.grow(len(value) + 2, where)  # before the text is scrubbed: that costs its length
            self.text(value, where)
            if not value.isascii():
                try:
                    value.encode("utf-8")
                except UnicodeEncodeError:
                    return {TAG: "str", "hex": value.encode("utf-8", "surrogatepass").hex()}
            return value
        self.grow(8, where)
        if cls is int:
            check = self.redaction.secret_int
            if check is not None and check(value):
                raise NotReplayable(f"{where}: redacted (a card number)")
            return value if -_INT64 <= value < _INT64 else {TAG: "int", "v": str(value)}
        if cls is float:
            if value != value:
                return {TAG: "float", "v": "nan"}
            if value in (float("inf"), float("-inf")):
                return {TAG: "float", "v": "inf" if value > 0 else "-inf"}
            return value
        if depth >= MAX_DEPTH:
            raise NotReplayable(f"{where}: nested deeper than {MAX_DEPTH} levels")
        key = id(value)
        if key in self.active:
            raise NotReplayable(f"{where}: a value that contains itself")
        self.active.add(key)
        try:
            return self._compound(value, cls, depth, where)
        finally:
            self.active.discard(key)

    def _compound(self, value: Any, cls: type, depth: int, where: str) -> Any:
        if cls is list:
            self.count(len(value), where)
            self.pair(value, where)
            return [self.value(item, depth + 1, f"{where}[{i}]") for i, item in enumerate(value)]
        if cls is tuple:
            self.count(len(value), where)
            self.pair(value, where)
            return {
                TAG: "tuple",
                "items": [self.value(item, depth + 1, f"{where}[{i}]") for i, item in enumerate(value)],
            }
        if cls is dict or cls is OrderedDict:
            self.count(len(value), where)
            items = []
            for k, v in value.items():
                at = f"{where}[{self.shown_key(k)}]"
                if isinstance(k, str | bytes | bytearray):
                    self.name(k if isinstance(k, str) else bytes(k).decode("utf-8", "backslashreplace"), at)
                items.append([self.value(k, depth + 1, at), self.value(v, depth + 1, at)])
            out: dict[str, Any] = {TAG: "dict", "items": items}
            if cls is OrderedDict:
                out["type"] = "collections:OrderedDict"
            return out
        if cls is set or cls is frozenset:
            self.count(len(value), where)
            encoded = [self.value(item, depth + 1, f"{where}[<item>]") for item in value]
            encoded.sort(key=canonical)
            return {TAG: cls.__name__, "items": encoded}
        if cls is bytes or cls is bytearray:
            self.grow(len(value) * 4 // 3, where)
            self.text(bytes(value).decode("utf-8", "backslashreplace"), where)
            return {TAG: cls.__name__, "b64": base64.b64encode(value).decode("ascii")}
        if cls is decimal.Decimal:
            return {TAG: "decimal", "v": str(value)}
        if cls is fractions.Fraction:
            return {TAG: "fraction", "v": str(value)}
        if cls is complex:
            return {TAG: "complex", "v": repr(value)}
        if cls is datetime.datetime:
            return {
                TAG: "datetime",
                "v": value.replace(tzinfo=None).isoformat(),
                "tz": _tz(value.tzinfo, where),
                "fold": value.fold,
            }
        if cls is datetime.date:
            return {TAG: "date", "v": value.isoformat()}
        if cls is datetime.time:
            return {
                TAG: "time",
                "v": value.replace(tzinfo=None).isoformat(),
                "tz": _tz(value.tzinfo, where),
                "fold": value.fold,
            }
        if cls is datetime.timedelta:
            return {TAG: "timedelta", "v": [value.days, value.seconds, value.microseconds]}
        if cls is uuid.UUID:
            return {TAG: "uuid", "v": str(value)}
        if cls is range:
            return {TAG: "range", "v": [value.start, value.stop, value.step]}
        if cls in _PATHS or cls in _ADDRESSES:
            self.text(str(value), where)
            return {TAG: "path" if cls in _PATHS else "ip", "type": type_name(cls), "v": str(value)}
        if isinstance(value, type):
            return {TAG: "type", "type": _importable(value, where)}
        refused = _refused(cls)
        if refused is not None:
            raise NotReplayable(f"{where}: {refused}")
        if isinstance(value, enum.Enum):
            return {TAG: "enum", "type": _importable(cls, where), "name": value.name}
        if _is_namedtuple(cls):
            self.count(len(value), where)
            name = _importable(cls, where)
            if name in _URLS:  # "user:password@host" is in the netloc: judge the URL whole, as a snapshot does
                url = value.geturl()
                self.text(url if isinstance(url, str) else bytes(url).decode("utf-8", "backslashreplace"), where)
            fields = [
                [k, self.value(v, depth + 1, f"{where}.{k}")]
                for k, v in zip(cls._fields, value, strict=False)  # type: ignore[attr-defined]
            ]
            for k, _ in fields:
                self.name(k, f"{where}.{k}")
            return {TAG: "namedtuple", "type": name, "fields": fields}
        if dataclasses.is_dataclass(value):
            name = _importable(cls, where)
            pairs = [(f.name, getattr(value, f.name)) for f in dataclasses.fields(value)]
            return {TAG: "dataclass", "type": name, "fields": self.fields(pairs, depth, where)}
        if _is_pydantic(cls):
            name = _importable(cls, where)
            extra = getattr(value, "__pydantic_extra__", None)
            if extra:
                raise NotReplayable(f"{where}: a {name} model with extra fields")
            state = getattr(value, "__dict__", {})
            return {TAG: "pydantic", "type": name, "fields": self.fields(list(state.items()), depth, where)}
        if _rebuildable(cls) and isinstance(getattr(value, "__dict__", None), dict):
            name = _importable(cls, where)
            return {TAG: "object", "type": name, "fields": self.fields(list(vars(value).items()), depth, where)}
        raise NotReplayable(f"{where}: a {type_name(cls)} value has no exact encoding")


_PATHS = (
    pathlib.PurePath,
    pathlib.PurePosixPath,
    pathlib.PureWindowsPath,
    pathlib.Path,
    pathlib.PosixPath,
    pathlib.WindowsPath,
)
_ADDRESSES = (
    ipaddress.IPv4Address,
    ipaddress.IPv6Address,
    ipaddress.IPv4Network,
    ipaddress.IPv6Network,
    ipaddress.IPv4Interface,
    ipaddress.IPv6Interface,
)


def _tz(tz: datetime.tzinfo | None, where: str) -> Any:
    if tz is None:
        return None
    if type(tz) is datetime.timezone:
        offset = tz.utcoffset(None)
        name = tz.tzname(None)
        # ``timezone(offset)`` names itself "UTC+01:00"; a name given on purpose is kept.
        default = datetime.timezone(offset).tzname(None)
        return {"offset": offset.total_seconds(), "name": None if name == default else name}
    if type_name(type(tz)) == "zoneinfo:ZoneInfo" and getattr(tz, "key", None):
        return {"zone": tz.key}  # type: ignore[attr-defined]
    raise NotReplayable(f"{where}: a time zone of type {type_name(type(tz))} (only fixed offsets and zoneinfo)")


def encode(value: Any, *, redaction: Redaction = _NONE, where: str = "value", max_bytes: int | None = None) -> Any:
    """The exact encoding of ``value`` (see the module docstring).

    Args:
        value: any value.
        redaction: what to refuse as secret (the sensor's rules; none by default).
        where: how to name the value in a refusal.
        max_bytes: refuse an encoding larger than about this many bytes (the text is not even
            scrubbed past it, so the cost is bounded too); ``None``: no bound.

    Raises:
        NotReplayable: the value (or a part of it) has no exact encoding, would be redacted, or
            is larger than ``max_bytes``.
    """
    return _Encoder(redaction, max_bytes).value(value, 0, where)


def encode_arguments(
    arguments: Mapping[str, Any], *, redaction: Redaction = _NONE, max_bytes: int | None = None
) -> dict[str, Any]:
    """A call's arguments by name, each encoded; an argument with a secret name is refused.

    Raises:
        NotReplayable: an argument cannot be encoded exactly, would be redacted, or all of them
            take more than ``max_bytes``.
    """
    encoder = _Encoder(redaction, max_bytes)
    out: dict[str, Any] = {}
    for name, value in arguments.items():
        where = f"arguments.{name}"
        encoder.name(name, where)
        out[name] = encoder.value(value, 0, where)
    return out


def canonical(data: Any) -> str:
    """One text per encoding (sorted keys, no spaces): what digests and set orders are made of."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def digest(data: Any) -> str:
    """A short content hash of an encoding (32 hex digits of SHA-256 over :func:`canonical`)."""
    return hashlib.sha256(canonical(data).encode("utf-8", "surrogatepass")).hexdigest()[:32]


# -- decoding --------------------------------------------------------------------------------


def _resolve(name: str) -> Any:
    module_name, _, qualname = name.partition(":")
    if not module_name or not qualname:
        raise NotReplayable(f"bad type name {name!r}")
    try:
        target: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            target = getattr(target, part)
    except Exception as exc:
        raise NotReplayable(f"type {name} cannot be imported here ({type(exc).__name__}: {exc})") from None
    return target


def _class(name: str, kind: str, fits: Callable[[type], bool] = lambda cls: True) -> type:
    """The class ``name`` stands for, when it is the ``kind`` of class the encoding says it is.

    The check matters: an encoding is data read from the store, and rebuilding calls no class
    but the one a value of that tag was made from (a path class, an enum, a named tuple, ...).
    """
    found = _resolve(name)
    if not isinstance(found, type) or not fits(found):
        raise NotReplayable(f"{name} is not {kind} here")
    return found


_PATH_NAMES: dict[str, Callable[[str], Any]] = {type_name(cls): cls for cls in (*_PATHS, *_ADDRESSES)}


def _rebuildable(cls: type) -> bool:
    """A plain class a decoder may make without its ``__init__``: not of the standard library (whose
    classes hold processes, files, sockets) and with no ``__del__`` to run on a half-made object."""
    module = getattr(cls, "__module__", "") or ""
    return _plain_object(cls) and module.split(".")[0] not in sys.stdlib_module_names and not hasattr(cls, "__del__")


def _zone(spec: Any) -> datetime.tzinfo | None:
    if spec is None:
        return None
    if "zone" in spec:
        import zoneinfo

        try:
            return zoneinfo.ZoneInfo(spec["zone"])
        except Exception as exc:
            raise NotReplayable(f"time zone {spec['zone']!r} is not known here ({type(exc).__name__})") from None
    offset = datetime.timedelta(seconds=spec["offset"])
    return datetime.timezone(offset) if spec.get("name") is None else datetime.timezone(offset, spec["name"])


def _rebuilt(cls: type, fields: list[list[Any]], depth: int) -> Any:
    obj = cls.__new__(cls)  # type: ignore[call-overload]
    for key, item in fields:
        object.__setattr__(obj, key, _decode(item, depth + 1))
    return obj


def _decode(data: Any, depth: int) -> Any:
    if depth > MAX_DEPTH * 3:
        raise NotReplayable("nested too deeply")
    if data is None or isinstance(data, bool | str | int | float):
        return data
    if isinstance(data, list):
        return [_decode(item, depth + 1) for item in data]
    if not isinstance(data, dict) or TAG not in data:
        raise NotReplayable("not an exact encoding (an object without a type tag)")
    tag = data[TAG]
    try:
        if tag == "str":
            return bytes.fromhex(data["hex"]).decode("utf-8", "surrogatepass")
        if tag == "int":
            return int(data["v"])
        if tag == "float":
            return float(data["v"])
        if tag == "tuple":
            return tuple(_decode(item, depth + 1) for item in data["items"])
        if tag in ("set", "frozenset"):
            made = (_decode(item, depth + 1) for item in data["items"])
            return set(made) if tag == "set" else frozenset(made)
        if tag == "dict":
            pairs = [(_decode(k, depth + 1), _decode(v, depth + 1)) for k, v in data["items"]]
            return OrderedDict(pairs) if data.get("type") == "collections:OrderedDict" else dict(pairs)
        if tag in ("bytes", "bytearray"):
            raw = base64.b64decode(data["b64"])
            return raw if tag == "bytes" else bytearray(raw)
        if tag == "decimal":
            return decimal.Decimal(data["v"])
        if tag == "fraction":
            return fractions.Fraction(data["v"])
        if tag == "complex":
            return complex(data["v"])
        if tag == "datetime":
            value = datetime.datetime.fromisoformat(data["v"])
            return value.replace(tzinfo=_zone(data.get("tz")), fold=data.get("fold", 0))
        if tag == "date":
            return datetime.date.fromisoformat(data["v"])
        if tag == "time":
            value_t = datetime.time.fromisoformat(data["v"])
            return value_t.replace(tzinfo=_zone(data.get("tz")), fold=data.get("fold", 0))
        if tag == "timedelta":
            days, seconds, micro = data["v"]
            return datetime.timedelta(days=days, seconds=seconds, microseconds=micro)
        if tag == "uuid":
            return uuid.UUID(data["v"])
        if tag == "range":
            return range(*data["v"])
        if tag in ("path", "ip"):
            path_type: Callable[[str], Any] | None = _PATH_NAMES.get(data["type"])
            if path_type is None:
                raise NotReplayable(f"{data['type']} is not a path or address class")
            return path_type(data["v"])
        if tag == "type":
            return _class(data["type"], "a class")
        if tag == "enum":
            return _class(data["type"], "an enum", lambda c: issubclass(c, enum.Enum))[data["name"]]  # type: ignore[index]
        if tag == "namedtuple":
            cls = _class(data["type"], "a named tuple", _is_namedtuple)
            return cls._make(_decode(v, depth + 1) for _, v in data["fields"])  # type: ignore[attr-defined]
        if tag == "dataclass":
            return _rebuilt(_class(data["type"], "a dataclass", dataclasses.is_dataclass), data["fields"], depth)
        if tag == "object":
            return _rebuilt(_class(data["type"], "a plain class of the project", _rebuildable), data["fields"], depth)
        if tag == "pydantic":
            cls = _class(data["type"], "a Pydantic model", _is_pydantic)
            return cls.model_construct(**{k: _decode(v, depth + 1) for k, v in data["fields"]})  # type: ignore[attr-defined]
    except NotReplayable:
        raise
    except Exception as exc:
        raise NotReplayable(f"a {tag!r} value cannot be rebuilt ({type(exc).__name__}: {exc})") from None
    raise NotReplayable(f"unknown type tag {tag!r}")


def decode(data: Any) -> Any:
    """The value an :func:`encode` encoding stands for, rebuilt.

    Types named in the encoding are imported (``module:Qualname``); instances of dataclasses and
    plain classes are made without running ``__init__`` and given their recorded fields.

    Raises:
        NotReplayable: the encoding is malformed, or names a type that cannot be imported here.
    """
    return _decode(data, 0)


def decode_arguments(data: Mapping[str, Any]) -> dict[str, Any]:
    """Inverse of :func:`encode_arguments`.

    Raises:
        NotReplayable: as :func:`decode`, naming the argument.
    """
    out: dict[str, Any] = {}
    for name, item in data.items():
        try:
            out[name] = _decode(item, 0)
        except NotReplayable as exc:
            raise NotReplayable(f"arguments.{name}: {exc}") from None
    return out
