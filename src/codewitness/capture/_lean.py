"""Lean stand-ins for :class:`typing.NamedTuple`, :func:`json.loads` and :func:`json.dumps` (and the ``StrPath``
alias), for the hook's fast path.

An agent runs the hook on every file edit, so its start-up time is the agent's waiting time.
Importing :mod:`typing` and :mod:`json` (which pulls in :mod:`re` and :mod:`enum`) costs more
than the hook's whole work; these two stand-ins give the same results without those imports:

* :class:`NamedTuple` — type checkers see :class:`typing.NamedTuple`; at run time the class is
  built with :func:`collections.namedtuple` from the class's annotations and defaults.
* :func:`loads` — strict JSON through the interpreter's own C scanner (``_json``), the one
  :mod:`json` itself uses; :func:`json.loads` when that accelerator is missing.
* :func:`dumps` — JSON text of plain values, exactly as ``json.dumps(value, ensure_ascii=False)``.

Example:
    >>> class Point(NamedTuple):
    ...     x: int
    ...     y: int = 0
    >>> Point(1), loads('{"a": [1, 2.5, null]}')
    (Point(x=1, y=0), {'a': [1, 2.5, None]})
"""

from __future__ import annotations

import collections

TYPE_CHECKING = False
if TYPE_CHECKING:
    import os
    from typing import Any, NamedTuple, TypeAlias
else:

    class _NamedTupleMeta(type):
        def __new__(mcls, name, bases, namespace):
            if namespace.get("_lean_root"):
                return super().__new__(mcls, name, bases, namespace)
            fields = tuple(namespace.get("__annotations__", {}))
            defaults = tuple(namespace[f] for f in fields if f in namespace)
            base = collections.namedtuple(name, fields, defaults=defaults, module=namespace["__module__"])
            body = {k: v for k, v in namespace.items() if k not in fields and k != "__annotations__"}
            body["__slots__"] = ()
            return type(name, (base,), body)

    class NamedTuple(metaclass=_NamedTupleMeta):
        """Base class: subclasses become named tuples of their annotated fields."""

        _lean_root = True


__all__ = ["NamedTuple", "StrPath", "dumps", "loads"]

#: A path as a string or path object (the hook path avoids importing pathlib: it costs milliseconds).
StrPath: TypeAlias = "str | os.PathLike[str]"

_scan: Any = None


def _scanner() -> Any:
    global _scan
    if _scan is None:
        try:
            import _json

            class _Context:
                strict = True
                object_hook = None
                object_pairs_hook = None
                parse_float = float
                parse_int = int
                parse_constant = {"-Infinity": float("-inf"), "Infinity": float("inf"), "NaN": float("nan")}.__getitem__

            _scan = _json.make_scanner(_Context())  # type: ignore[arg-type]  # it reads these attributes
        except (ImportError, AttributeError):  # another Python implementation: use the json module
            _scan = False
    return _scan


def loads(text: str | bytes) -> Any:
    """Decode one JSON document (``bytes`` are UTF-8), like :func:`json.loads`.

    Raises:
        ValueError: the text is not one valid JSON document.
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    scan = _scanner()
    if scan is False:
        import json

        return json.loads(text)
    body = text.strip(" \t\n\r")
    try:
        value, end = scan(body, 0)
    except StopIteration as stop:
        raise ValueError(f"invalid JSON at position {stop.value}") from None
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, once something imported json.decoder
        raise ValueError(f"invalid JSON at position {getattr(exc, 'pos', '?')}: {getattr(exc, 'msg', exc)}") from None
    except SystemError:
        # Python 3.11's scanner reports some errors (an unterminated string, a bad escape)
        # through json.decoder, which it finds only when something imported it; otherwise it
        # fails with "returned NULL without setting an exception". The json module says what.
        raise ValueError(_why_invalid(body)) from None
    if end != len(body):
        raise ValueError(f"extra data after the JSON value at position {end}")
    return value


_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}


def dumps(value: Any) -> str:
    """JSON text of a JSON value (dicts, lists, strings, numbers, booleans, None), as ``json.dumps(value,
    ensure_ascii=False)`` writes it; anything else is written as its ``str``."""
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        text = "".join(_ESCAPES.get(c) or (c if c >= " " else f"\\u{ord(c):04x}") for c in value)
        return f'"{text}"'
    if isinstance(value, dict):
        return "{" + ", ".join(f"{dumps(str(k))}: {dumps(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(dumps(v) for v in value) + "]"
    return dumps(str(value))


def _why_invalid(body: str) -> str:
    """The one-line reason :mod:`json` gives for refusing ``body`` (on the error path only)."""
    import json

    try:
        json.loads(body)
    except json.JSONDecodeError as exc:
        return f"invalid JSON at position {exc.pos}: {exc.msg}"
    except (ValueError, RecursionError) as exc:
        return f"invalid JSON: {exc}"
    return "invalid JSON"
