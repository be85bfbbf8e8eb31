"""``/``: the overview."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from codewitness.server._render import render
from codewitness.server.auth import reader, store_of
from codewitness.server.pages._common import scope_params

router = APIRouter(dependencies=[Depends(reader)])


@router.get("/", response_class=HTMLResponse)
def overview_page(request: Request) -> HTMLResponse:
    """AI share over time, AI vs human at runtime, what fails, who wrote the code."""
    from codewitness._time import parse_since
    from codewitness.store.events import runtime_sources
    from codewitness.views.overview import overview

    scope = scope_params(request)
    since = parse_since(scope["since"]) if scope["since"] else None
    store = store_of(request)
    view = overview(store, request.app.state.memo, since=since, service=scope["service"], revision=scope["revision"])
    services, revisions = runtime_sources(store)
    return render(request, "overview.html", view=view, scope=scope, services=services, revisions=revisions)
