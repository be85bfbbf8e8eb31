"""``/generations``: every generation, filterable by model, agent and prompt."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from codewitness.server._render import render
from codewitness.server.auth import reader, store_of
from codewitness.server.pages._common import offset_param

router = APIRouter(dependencies=[Depends(reader)])

PAGE = 50


@router.get("/generations", response_class=HTMLResponse)
def generations_page(request: Request) -> HTMLResponse:
    """The generation list."""
    from codewitness.views.ledger_lists import generation_list

    q = request.query_params
    offset = offset_param(request)
    page = generation_list(
        store_of(request),
        model=q.get("model") or None,
        agent=q.get("agent") or None,
        prompt=q.get("prompt") or None,
        file=q.get("file") or None,
        limit=PAGE,
        offset=offset,
    )
    return render(request, "generations.html", page=page, params=dict(q))
