"""One page of a longer list, as every paginated face shows it (the HTTP API's ``items``/``total``).

Example:
    >>> page = Page.of([1, 2, 3, 4, 5], limit=2, offset=2)
    >>> page.items, page.total, page.more
    ((3, 4), 5, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from codewitness.errors import UsageError

__all__ = ["MAX_LIMIT", "Page", "check_window"]

T = TypeVar("T")

#: The most items one page may hold.
MAX_LIMIT = 500


def check_window(limit: int, offset: int) -> None:
    """Refuse a page size outside 1..:data:`MAX_LIMIT` or a negative offset.

    Raises:
        UsageError: either is out of range.
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise UsageError(f"limit must be from 1 to {MAX_LIMIT}; got {limit}")
    if offset < 0:
        raise UsageError(f"offset must be 0 or more; got {offset}")


@dataclass(frozen=True)
class Page(Generic[T]):
    """``items`` of a list of ``total``, starting at ``offset``."""

    items: tuple[T, ...]
    total: int
    limit: int
    offset: int

    @property
    def more(self) -> bool:
        """Whether items follow this page."""
        return self.offset + len(self.items) < self.total

    @classmethod
    def of(cls, everything: Sequence[T], *, limit: int, offset: int) -> Page[T]:
        """The page of a list held whole."""
        check_window(limit, offset)
        return cls(tuple(everything[offset : offset + limit]), len(everything), limit, offset)
