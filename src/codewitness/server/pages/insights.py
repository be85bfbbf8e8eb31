"""``/insights`` and ``/insights/{id}``: N+1 queries, chatty calls, slowdowns and error jumps after a
change, routes that slow under load; marking one as seen (needs a token or a session)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from codewitness.server._render import render
from codewitness.server.auth import SESSION_COOKIE, Writer, csrf_value, reader, store_of
from codewitness.server.pages._common import scope_params

router = APIRouter()

#: The origin filter's choices (``ai`` includes ``mixed``).
ORIGINS = ("ai", "mixed", "human", "unknown")


@router.get("/insights", response_class=HTMLResponse, dependencies=[Depends(reader)])
def insights_page(request: Request) -> HTMLResponse:
    """The insights, filtered by kind, origin and time; acknowledged ones on request."""
    from codewitness._time import parse_since
    from codewitness.views.insights import KINDS, insights

    q = request.query_params
    since = scope_params(request)["since"]
    kind = q.get("kind") or None
    origin = q.get("origin") or None
    show_all = q.get("all") in ("1", "on", "true")
    found = insights(
        store_of(request),
        since=parse_since(since) if since else None,
        kinds=[kind] if kind else None,
        origin=origin,
        include_acknowledged=show_all,
    )
    params = {"since": since, "kind": kind, "origin": origin, "all": "1" if show_all else None}
    return render(
        request,
        "insights.html",
        found=found,
        kinds=KINDS,
        origins=ORIGINS,
        params=params,
        acked=q.get("acked"),
    )


@router.get("/insights/{insight}", response_class=HTMLResponse, dependencies=[Depends(reader)])
def insight_page(request: Request, insight: str) -> HTMLResponse:
    """One insight: what it is about, its evidence, its acknowledgement."""
    from codewitness.views.insights import insight_by_id

    return render(request, "insight.html", i=insight_by_id(store_of(request), insight))


@router.post("/insights/{insight}/ack")
def insight_ack(
    request: Request,
    insight: str,
    token: Writer,
    note: Annotated[str, Form(max_length=10_000)] = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> RedirectResponse:
    """Mark the insight as seen and go back to the list."""
    from codewitness.views.insights import acknowledge_insight

    session = request.cookies.get(SESSION_COOKIE)
    if session and request.headers.get("authorization") is None and csrf != csrf_value(session):
        raise HTTPException(403, "the form is stale: reload the page and try again")
    acknowledged = acknowledge_insight(store_of(request), insight, note=note.strip() or None)
    return RedirectResponse(f"/insights?acked={acknowledged.id}", status_code=303)
