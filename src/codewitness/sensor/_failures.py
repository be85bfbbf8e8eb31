"""Distinct failures of one watched function in one interval: which exceptions to capture, and counts.

An exception leaving a watched function is known by its *fingerprint*: its type, the pattern of
its message (numbers, hex ids and quoted values replaced, so ``no such table: t12`` and
``no such table: t7`` are one failure and ``malformed JSON`` another), and the innermost frames
of its traceback (where it was raised). Per function and interval, every distinct failure is
captured the first time it is seen (up to ``distinct`` of them), and repeats are captured while
fewer than ``keep`` captures were made of the function's failures; every occurrence is counted
under its fingerprint. So a failure that is ten times rarer than another of the same type is
still captured, with how often it happened.

The pattern is read from the exception's ``args`` through ``BaseException``'s own descriptor:
no ``__str__`` or ``__repr__`` of the application runs to tell failures apart (the capture
itself shows the redacted message).

Threading: :meth:`Failures.seen` runs on application threads without a lock, like every count on
the call path: a count is one attribute increment with no call between the lookup and the store,
so a thread switch cannot split it; the exporter thread takes the table whole, in one step.

Example:
    >>> failures = Failures(keep=5, distinct=20)
    >>> first = failures.seen(ValueError("row 12 not found"), "ValueError")
    >>> first.count, failures.seen(ValueError("row 7 not found"), "ValueError") is first
    (1, True)
    >>> first.count
    2
"""

from __future__ import annotations

import hashlib
import re
import types
from collections.abc import Iterator
from typing import Any

__all__ = ["Failure", "Failures", "innermost_frames", "message_pattern"]

#: Innermost frames of the traceback that are part of a fingerprint.
FRAMES = 3
#: The most characters of one message argument read to find its pattern.
_READ = 300
#: Values in a message that vary from one occurrence of the same failure to the next: quoted
#: text, hex numbers and long hex ids (addresses, hashes, UUID parts), and numbers. Every
#: repetition is bounded, so matching is linear in the text.
_VARIABLE = re.compile(r"""'[^'\n]{0,200}'|"[^"\n]{0,200}"|0x[0-9a-fA-F]+|\b[0-9a-fA-F]{8,64}\b|\d+(?:\.\d+)?""")
_ARGS_OF = BaseException.__dict__["args"].__get__
#: Patterns of message texts seen so far (bounded; cleared when full).
_PATTERNS: dict[str, str] = {}
_PATTERNS_KEPT = 4096


def _replace(match: re.Match[str]) -> str:
    text = match.group()
    if text[0] in "'\"":
        return text[0] + "?" + text[0]
    return "0x?" if text.startswith("0x") else "?" if not text[0].isdigit() or len(text) >= 8 else "N"


def message_pattern(exc: BaseException) -> str:
    """The pattern of ``exc``'s message: its ``args`` with varying values replaced.

    >>> message_pattern(KeyError("user 'ann' has 3 carts"))
    "user '?' has N carts"
    """
    parts: list[str] = []
    for arg in _ARGS_OF(exc)[:4]:
        if type(arg) is str:
            text = arg[:_READ]
            pattern = _PATTERNS.get(text)
            if pattern is None:
                pattern = _VARIABLE.sub(_replace, text)
                if len(_PATTERNS) >= _PATTERNS_KEPT:
                    _PATTERNS.clear()
                _PATTERNS[text] = pattern
            parts.append(pattern)
        elif type(arg) in (int, float, bool) or arg is None:
            parts.append("N" if type(arg) in (int, float) else str(arg))
        else:
            parts.append(f"<{type(arg).__name__}>")
    return " | ".join(parts)


def _innermost(tb: types.TracebackType | None) -> tuple[Any, ...]:
    """The innermost :data:`FRAMES` frames of ``tb``: ``(code, instruction)`` pairs, innermost last.

    Walked with three names, not a list (this runs for each watched function an exception leaves).
    """
    if tb is None:
        return ()
    first = second = None
    while tb.tb_next is not None:
        first, second, tb = second, tb, tb.tb_next
    last = (tb.tb_frame.f_code, tb.tb_lasti)
    if second is None:
        return (last,)
    if first is None:
        return ((second.tb_frame.f_code, second.tb_lasti), last)
    return ((first.tb_frame.f_code, first.tb_lasti), (second.tb_frame.f_code, second.tb_lasti), last)


def innermost_frames(exc: BaseException) -> tuple[tuple[Any, ...], tuple[int, ...]]:
    """The innermost frames of ``exc``'s traceback, and a key of them (code ids and instructions).

    Nothing is remembered from one exception to the next: an id seen before can be a new object
    at the same address. A flood of one failure is counted by the compiled meter without coming
    here (see ``Probe.raised``).
    """
    frames = _innermost(exc.__traceback__)
    return frames, tuple(n for code, at in frames for n in (id(code), at))


class Failure:
    """One distinct failure in one interval: how often it happened, and the records captured of it."""

    __slots__ = ("count", "frames", "pattern", "records", "type_name")

    def __init__(self, type_name: str, pattern: str, frames: tuple[Any, ...]) -> None:
        self.type_name = type_name
        self.pattern = pattern
        #: ``(code, instruction)`` of its innermost frames, innermost last.
        self.frames = frames
        self.count = 1
        #: The capture records made of it (the first is completed with the count at collect).
        self.records: list[dict[str, Any]] = []

    def fingerprint(self, function: str) -> str:
        """A short stable id of this failure of ``function`` (the same across processes and runs)."""
        places = (f"{code.co_filename}:{code.co_qualname}" for code, _ in self.frames)
        text = "\x1f".join([function, self.type_name, self.pattern, *places])
        return hashlib.blake2b(text.encode("utf-8", "backslashreplace"), digest_size=8).hexdigest()


class Failures:
    """One function's distinct failures in one interval (see the module docstring).

    Args:
        keep: captures per interval of the function's failures, repeats included (a new distinct
            failure is captured even past it).
        distinct: distinct failures per interval tracked and captured; beyond, failures are
            only counted by type (in the aggregate) and reported as suppressed.
    """

    __slots__ = ("_table", "captured", "distinct", "keep", "untracked")

    def __init__(self, keep: int, distinct: int) -> None:
        self.keep = keep
        self.distinct = distinct
        self._table: dict[tuple[Any, ...], Failure] = {}
        #: Captures made this interval.
        self.captured = 0
        #: Failures not tracked this interval (past ``distinct``).
        self.untracked = 0

    def seen(self, exc: BaseException, type_name: str) -> Failure | None:
        """Count one occurrence of ``exc``; its :class:`Failure`, or ``None`` past ``distinct``."""
        # Code objects are in the key by identity (hashing one hashes its constants); the failure
        # keeps them alive for the interval.
        frames, places = innermost_frames(exc)
        pattern = message_pattern(exc)
        key = (type_name, pattern, places)
        failure = self._table.get(key)
        if failure is not None:
            failure.count += 1  # no call between the lookup and this store: see the module docstring
            return failure
        if len(self._table) >= self.distinct:
            self.untracked += 1
            return None
        failure = self._table[key] = Failure(type_name, pattern, frames)
        return failure

    def wants_capture(self, failure: Failure) -> bool:
        """Whether this occurrence of ``failure`` is captured: its first, or a repeat while the
        function's captures are fewer than ``keep``."""
        return (not failure.records and failure.count == 1) or self.captured < self.keep

    def __iter__(self) -> Iterator[Failure]:
        return iter(list(self._table.values()))

    def __len__(self) -> int:
        return len(self._table)
