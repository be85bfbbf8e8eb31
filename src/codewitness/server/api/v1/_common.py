"""What the query routes share: the scope parameters, the page envelope, the repository."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Query, Request
from pydantic import BaseModel

from codewitness.views.paging import MAX_LIMIT, Page

__all__ = ["Limit", "Offset", "OriginQ", "PageOut", "Since", "page_out", "repository", "since_of"]

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size.")]
Offset = Annotated[int, Query(ge=0, le=2**31, description="Where the page starts.")]
Since = Annotated[
    str | None, Query(max_length=64, description="Only since then: an age (30m, 24h, 7d) or an ISO 8601 time.")
]
OriginQ = Annotated[
    Literal["ai", "mixed", "human", "unknown", "ai+mixed"] | None,
    Query(description="Only this origin; ai+mixed: everything an agent wrote."),
]
Service = Annotated[str | None, Query(max_length=200, description="Only this service's runtime facts.")]
Revision = Annotated[str | None, Query(max_length=200, description="Only this revision's runtime facts.")]


class PageOut(BaseModel):
    """One page of a list."""

    items: list[dict[str, Any]]
    total: int
    limit: int
    offset: int


def page_out(page: Page[Any], convert: Any = None) -> PageOut:
    """The envelope of a view's page (``convert`` turns an item into its JSON form)."""
    items: Sequence[Any] = page.items if convert is None else [convert(i) for i in page.items]
    return PageOut(items=[dict(i) for i in items], total=page.total, limit=page.limit, offset=page.offset)


def since_of(text: str | None) -> datetime | None:
    """A ``since`` parameter as a time (``InputError``, answered 400, when it is neither form)."""
    from codewitness._time import parse_since

    return parse_since(text) if text else None


def repository(request: Request) -> Path | None:
    """The repository the server attributes, or ``None``."""
    root: Path | None = request.app.state.settings.root
    return root
