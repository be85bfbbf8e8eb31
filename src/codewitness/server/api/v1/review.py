"""The review queue: ``GET /api/v1/review`` and ``POST /api/v1/review/{id}`` (a verdict; needs a token)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from codewitness.server.api.v1._common import Limit, Offset, PageOut
from codewitness.server.auth import Writer, reader, store_of

__all__ = ["router"]

router = APIRouter(tags=["review"])


class Verdict(BaseModel):
    """A person's verdict on a sampled call."""

    verdict: Literal["ok", "wrong"]
    note: str | None = Field(default=None, max_length=10_000)


@router.get("/review", response_model=PageOut, summary="The review queue", dependencies=[Depends(reader)])
def list_review(
    request: Request,
    status: Annotated[Literal["open", "ok", "wrong", "all"], Query(description="Which items.")] = "open",
    limit: Limit = 50,
    offset: Offset = 0,
) -> PageOut:
    """Sampled calls, oldest first, with their verdicts."""
    from codewitness.views.paging import Page
    from codewitness.views.review import review_queue

    queue = review_queue(store_of(request), status=status)
    page = Page.of(queue.items, limit=limit, offset=offset)
    return PageOut(items=[dict(i) for i in page.items], total=page.total, limit=limit, offset=offset)


@router.post(
    "/review/{item}",
    summary="Mark a review item ok or wrong",
    responses={401: {"description": "No valid token."}, 404: {"description": "No such item."}},
)
def mark(request: Request, item: str, verdict: Verdict, token: Writer) -> dict[str, Any]:
    """Record a verdict; ``wrong`` makes the call a regression case."""
    from codewitness.store.invariants import mark_review

    return mark_review(store_of(request), item, verdict.verdict, verdict.note)
