"""Exact encodings (:mod:`codewitness.sensor.exact`) shown as Python source, and typed in as JSON.

:func:`to_source` writes the Python expression that rebuilds an encoded value -- what a report
shows for an input or an output (``Decimal('2.50')``, ``datetime(2026, 3, 1, 12, 0,
tzinfo=ZoneInfo('Europe/Paris'))``) and what ``codewitness gen-tests`` writes into a test file,
with the imports it needs. Instances of dataclasses and plain classes are written as
``_rebuild(Money, amount=..., currency=...)``: the generated file defines ``_rebuild``, which makes
the object as the replay does, without running ``__init__``.

:func:`from_json` reads a value a person typed (``corpus add --args-json``): plain JSON stands for
itself (objects are dicts), and ``{"$": ...}`` objects are exact encodings, for values JSON has not
(``{"$": "decimal", "v": "19.99"}``).

Example:
    >>> imports = Imports()
    >>> to_source({"$": "decimal", "v": "2.50"}, imports), imports.lines()
    ("Decimal('2.50')", ['from decimal import Decimal'])
"""

from __future__ import annotations

import datetime
from typing import Any

from codewitness.errors import InputError

__all__ = ["KNOWN_TAGS", "Imports", "display", "from_json", "outcome_text", "to_source"]

#: Every tag of the exact encoding.
KNOWN_TAGS = frozenset(
    {
        "str",
        "int",
        "float",
        "tuple",
        "set",
        "frozenset",
        "dict",
        "bytes",
        "bytearray",
        "decimal",
        "fraction",
        "complex",
        "datetime",
        "date",
        "time",
        "timedelta",
        "uuid",
        "range",
        "path",
        "ip",
        "type",
        "enum",
        "namedtuple",
        "dataclass",
        "object",
        "pydantic",
        "opaque",
    }
)


class Imports:
    """The imports an expression needs, and a unique local name for every class it names."""

    def __init__(self) -> None:
        self._modules: set[str] = set()
        self._names: dict[tuple[str, str], str] = {}
        self._taken: dict[str, tuple[str, str]] = {}

    def module(self, name: str) -> str:
        """``import name`` (e.g. ``ipaddress``); returns the name to use."""
        self._modules.add(name)
        return name

    def name(self, module: str, name: str) -> str:
        """``from module import name`` (aliased when two modules give the same name)."""
        key = (module, name)
        if key in self._names:
            return self._names[key]
        local = name
        if local in self._taken and self._taken[local] != key:
            local = f"{module.replace('.', '_')}_{name}"
        self._taken[local] = key
        self._names[key] = local
        return local

    def type(self, spec: str) -> str:
        """The expression for the class ``module:Qualname`` (a nested class through its outer one)."""
        module, _, qualname = spec.partition(":")
        head, _, rest = qualname.partition(".")
        local = self.name(module, head)
        return f"{local}.{rest}" if rest else local

    def lines(self) -> list[str]:
        """The import statements, sorted."""
        found = [f"import {m}" for m in sorted(self._modules)]
        by_module: dict[str, list[str]] = {}
        for (module, name), local in sorted(self._names.items()):
            by_module.setdefault(module, []).append(name if local == name else f"{name} as {local}")
        found += [f"from {m} import {', '.join(names)}" for m, names in sorted(by_module.items())]
        return found


def _zone(spec: Any, imports: Imports) -> str:
    if spec is None:
        return "None"
    if "zone" in spec:
        return f"{imports.name('zoneinfo', 'ZoneInfo')}({spec['zone']!r})"
    offset = spec["offset"]
    timezone = imports.name("datetime", "timezone")
    if offset == 0 and spec.get("name") is None:
        return f"{timezone}.utc"
    delta = f"{imports.name('datetime', 'timedelta')}(seconds={offset!r})"
    return f"{timezone}({delta}{', ' + repr(spec['name']) if spec.get('name') is not None else ''})"


def _fields(pairs: list[list[Any]], imports: Imports) -> str:
    return ", ".join(
        f"{k}={to_source(v, imports)}" if str(k).isidentifier() else f"**{{{k!r}: {to_source(v, imports)}}}"
        for k, v in pairs
    )


