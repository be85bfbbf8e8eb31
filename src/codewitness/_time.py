"""Parsing the times users type: ``--since 7d``, ``--since 2026-11-01``, ``--since 2026-11-01T10:00Z``."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from codewitness.errors import InputError

__all__ = ["parse_age", "parse_since"]

_RELATIVE = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """A timezone-aware point in time from a relative age (``30m``, ``24h``, ``7d``, ``2w``) or ISO 8601.

    A date or datetime without a zone is taken as UTC.

    Raises:
        InputError: the text is neither.
    """
    now = now or datetime.now(UTC)
    match = _RELATIVE.match(text)
    if match:
        return now - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"cannot read time {text!r}: use an age like 7d, 24h, 30m or a date like 2026-11-01") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def parse_age(text: str) -> timedelta:
    """A length of time from ``30s``, ``30m``, ``24h``, ``7d`` or ``2w``.

    Raises:
        InputError: the text is not such an age.
    """
    match = _RELATIVE.match(text)
    if not match:
        raise InputError(f"cannot read age {text!r}: use a number and a unit, like 30m, 24h, 7d or 2w")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
