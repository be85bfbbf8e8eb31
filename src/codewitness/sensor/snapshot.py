"""Safe, size-bounded, redacted snapshots of Python values (arguments, results, locals).

A snapshot is plain JSON data made without running the application's code where that can be
avoided: built-in containers and scalars are walked directly, dataclasses and ordinary objects
through their fields / ``__dict__``, and only other objects fall back to ``repr()`` (guarded, cut
to size). Depth, item counts and string lengths are bounded, so a huge argument costs a bounded
amount of time and memory.

Redaction happens here, before anything leaves the process:

* **names** -- a value stored under a name that looks secret (``password``, ``token``, ``secret``,
  ``api_key``, ``authorization``, ``cookie``, ... plus ``sensor.redact_names``) is replaced whole;
* **value patterns** -- text that looks like a credential (JWTs, ``sk-``/``ghp_``/``AKIA``/Slack
  style keys, bearer tokens, card numbers that pass the Luhn check, plus ``sensor.redact_patterns``)
  is replaced inside any string.

Example:
    >>> r = Redactor()
    >>> r.snapshot({"user": "ann", "password": "hunter2", "note": "card 4111 1111 1111 1111"})
    {'user': 'ann', 'password': '[REDACTED]', 'note': 'card [REDACTED]'}
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["DEFAULT_NAME_PATTERNS", "DEFAULT_VALUE_PATTERNS", "REDACTED", "Redactor"]

REDACTED = "[REDACTED]"

#: Names (argument names, dict keys, attribute names) whose values are never captured.
DEFAULT_NAME_PATTERNS: tuple[str, ...] = (
    r"pass(word|wd|phrase)|^pass$|^pwd$",
    r"secret",
    r"token",
    r"api[-_]?key",
    r"(private|access|secret|signing|encryption)[-_]?key",
    r"^key$",
    r"_key$",
    r"auth(orization|_header)?$",
    r"credential",
    r"cookie",
    r"session[-_]?(id|key)",
    r"^(cvv|cvc|ssn|pin)$",
    r"card[-_]?(number|no)",
)

#: Text that looks like a credential wherever it appears in a string.
DEFAULT_VALUE_PATTERNS: tuple[str, ...] = (
    r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}",  # JWT
    r"\bsk-(?:proj-|ant-)?[A-Za-z0-9_-]{16,}",  # OpenAI / Anthropic style keys
    r"\bgh[pousr]_[A-Za-z0-9]{30,}",  # GitHub tokens
    r"\bAKIA[0-9A-Z]{16}\b",  # AWS access key id
    r"\bxox[abposr]-[A-Za-z0-9-]{10,}",  # Slack tokens
    r"\bAIza[0-9A-Za-z_-]{35}",  # Google API keys
    r"\b(?i:bearer)\s+[A-Za-z0-9._~+/=-]{8,}",  # bearer credentials
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)",
)

# Candidate card numbers: 13-19 digits, optionally grouped by spaces or dashes; Luhn decides.
_CARD = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
_DIGIT = re.compile(r"\d")


def _luhn_ok(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        d = ord(char) - 48
        if position % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


class Redactor:
    """Makes redacted, bounded JSON snapshots of values.

    Args:
        names: extra regular expressions for secret names (searched, case-insensitive).
        patterns: extra regular expressions for secret text inside strings.
        max_chars: the longest string kept; longer strings are cut and marked.
        max_items: the most items kept from one container.
        max_depth: how deep containers and objects are walked.

    Raises:
        re.error: a user pattern is not a valid regular expression.
    """

    def __init__(
        self,
        names: Iterable[str] = (),
        patterns: Iterable[str] = (),
        *,
        max_chars: int = 512,
        max_items: int = 32,
        max_depth: int = 4,
    ) -> None:
        self._names = re.compile("|".join(f"(?:{p})" for p in (*DEFAULT_NAME_PATTERNS, *names)), re.IGNORECASE)
        self._values = re.compile("|".join(f"(?:{p})" for p in (*DEFAULT_VALUE_PATTERNS, *patterns)))
        self.max_chars = max_chars
        self.max_items = max_items
        self.max_depth = max_depth

    def secret_name(self, name: str) -> bool:
        """Whether values stored under ``name`` are redacted whole."""
        return self._names.search(name) is not None

    def redact_text(self, text: str) -> str:
        """``text`` with credential-looking parts replaced by ``[REDACTED]``."""
        text = self._values.sub(REDACTED, text)
        if _DIGIT.search(text):
            text = _CARD.sub(self._card, text)
        return text

    @staticmethod
    def _card(match: re.Match[str]) -> str:
        digits = re.sub(r"[ -]", "", match.group(0))
        return REDACTED if 13 <= len(digits) <= 19 and _luhn_ok(digits) else match.group(0)

    def snapshot(self, value: Any) -> Any:
        """A JSON-ready, redacted, bounded copy of ``value``; never raises."""
        try:
            return self._walk(value, 0)
        except Exception as exc:  # a hostile __dict__/__repr__ must not escape
            return {"__unrepresentable__": type(exc).__name__}

    def snapshot_arguments(self, arguments: Mapping[str, Any]) -> dict[str, Any]:
        """Snapshot a name -> value mapping (a call's arguments), redacting by name first."""
        out: dict[str, Any] = {}
        for count, (name, value) in enumerate(arguments.items()):
            if count >= self.max_items:
                out["..."] = f"{len(arguments) - count} more"
                break
            out[name] = REDACTED if self.secret_name(name) else self.snapshot(value)
        return out

    def _text(self, text: str) -> str:
        if len(text) > self.max_chars:
            text = text[: self.max_chars] + f"...[{len(text) - self.max_chars} more chars]"
        return self.redact_text(text)

    def _walk(self, value: Any, depth: int) -> Any:
        if value is None or isinstance(value, bool | int):
            if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
                return self._text(str(value))
            return value
        if isinstance(value, float):
            return value if value == value and value not in (float("inf"), float("-inf")) else repr(value)
        if isinstance(value, str):
            return self._text(value)
        if isinstance(value, bytes | bytearray | memoryview):
            raw = bytes(value[: self.max_chars])
            return {"__bytes__": self._text(raw.decode("utf-8", "backslashreplace")), "len": len(value)}
        if depth >= self.max_depth:
            return f"<{_type_name(value)}>"
        if isinstance(value, Mapping):
            return self._mapping(value.items(), len(value), depth)
        if isinstance(value, list | tuple | set | frozenset):
            items = sorted(value, key=repr) if isinstance(value, set | frozenset) else value
            kept = [self._walk(item, depth + 1) for item, _ in zip(items, range(self.max_items), strict=False)]
            if len(value) > self.max_items:
                kept.append(f"...[{len(value) - self.max_items} more]")
            return kept if isinstance(value, list) else {"__" + type(value).__name__ + "__": kept}
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            fields = ((f.name, getattr(value, f.name)) for f in dataclasses.fields(value))
            return {
                "__type__": _type_name(value),
                **self._mapping(fields, len(dataclasses.fields(value)), depth),
            }
        attributes = getattr(value, "__dict__", None)
        if isinstance(attributes, dict) and not isinstance(value, type):
            return {
                "__type__": _type_name(value),
                **self._mapping(attributes.items(), len(attributes), depth),
            }
        return {"__type__": _type_name(value), "repr": self._text(repr(value))}

    def _mapping(self, items: Iterable[tuple[Any, Any]], size: int, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for count, (key, item) in enumerate(items):
            if count >= self.max_items:
                out["..."] = f"{size - count} more"
                break
            name = key if isinstance(key, str) else repr(key)[: self.max_chars]
            out[name] = REDACTED if self.secret_name(name) else self._walk(item, depth + 1)
        return out


def _type_name(value: Any) -> str:
    cls = type(value)
    return f"{cls.__module__}.{cls.__qualname__}"
