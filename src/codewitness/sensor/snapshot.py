"""Safe, size-bounded, redacted snapshots of Python values (arguments, results, exception messages).

A snapshot is plain JSON data made without running the application's code where that can be
avoided: built-in containers and scalars are walked directly; dataclasses, named tuples,
``__slots__`` objects and ordinary objects through their fields; web framework requests
(Starlette/FastAPI, Django, Flask/Werkzeug) are reduced to their safe parts (method, route, path
parameters); a few standard value types (dates, decimals, UUIDs, paths, ...) are shown by their
``repr``. Any other object is shown by its type alone, unless ``capture_reprs`` allows its
``repr``. Depth, item counts, string lengths and the time one capture may take are bounded, and
so is its size: one capture's values take at most ``max_bytes`` bytes as JSON (the walk spends a
byte budget as it goes, stops where it runs out, and the result is measured and cut to fit).
``self`` and objects with more fields than ``max_items`` are summarised, never walked whole: their
type, how many fields they have, and each of their first fields as a short scalar or
``<type len=N>``.

Redaction happens here, before anything leaves the process, and before anything is cut:

* **names** -- a value stored under a name that looks secret (``password``, ``token``, ``secret``,
  ``api_key``, ``authorization``, ``cookie``, ``dsn``, ``db_url``, ... plus
  ``sensor.redact_names``) is replaced whole: argument names, mapping keys, fields and
  attributes, and the first item of a ``(name, value)`` pair (header lists, ASGI headers);
* **values** -- text that looks like a credential (see :mod:`codewitness.sensor._secrets`, plus
  ``sensor.redact_patterns``) is replaced inside any string, bytes, mapping key or exception
  message, and integers that are card numbers are replaced;
* **cut after redaction** -- a long string is redacted over a window a little larger than what
  is kept, then cut at a whitespace boundary, so a token cut in half leaves neither half.

Example:
    >>> r = Redactor()
    >>> r.snapshot({"user": "ann", "password": "hunter2", "note": "card 4111 1111 1111 1111"})
    {'user': 'ann', 'password': '[REDACTED]', 'note': 'card [REDACTED]'}
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import fractions
import functools
import gc
import ipaddress
import itertools
import json
import pathlib
import threading
import time
import types
import uuid
from collections.abc import Iterable, Mapping, Sized
from typing import Any
from urllib.parse import parse_qsl

from codewitness.config import REQUEST_PARTS, REQUEST_PARTS_DEFAULT
from codewitness.sensor._guard import raised_by_signal_handler
from codewitness.sensor._secrets import (
    NAME_PATTERNS,
    REDACTED,
    compile_extra,
    compile_names,
    luhn_ok,
    scrub,
)

__all__ = ["DEFAULT_NAME_PATTERNS", "DEFAULT_REQUEST_PARTS", "REDACTED", "REQUEST_PARTS", "Redactor"]

#: Names (argument names, dict keys, attribute names) whose values are never captured.
DEFAULT_NAME_PATTERNS = NAME_PATTERNS

#: The parts of a web request that can be kept (``sensor.request_parts``); ``path`` (it may hold a
#: token), ``query`` and ``headers`` are shown redacted (by name and value) when configured. Kept by
#: default: method, route and path parameters (redacted by name like any other value).
DEFAULT_REQUEST_PARTS = REQUEST_PARTS_DEFAULT

#: Extra text read past the kept length before cutting, so a secret that starts in the kept part
#: is seen whole (or at least long enough to be recognised) by the value patterns.
_LOOKAHEAD = 256
#: Mapping keys and pair names are shown up to this length.
_MAX_KEY = 256
#: Names and keys up to this length are remembered (at most _CACHE_SIZE of each).
_CACHED_KEY = 64
_CACHE_SIZE = 4096
#: Standard types whose ``repr`` runs no application code and tells what the value is.
_SAFE_REPR = (
    datetime.date,
    datetime.time,
    datetime.timedelta,
    datetime.tzinfo,
    decimal.Decimal,
    fractions.Fraction,
    uuid.UUID,
    complex,
    range,
    pathlib.PurePath,
    ipaddress.IPv4Address,
    ipaddress.IPv6Address,
    ipaddress.IPv4Network,
    ipaddress.IPv6Network,
)
_SCALARS = (str, int, float, bool, type(None), bytes)
_TIME_SPENT = "...[capture time limit]"
_BYTES_SPENT = "...[capture size limit]"
#: Arguments summarised rather than walked: the object a method runs on is usually the
#: application's whole state (a framework's app object, a service with its clients and caches).
_SUMMARISED_NAMES = frozenset({"self", "cls", "mcs"})
#: Fields a summary shows, and the longest text shown for one.
_SUMMARY_FIELDS = 16
_SUMMARY_CHARS = 64
#: What a value costs the byte budget beyond its text (quotes, separators, a key's colon).
_OVERHEAD = 4


class _Spent(Exception):
    """The capture's time ran out."""


