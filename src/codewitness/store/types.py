"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import typing
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

__all__ = ["LosslessText", "UTCDateTime"]


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime stored in UTC.

    PostgreSQL keeps it as ``timestamptz``; SQLite as ISO text (which sorts correctly). Values
    come back aware, in UTC, whatever the backend; naive values are refused on the way in.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("UTCDateTime needs a timezone-aware datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # pragma: no cover - SQLAlchemy parses SQLite text for us
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class LosslessText(TypeDecorator[str]):
    """Text that survives any Python string on every backend.

    PostgreSQL text cannot hold NUL characters, which raw model output and captured files
    may contain. There, a value holding NUL (or starting with our marker) is stored as the
    marker followed by its JSON encoding, and decoded on the way out. Other values, and every
    value on SQLite, are stored as they are.
    """

    impl = Text
    cache_ok = True
    _MARK = "\x01cw-json:"

    def process_bind_param(self, value: str | None, dialect: Dialect) -> Any:
        if value is None or dialect.name != "postgresql":
            return value
        if "\x00" in value or value.startswith(self._MARK):
            return self._MARK + json.dumps(value)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        # Only PostgreSQL encodes: on SQLite a value that merely starts with the marker is as it was.
        if dialect.name == "postgresql" and isinstance(value, str) and value.startswith(self._MARK):
            decoded = json.loads(value[len(self._MARK) :])
            assert isinstance(decoded, str)
            return decoded
        return typing.cast("str | None", value)
