"""``/review``: the review queue; marking an item ok or wrong (needs a token or a session)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from codewitness.server._render import render
from codewitness.server.auth import SESSION_COOKIE, Writer, csrf_value, reader, store_of

router = APIRouter()


@router.get("/review", response_class=HTMLResponse, dependencies=[Depends(reader)])
def review_page(request: Request) -> HTMLResponse:
    """The queue, one status at a time."""
    from codewitness.views.review import STATUSES, review_queue

    status = request.query_params.get("status") or "open"
    queue = review_queue(store_of(request), status=status, limit=200)
    return render(request, "review.html", queue=queue, statuses=STATUSES, marked=request.query_params.get("marked"))


@router.post("/review/{item}")
def review_mark(
    request: Request,
    item: str,
    token: Writer,
    verdict: Annotated[str, Form(max_length=10)],
    note: Annotated[str, Form(max_length=10_000)] = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> RedirectResponse:
    """Record the verdict and go back to the queue."""
    from codewitness.store.invariants import mark_review

    session = request.cookies.get(SESSION_COOKIE)
    if session and request.headers.get("authorization") is None and csrf != csrf_value(session):
        raise HTTPException(403, "the form is stale: reload the page and try again")
    marked = mark_review(store_of(request), item, verdict, note.strip() or None)  # type: ignore[arg-type]
    status = request.query_params.get("status") or "open"
    return RedirectResponse(f"/review?status={status}&marked={marked['id'][:12]}", status_code=303)