class _Full(Exception):
    """The capture's byte budget ran out."""


class _Capture:
    """What is left of one capture: the clock's deadline and the bytes it may still take."""

    __slots__ = ("deadline", "left")

    def __init__(self, deadline: int, left: int) -> None:
        self.deadline = deadline
        self.left = left


class Redactor:
    """Makes redacted, bounded JSON snapshots of values. Safe to share between threads.

    Args:
        names: extra regular expressions for secret names (searched, case-insensitive).
        patterns: extra regular expressions for secret text inside strings.
        max_chars: the longest string kept; longer strings are redacted, then cut and marked.
        max_items: the most items kept from one container.
        max_depth: how deep containers and objects are walked.
        capture_reprs: show other objects by their (redacted, cut) ``repr`` instead of their type.
        request_parts: which parts of a web framework request to keep (of :data:`REQUEST_PARTS`).
        time_budget_ms: the most CPU time one capture may spend walking values (the capturing
            thread's own time: a thread the machine preempts is not cut short for it); what is
            left is marked, not kept.
        max_bytes: the most bytes one capture's values take as JSON (UTF-8); what is left is
            marked, not kept.

    Raises:
        re.error: a user pattern is not a valid regular expression.
        ValueError: a user pattern could backtrack exponentially, or a request part is unknown.
    """

    def __init__(
        self,
        names: Iterable[str] = (),
        patterns: Iterable[str] = (),
        *,
        max_chars: int = 512,
        max_items: int = 32,
        max_depth: int = 4,
        capture_reprs: bool = False,
        request_parts: Iterable[str] = DEFAULT_REQUEST_PARTS,
        time_budget_ms: float = 5.0,
        max_bytes: int = 4096,
    ) -> None:
        self._names = compile_names(names)
        self._extra = compile_extra(patterns)
        # Redacted short keys and the verdict on short names, kept between captures (plain dicts:
        # a lost race costs one more computation, never a wrong answer).
        self._name_cache: dict[str, bool] = {}
        self._key_cache: dict[str, str] = {}
        self.max_chars = max_chars
        self.max_items = max_items
        self.max_depth = max_depth
        self.capture_reprs = capture_reprs
        self.request_parts = frozenset(request_parts)
        unknown = sorted(self.request_parts - set(REQUEST_PARTS))
        if unknown:
            raise ValueError(
                f"sensor.request_parts: unknown {', '.join(unknown)}; choose from {', '.join(REQUEST_PARTS)}"
            )
        self.time_budget_ns = int(time_budget_ms * 1e6)
        self.max_bytes = max_bytes
        # The capturing thread's CPU time when its capture began, and the collector's counts then.
        self._started = threading.local()

    # -- public ----------------------------------------------------------------------------------

    def secret_name(self, name: str) -> bool:
        """Whether values stored under ``name`` are redacted whole."""
        try:
            return self._name_cache[name]
        except KeyError:
            pass
        found = self._names.search(name[:_MAX_KEY]) is not None
        if len(name) <= _CACHED_KEY:  # argument names and keys repeat from capture to capture
            if len(self._name_cache) >= _CACHE_SIZE:
                self._name_cache.clear()
            self._name_cache[name] = found
        return found

    def redact_text(self, text: str) -> str:
        """``text`` with credential-looking parts replaced by ``[REDACTED]`` (all of it; not cut).

        Time is linear in the length of ``text``; captures use :meth:`text`, which is bounded.
        """
        return scrub(text, self._extra)

    def text(self, text: str, limit: int | None = None) -> str:
        """``text`` redacted, then cut to about ``limit`` characters (default ``max_chars``).

        Only ``limit`` plus a little lookahead is read, so the cost does not grow with the text.
        """
        return self._cut(text, len(text), self.max_chars if limit is None else limit)

    def snapshot(self, value: Any) -> Any:
        """A JSON-ready, redacted, bounded copy of ``value`` (at most ``max_bytes`` as JSON); never raises."""
        cap = self._capture()
        try:
            shown = self._walk(value, 0, cap)
        except _Spent:
            return _TIME_SPENT
        except _Full:
            return _BYTES_SPENT
        except Exception as exc:  # a hostile __dict__/__getattr__ must not escape
            if raised_by_signal_handler(exc):
                raise  # the host's own (a SIGALRM timeout landing here), not the value's
            return {"__unrepresentable__": type(exc).__name__}
        if _may_exceed(self.max_bytes, cap) and _size(shown) > self.max_bytes:
            return {"__type__": _name_of(type(value)), "...": _BYTES_SPENT}
        return shown

    def snapshot_arguments(self, arguments: Mapping[str, Any], cap: _Capture | None = None) -> dict[str, Any]:
        """Snapshot a name -> value mapping (a call's arguments), redacting by name first; never raises.

        Together they take at most ``max_bytes`` as JSON: each argument may spend its share of
        what is left (what one leaves unspent goes to the next). ``self`` is summarised.
        """
        cap = self._capture() if cap is None else cap
        limit = cap.left
        out: dict[str, Any] = {}
        spent = False
        try:
            size = len(arguments)
            for count, (name, value) in enumerate(arguments.items()):
                if count >= self.max_items:
                    out["..."] = f"{size - count} more"
                    break
                key = self._key(name)
                if self.secret_name(key):
                    out[key] = REDACTED
                    continue
                if spent:  # every name stays; numbers and flags cost nothing to keep
                    out[key] = value if _cheap(value) else _TIME_SPENT
                    continue
                cap.left -= len(key) + _OVERHEAD
                granted = cap.left // max(1, min(size, self.max_items) - count)
                share = _Capture(cap.deadline, granted)
                try:
                    if key in _SUMMARISED_NAMES and not isinstance(value, type):
                        out[key] = self._summary(value, share)
                    else:
                        out[key] = self._walk(value, 0, share)
                except _Spent:
                    out[key] = _TIME_SPENT
                    spent = True
                except _Full:
                    out[key] = _BYTES_SPENT
                except Exception as exc:
                    if raised_by_signal_handler(exc):
                        raise
                    out[key] = {"__unrepresentable__": type(exc).__name__}
                cap.left -= granted - max(share.left, 0)
        except Exception as exc:
            if raised_by_signal_handler(exc):
                raise
            out["..."] = {"__unrepresentable__": type(exc).__name__}
        return _fit(out, limit) if _may_exceed(limit, cap) else out

    def exception(
        self, exc: BaseException, arguments: Mapping[str, Any], limit: int = 2000
    ) -> tuple[str, dict[str, Any]]:
        """An exception's redacted message and the redacted arguments of the call that raised it,
        within one capture's time and size (the message takes at most a quarter of the size). Never raises."""
        cap = self._capture()
        message = self.exception_message(exc, min(limit, max(64, self.max_bytes // 4)), cap.deadline)
        cap.left -= len(message)
        return message, self.snapshot_arguments(arguments, cap)

    def exception_message(self, exc: BaseException, limit: int = 2000, deadline: int | None = None) -> str:
        """``str(exc)``, redacted and cut -- without the ``repr`` of non-text arguments.

        An exception raised with objects (``ValueError(request)``, ``KeyError({"token": ...})``)
        and the built-in ``__str__`` would print their ``repr``; its message is made from their
        snapshot instead. A pydantic ``ValidationError`` is told from its errors, each input
        redacted under its field's name. Never raises.
        """
        cap = _Capture(self._deadline() if deadline is None else deadline, limit + _LOOKAHEAD)
        try:
            cls = type(exc)
            if any(_name_of(c) == "pydantic_core._pydantic_core.ValidationError" for c in cls.__mro__):
                return self._cut(self._validation_message(exc, cap), None, limit)
            args = exc.args
            if isinstance(cls.__str__, types.WrapperDescriptorType) and not all(isinstance(a, _SCALARS) for a in args):
                shown = self._walk(args[0] if len(args) == 1 else list(args), 1, cap)
                return _json(shown)[:limit]
            return self._cut(_safe_str(exc), None, limit)
        except _Spent:
            return _TIME_SPENT
        except _Full:
            return _BYTES_SPENT
        except Exception as failed:
            if raised_by_signal_handler(failed):
                raise
            return f"<unprintable {type(exc).__name__}>"

    # -- strings -------------------------------------------------------------------------------

    def _key(self, key: Any) -> str:
        if isinstance(key, str):
            if len(key) > _CACHED_KEY:
                return self._cut(key, len(key), _MAX_KEY)
            try:
                return self._key_cache[key]
            except KeyError:
                shown = self._key_cache[key] = self._cut(key, len(key), _MAX_KEY)
                if len(self._key_cache) >= _CACHE_SIZE:
                    self._key_cache.clear()
                return shown
        if isinstance(key, bytes | bytearray):
            return self._cut(
                bytes(key[: _MAX_KEY + _LOOKAHEAD]).decode("utf-8", "backslashreplace"), len(key), _MAX_KEY
            )
        if isinstance(key, int | float | bool | type(None)):
            return self._cut(repr(key), None, _MAX_KEY)
        if isinstance(key, tuple) and all(isinstance(k, _SCALARS) for k in key):
            return self._cut(repr(key[:8]), None, _MAX_KEY)
        return f"<{_name_of(type(key))}>"

    def _cut(self, text: str, total: int | None, limit: int) -> str:
        """Redact ``text`` (of ``total`` characters in all, when it is already a prefix), then cut it.

        The redaction sees ``limit`` + a lookahead, so a secret that starts in the kept part is
        recognised whole; the cut then never splits a run of non-space characters (the tail of
        a token the patterns did not know is dropped, not half-shown) nor a ``[REDACTED]``.
        """
        total = len(text) if total is None else total
        if total <= limit and len(text) == total:
            return scrub(text, self._extra)
        window = text[: limit + _LOOKAHEAD]
        red = self.redact_text(window)
        more_follows = total > len(window)
        if len(red) <= limit and not more_follows:
            return red
        cut = min(len(red), limit)
        # Never split a marker: keep it whole.
        start = red.rfind(REDACTED, max(0, cut - len(REDACTED) + 1), cut + len(REDACTED) - 1)
        if start != -1 and start < cut < start + len(REDACTED):
            cut = start + len(REDACTED)
        following = red[cut] if cut < len(red) else ("x" if more_follows else " ")
        if cut and not following.isspace() and not red[cut - 1].isspace() and not red.endswith(REDACTED, 0, cut):
            words = red[:cut].rsplit(None, 1)
            last = words[-1] if words else ""
            cut -= len(last)
            marker = last.rfind(REDACTED)
            if marker != -1:
                cut += marker + len(REDACTED)
        return f"{red[:cut]}...[cut: {total} chars]"

    # -- walking -------------------------------------------------------------------------------

    def _deadline(self) -> int:
        # The cheap wall clock is read per value; only once it passes the budget is the thread's CPU
        # time read (a system call), which decides whether the budget is really spent.
        started = self._started
        started.cpu = time.thread_time_ns()
        started.collections = gc.get_count()
        return time.perf_counter_ns() + self.time_budget_ns

    def _out_of_time(self) -> bool:
        started = self._started
        now = time.thread_time_ns()
        if now - getattr(started, "cpu", 0) <= self.time_budget_ns:
            return False
        # A full collection that an allocation of the capture set off is the host's cost, not the
        # capture's: on a large heap it takes tens to hundreds of milliseconds. The collector's
        # counts tell one ran (the oldest generation's count, which grows with each collection of
        # the middle one, falls to 0); the capture then gets its budget again, from now. Younger
        # collections are cheap, and frequent in a capture that allocates much: not counted.
        before = getattr(started, "collections", None)
        counts = gc.get_count()
        if before is not None and counts[2] < before[2]:
            started.cpu = now
            started.collections = counts
            return False
        return True

    def _capture(self) -> _Capture:
        return _Capture(self._deadline(), self.max_bytes)

    def _walk(self, value: Any, depth: int, cap: _Capture) -> Any:
        if time.perf_counter_ns() > cap.deadline and self._out_of_time():
            raise _Spent
        if cap.left <= _OVERHEAD:
            raise _Full
        if type(value) is str and len(value) <= self.max_chars and len(value) < cap.left:  # the commonest value
            cap.left -= len(value) + _OVERHEAD
            return scrub(value, self._extra)
        if value is None or isinstance(value, bool):
            cap.left -= _OVERHEAD + 1
            return value
        if isinstance(value, int):
            shown = self._int(value, cap)
            cap.left -= (len(shown) if isinstance(shown, str) else 8) + _OVERHEAD
            return shown
        if isinstance(value, float):
            cap.left -= 8 + _OVERHEAD
            return value if value == value and value not in (float("inf"), float("-inf")) else repr(value)
        if isinstance(value, str):
            return self._text(value, len(value), cap)
        if isinstance(value, bytes | bytearray | memoryview):
            raw = bytes(value[: min(self.max_chars, cap.left) + _LOOKAHEAD])
            cap.left -= 16
            text = self._text(raw.decode("utf-8", "backslashreplace"), len(value), cap)
            return {"__bytes__": text, "len": len(value)}
        kind = _kind(type(value))
        if kind == "proxy":  # werkzeug's LocalProxy (flask.request): look at what it stands for
            value = value._get_current_object()
            kind = _kind(type(value))
        if kind == "secret":
            cap.left -= len(REDACTED) + _OVERHEAD
            return REDACTED
        if kind in ("starlette", "django", "werkzeug"):
            return self._request(value, kind, depth, cap)
        if kind == "url":  # a split URL's netloc holds "user:password@host": show it whole, redacted
            return {"__type__": self._type(type(value), cap), "url": self._walk(value.geturl(), depth + 1, cap)}
        if depth >= self.max_depth:
            return self._type_only(value, cap)
        if isinstance(value, Mapping):
            return self._mapping(value.items(), len(value), depth, cap)
        if isinstance(value, tuple) and kind == "namedtuple":
            fields = getattr(type(value), "_fields", ())
            return {
                "__type__": self._type(type(value), cap),
                **self._mapping(zip(fields, value, strict=False), len(value), depth, cap),
            }
        if isinstance(value, _SEQUENCES):
            return self._sequence(value, depth, cap)
        if isinstance(value, type):
            cap.left -= len(_name_of(value)) + 8 + _OVERHEAD
            return f"<class {_name_of(value)}>"
        if isinstance(value, enum.Enum):
            return {"__type__": self._type(type(value), cap), "name": self._walk(value.name, depth + 1, cap)}
        if isinstance(value, _SAFE_REPR):
            return {"__type__": self._type(type(value), cap), "repr": self._text(repr(value), None, cap)}
        if isinstance(value, BaseException):
            return {
                "__type__": self._type(type(value), cap),
                "message": self._spent(self.exception_message(value, min(self.max_chars, cap.left), cap.deadline), cap),
            }
        if isinstance(value, types.ModuleType):
            return self._spent(f"<module {value.__name__}>", cap)
        if isinstance(value, _CALLABLES):
            return self._spent(
                f"<{type(value).__name__} {getattr(value, '__module__', None)}.{getattr(value, '__qualname__', '?')}>",
                cap,
            )
        if dataclasses.is_dataclass(value):
            described = dataclasses.fields(value)
            if len(described) > self.max_items:
                return self._summary(value, cap)
            fields = ((f.name, getattr(value, f.name)) for f in described)
            return {"__type__": self._type(type(value), cap), **self._mapping(fields, len(described), depth, cap)}
        attributes, count = _fields_of(value, self.max_items + 1)
        if attributes is not None:
            if count > self.max_items:
                return self._summary(value, cap)
            return {"__type__": self._type(type(value), cap), **self._mapping(attributes, count, depth, cap)}
        plain: dict[str, Any] = {"__type__": self._type(type(value), cap)}
        if self.capture_reprs:
            plain["repr"] = self._text(repr(value), None, cap)
        return plain

    def _spent(self, text: str, cap: _Capture) -> str:
        """``text`` (already bounded), with what it takes taken from the budget."""
        cap.left -= len(text) + _OVERHEAD
        return text

    def _type(self, cls: type, cap: _Capture) -> str:
        return self._spent(_name_of(cls), cap)

    def _type_only(self, value: Any, cap: _Capture) -> str:
        return self._spent(f"<{_name_of(type(value))}>", cap)

    def _text(self, text: str, total: int | None, cap: _Capture) -> str:
        """A string redacted and cut to what the budget leaves (at most ``max_chars``)."""
        limit = min(self.max_chars, cap.left - _OVERHEAD)
        if limit < 16:
            raise _Full
        shown = self._cut(text, total, limit)
        cap.left -= len(shown) + _OVERHEAD
        return shown

    def _summary(self, value: Any, cap: _Capture) -> Any:
        """``value`` in brief: its type, how many fields it has, and its first fields, each a short
        scalar or ``<type len=N>``. Never walks deeper than that."""
        if cap.left <= _OVERHEAD:
            raise _Full
        if isinstance(value, _SCALARS) or value is None or (not hasattr(value, "__dict__") and not _has_slots(value)):
            return self._walk(value, self.max_depth - 1, cap)
        attributes, count = _fields_of(value, _SUMMARY_FIELDS)
        shown: dict[str, Any] = {"__type__": self._type(type(value), cap), "__fields__": count}
        cap.left -= 16
        for name, item in attributes or ():
            key = self._key(name)
            if cap.left <= len(key) + 2 * _OVERHEAD + 16:
                shown["..."] = _BYTES_SPENT
                break
            cap.left -= len(key) + _OVERHEAD
            if self.secret_name(key):
                shown[key] = self._spent(REDACTED, cap)
            elif isinstance(item, str):
                shown[key] = self._cut(item, len(item), min(_SUMMARY_CHARS, cap.left))
                cap.left -= len(shown[key]) + _OVERHEAD
            elif item is None or isinstance(item, bool | int | float):
                shown[key] = self._walk(item, self.max_depth, cap)
            else:
                shown[key] = self._spent(_brief(item), cap)
        return shown

    def _int(self, value: int, cap: _Capture) -> Any:
        if 10**12 <= abs(value) < 10**19 and luhn_ok(str(abs(value))):
            return REDACTED  # a card number passed as an int
        if value.bit_length() <= 64:
            return value
        if value.bit_length() > 10_000:
            return f"<int of {value.bit_length()} bits>"
        return self._cut(str(value), None, max(16, min(self.max_chars, cap.left)))

    def _sequence(self, value: Any, depth: int, cap: _Capture) -> Any:
        items = list(itertools.islice(value, self.max_items))
        if isinstance(value, set | frozenset):
            items.sort(key=_order)
        size = len(value)
        cap.left -= 2 + _OVERHEAD
        kept: list[Any] = []
        for item in items:
            try:
                kept.append(self._item(item, depth, cap))
            except _Full:
                kept.append(f"...[{size - len(kept)} more: capture size limit]")
                break
        else:
            if size > self.max_items:
                kept.append(f"...[{size - self.max_items} more]")
        if isinstance(value, list):
            return kept
        return {"__" + type(value).__name__ + "__": kept}

    def _item(self, item: Any, depth: int, cap: _Capture) -> Any:
        # A (name, value) pair -- a header list, ASGI headers, parse_qsl, dict.items() -- is
        # redacted by the name like a mapping entry.
        if isinstance(item, tuple | list) and len(item) == 2 and isinstance(item[0], str | bytes | bytearray):
            name = self._key(item[0])
            if self.secret_name(name):
                cap.left -= len(name) + len(REDACTED) + 2 * _OVERHEAD
                return [name, REDACTED] if isinstance(item, list) else {"__tuple__": [name, REDACTED]}
        return self._walk(item, depth + 1, cap)

    def _mapping(self, items: Iterable[tuple[Any, Any]], size: int, depth: int, cap: _Capture) -> dict[str, Any]:
        out: dict[str, Any] = {}
        cap.left -= 2
        for count, (key, item) in enumerate(items):
            if count >= self.max_items:
                out["..."] = f"{size - count} more"
                break
            name = self._key(key)
            while name in out:  # two keys shown alike (both redacted, both cut): keep both
                name += "'"
            cap.left -= len(name) + _OVERHEAD
            if cap.left <= _OVERHEAD:
                out["..."] = f"{size - count} more: capture size limit"
                break
            try:
                out[name] = REDACTED if self.secret_name(name) else self._walk(item, depth + 1, cap)
            except _Full:
                out["..."] = f"{size - count} more: capture size limit"
                break
        return out

    def _validation_message(self, exc: Any, cap: _Capture) -> str:
        errors = exc.errors(include_url=False)
        lines = [f"{exc.error_count()} validation error(s) for {exc.title}"]
        for error in errors[: self.max_items]:
            location = [str(part) for part in error.get("loc", ())]
            field = location[-1] if location else ""
            shown = REDACTED if field and self.secret_name(field) else self._walk(error.get("input"), 1, cap)
            # "[password] ..." rather than "password: ...": the message is redacted by value
            # next, and a secret-looking name followed by ":" would take the text after it.
            lines.append(
                f"[{'.'.join(location)}] {error.get('msg', '')} (type={error.get('type')}, input={_json(shown)})"
            )
        return "\n".join(lines)

    # -- web framework requests ------------------------------------------------------------------

    def _request(self, request: Any, kind: str, depth: int, cap: _Capture) -> dict[str, Any]:
        parts = _REQUEST_READERS[kind](request)
        shown: dict[str, Any] = {"__type__": self._type(type(request), cap)}
        for part in REQUEST_PARTS:
            if part not in self.request_parts:
                continue
            try:
                value = parts[part]()
            except Exception:  # noqa: S112 - a part the request cannot give (no app context, not resolved)
                continue
            if value is None:
                continue
            cap.left -= len(part) + _OVERHEAD
            if part == "path":
                shown[part] = self._text(str(value), None, cap)
            elif part in ("query", "headers", "path_params"):
                pairs = list(value.items()) if isinstance(value, Mapping) else list(value)
                shown[part] = self._mapping(_decoded_pairs(pairs), len(pairs), depth, cap)
            else:
                shown[part] = self._walk(value, depth + 1, cap)
        return shown


def _starlette(request: Any) -> dict[str, Any]:
    scope = request.scope
    return {
        "method": lambda: scope.get("method"),
        "route": lambda: getattr(scope.get("route"), "path", None),
        "path_params": lambda: scope.get("path_params"),
        "path": lambda: scope.get("path"),
        "query": lambda: parse_qsl(bytes(scope.get("query_string", b"")).decode("latin-1"), keep_blank_values=True),
        "headers": lambda: scope.get("headers", ()),
    }


def _django(request: Any) -> dict[str, Any]:
    return {
        "method": lambda: request.method,
        "route": lambda: request.resolver_match.route if request.resolver_match else None,
        "path_params": lambda: request.resolver_match.kwargs if request.resolver_match else None,
        "path": lambda: request.path,
        "query": lambda: parse_qsl(request.META.get("QUERY_STRING", ""), keep_blank_values=True),
        "headers": lambda: list(request.headers.items()),
    }


def _werkzeug(request: Any) -> dict[str, Any]:
    return {
        "method": lambda: request.method,
        "route": lambda: request.url_rule.rule if request.url_rule is not None else None,
        "path_params": lambda: request.view_args,
        "path": lambda: request.path,
        "query": lambda: parse_qsl(bytes(request.query_string).decode("latin-1"), keep_blank_values=True),
        "headers": lambda: list(request.headers.items()),
    }


_REQUEST_READERS = {"starlette": _starlette, "django": _django, "werkzeug": _werkzeug}

#: Classes (by qualified name, anywhere in the MRO) that get special treatment.
_KINDS = {
    "starlette.requests.HTTPConnection": "starlette",
    "django.http.request.HttpRequest": "django",
    "werkzeug.sansio.request.Request": "werkzeug",
    "werkzeug.local.LocalProxy": "proxy",
    "urllib.parse.SplitResult": "url",
    "urllib.parse.ParseResult": "url",
    "urllib.parse.SplitResultBytes": "url",
    "urllib.parse.ParseResultBytes": "url",
    "pydantic.types._SecretBase": "secret",
    "pydantic.v1.types.SecretStr": "secret",
    "pydantic.v1.types.SecretBytes": "secret",
}

_CALLABLES = (
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodType,
    types.BuiltinMethodType,
    functools.partial,
)

_SEQUENCES: tuple[type, ...] = (list, tuple, set, frozenset, type({}.keys()), type({}.values()), type({}.items()))


def _kind(cls: type) -> str | None:
    """What a class is to the walk (a request, a secret, a proxy, a named tuple), cached per class."""
    try:
        return _KIND_CACHE[cls]
    except KeyError:
        pass
    found: str | None = None
    for base in cls.__mro__:
        found = _KINDS.get(_name_of(base))
        if found:
            break
    if found is None and issubclass(cls, tuple) and isinstance(getattr(cls, "_fields", None), tuple):
        found = "namedtuple"
    if len(_KIND_CACHE) >= 4096:  # classes made at run time: keep the cache bounded
        _KIND_CACHE.clear()
    _KIND_CACHE[cls] = found
    return found


_KIND_CACHE: dict[type, str | None] = {}


def _fields_of(value: Any, limit: int) -> tuple[list[tuple[str, Any]] | None, int]:
    """An object's first ``limit`` attributes from its ``__dict__`` and its ``__slots__``, and how
    many it has; ``(None, 0)`` when it has neither.

    Slots are read through their member descriptors, so no ``__getattr__`` of the object runs. A
    ``__dict__`` is never copied whole.
    """
    found: list[tuple[str, Any]] = []
    attributes = getattr(value, "__dict__", None)
    has_dict = isinstance(attributes, dict)
    count = 0
    if has_dict:
        count = len(attributes)  # type: ignore[arg-type]
        found.extend(itertools.islice(attributes.items(), limit))  # type: ignore[union-attr]
    has_slots = False
    for cls in type(value).__mro__:
        slots = cls.__dict__.get("__slots__")
        if slots is None:
            continue
        for name in (slots,) if isinstance(slots, str) else slots:
            descriptor = cls.__dict__.get(name)
            if isinstance(descriptor, types.MemberDescriptorType):
                has_slots = True
                try:
                    slot_value = descriptor.__get__(value, cls)
                except AttributeError:  # a slot never set
                    continue
                count += 1
                if len(found) < limit:
                    found.append((name, slot_value))
    return (found, count) if has_dict or has_slots else (None, 0)


def _has_slots(value: Any) -> bool:
    return any("__slots__" in cls.__dict__ for cls in type(value).__mro__[:-1])


def _brief(value: Any) -> str:
    """``<type>``, or ``<type len=N>`` for a value with a length: what a summary shows of a field."""
    name = _name_of(type(value))
    try:
        size = len(value) if isinstance(value, Sized) and not isinstance(value, type) else None
    except Exception:
        size = None
    return f"<{name}>" if size is None else f"<{name} len={size}>"


def _size(value: Any) -> int:
    """The bytes ``value`` takes as JSON in a batch (UTF-8, no spaces)."""
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str).encode("utf-8", "replace"))


def _may_exceed(limit: int, cap: _Capture) -> bool:
    """Whether a capture that was given ``limit`` bytes may take more as JSON than its walk
    counted: it counts characters, and one character takes at most 6 bytes (``\\u0001``)."""
    return (limit - cap.left) * 6 > limit


def _fit(shown: dict[str, Any], limit: int) -> dict[str, Any]:
    """``shown`` within ``limit`` bytes as JSON: the largest values are replaced by a mark until it
    fits (the walk's own count is close, not exact: escapes, non-ASCII text)."""
    if _size(shown) <= limit:
        return shown
    sizes = sorted(((_size(item), key) for key, item in shown.items()), reverse=True)
    for _, key in sizes:
        shown[key] = _BYTES_SPENT
        if _size(shown) <= limit:
            return shown
    return {"...": _BYTES_SPENT}


def _decoded_pairs(pairs: list[Any]) -> Iterable[tuple[Any, Any]]:
    for pair in pairs:
        if isinstance(pair, tuple | list) and len(pair) == 2:
            name, value = pair
            yield (
                name.decode("latin-1") if isinstance(name, bytes) else name,
                value.decode("latin-1") if isinstance(value, bytes) else value,
            )


def _cheap(value: Any) -> bool:
    """A value kept as it is even when the capture's time is spent: None, a bool, a finite float, a small int.

    Ints stop below 10**12: longer ones may be card numbers, which :meth:`Redactor._int` checks.
    """
    if value is None or type(value) is bool:
        return True
    if type(value) is int:
        return abs(value) < 10**12
    return type(value) is float and value == value and value not in (float("inf"), float("-inf"))


def _name_of(cls: type) -> str:
    return f"{getattr(cls, '__module__', '?')}.{getattr(cls, '__qualname__', '?')}"


def _order(item: Any) -> tuple[str, Any]:
    if isinstance(item, str | bytes | int | float) and not isinstance(item, bool):
        return (type(item).__name__, item if item == item else 0)
    return (type(item).__name__, 0)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _safe_str(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:
        return f"<unprintable {type(exc).__name__}>"