def to_source(data: Any, imports: Imports) -> str:
    """A Python expression that rebuilds the encoded value (imports noted in ``imports``).

    Raises:
        ValueError: the encoding cannot be written as source (an opaque output).
    """
    if data is None or isinstance(data, bool | int | str):
        return repr(data)
    if isinstance(data, float):
        return repr(data)
    if isinstance(data, list):
        return "[" + ", ".join(to_source(item, imports) for item in data) + "]"
    tag = data.get("$") if isinstance(data, dict) else None
    if tag == "str":
        return f"bytes.fromhex({data['hex']!r}).decode('utf-8', 'surrogatepass')"
    if tag == "int":
        return data["v"]  # type: ignore[no-any-return]
    if tag == "float":
        return f"float({data['v']!r})"
    if tag == "tuple":
        items = [to_source(item, imports) for item in data["items"]]
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    if tag in ("set", "frozenset"):
        items = [to_source(item, imports) for item in data["items"]]
        if tag == "frozenset":
            return "frozenset({" + ", ".join(items) + "})" if items else "frozenset()"
        return "{" + ", ".join(items) + "}" if items else "set()"
    if tag == "dict":
        pairs = ", ".join(f"{to_source(k, imports)}: {to_source(v, imports)}" for k, v in data["items"])
        if data.get("type") == "collections:OrderedDict":
            inner = ", ".join(f"({to_source(k, imports)}, {to_source(v, imports)})" for k, v in data["items"])
            return f"{imports.name('collections', 'OrderedDict')}([{inner}])"
        return "{" + pairs + "}"
    if tag in ("bytes", "bytearray"):
        import base64

        raw = repr(base64.b64decode(data["b64"]))
        return raw if tag == "bytes" else f"bytearray({raw})"
    if tag == "decimal":
        return f"{imports.name('decimal', 'Decimal')}({data['v']!r})"
    if tag == "fraction":
        return f"{imports.name('fractions', 'Fraction')}({data['v']!r})"
    if tag == "complex":
        return f"complex({data['v']!r})"
    if tag == "uuid":
        return f"{imports.name('uuid', 'UUID')}({data['v']!r})"
    if tag == "range":
        return f"range({', '.join(map(str, data['v']))})"
    if tag in ("path", "ip"):
        return f"{imports.type(data['type'])}({data['v']!r})"
    if tag == "datetime":
        value = datetime.datetime.fromisoformat(data["v"])
        parts = [value.year, value.month, value.day, value.hour, value.minute, value.second, value.microsecond]
        while len(parts) > 3 and parts[-1] == 0:
            parts.pop()
        extra = "" if data.get("tz") is None else f", tzinfo={_zone(data['tz'], imports)}"
        extra += ", fold=1" if data.get("fold") else ""
        return f"{imports.name('datetime', 'datetime')}({', '.join(map(str, parts))}{extra})"
    if tag == "date":
        value_d = datetime.date.fromisoformat(data["v"])
        return f"{imports.name('datetime', 'date')}({value_d.year}, {value_d.month}, {value_d.day})"
    if tag == "time":
        value_t = datetime.time.fromisoformat(data["v"])
        parts = [value_t.hour, value_t.minute, value_t.second, value_t.microsecond]
        while len(parts) > 1 and parts[-1] == 0:
            parts.pop()
        extra = "" if data.get("tz") is None else f", tzinfo={_zone(data['tz'], imports)}"
        extra += ", fold=1" if data.get("fold") else ""
        return f"{imports.name('datetime', 'time')}({', '.join(map(str, parts))}{extra})"
    if tag == "timedelta":
        days, seconds, micro = data["v"]
        return f"{imports.name('datetime', 'timedelta')}(days={days}, seconds={seconds}, microseconds={micro})"
    if tag == "type":
        return imports.type(data["type"])
    if tag == "enum":
        name = data["name"]
        cls = imports.type(data["type"])
        return f"{cls}.{name}" if str(name).isidentifier() and not str(name).startswith("_") else f"{cls}[{name!r}]"
    if tag == "namedtuple":
        return f"{imports.type(data['type'])}({_fields(data['fields'], imports)})"
    if tag in ("dataclass", "object"):
        fields = _fields(data["fields"], imports)
        return f"_rebuild({imports.type(data['type'])}{', ' + fields if fields else ''})"
    if tag == "pydantic":
        return f"{imports.type(data['type'])}.model_construct({_fields(data['fields'], imports)})"
    if tag == "opaque":
        raise ValueError(f"an opaque {data.get('type')} value ({data.get('why')}) cannot be written as source")
    raise ValueError(f"not an exact encoding: tag {tag!r}")


def display(data: Any, limit: int = 300) -> str:
    """A short text for a report: the source expression, cut to about ``limit`` characters."""
    try:
        text = to_source(data, Imports())
    except (ValueError, KeyError, TypeError):
        if isinstance(data, dict) and data.get("$") == "opaque":
            text = f"<{data.get('type')}: {data.get('repr')}>"
        else:
            text = repr(data)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def outcome_text(outcome: Any, limit: int = 300) -> str:
    """How a call ended, in words: ``returned X``, ``raised T: message``, or the error."""
    if not isinstance(outcome, dict):
        return repr(outcome)
    if "ok" in outcome:
        return "returned " + display(outcome["ok"], limit)
    if "raised" in outcome:
        raised = outcome["raised"]
        message = str(raised.get("message", ""))
        text = f"raised {raised.get('type')}" + (f": {message}" if message else "")
        return text if len(text) <= limit else text[: limit - 3] + "..."
    if "error" in outcome:
        return f"could not run: {outcome['error']}"
    if "unbuildable" in outcome:
        return f"input not rebuilt: {outcome['unbuildable']}"
    return repr(outcome)


def from_json(value: Any, where: str = "value") -> Any:
    """The exact encoding of a value typed as JSON (see the module docstring).

    Raises:
        InputError: an object's ``$`` names no known tag, or an encoding is malformed.
    """
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list):
        return [from_json(item, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, dict):
        if "$" in value:
            tag = value["$"]
            if tag not in KNOWN_TAGS or tag == "opaque":
                raise InputError(
                    f"{where}: unknown type tag {tag!r} (known: {', '.join(sorted(KNOWN_TAGS - {'opaque'}))})"
                )
            _check_tagged(value, where)
            return value
        return {"$": "dict", "items": [[k, from_json(v, f"{where}.{k}")] for k, v in value.items()]}
    raise InputError(f"{where}: not a JSON value")


def _check_tagged(value: dict[str, Any], where: str) -> None:
    """A typed-in encoding is rebuilt here where it can be (the standard types), so a typo is
    caught now rather than at replay; project types are checked when they are replayed."""
    from codewitness.sensor.exact import NotReplayable, decode

    if value["$"] in ("type", "enum", "namedtuple", "dataclass", "object", "pydantic"):
        if not isinstance(value.get("type"), str) or ":" not in value["type"]:
            raise InputError(f'{where}: a {value["$"]!r} needs "type": "module:Qualname"')
        return
    try:
        decode(value)
    except NotReplayable as exc:
        raise InputError(f"{where}: {exc}") from None
