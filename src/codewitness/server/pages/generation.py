"""``/generations/{id}``: one generation's prompt, parameters, raw output and what became of it."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from codewitness.server._render import render
from codewitness.server.auth import reader, store_of

router = APIRouter(dependencies=[Depends(reader)])


@router.get("/generations/{ref}", response_class=HTMLResponse)
def generation_page(request: Request, ref: str) -> HTMLResponse:
    """The generation page."""
    from codewitness.views.ledger_lists import generation_detail

    detail = generation_detail(store_of(request), ref, root=request.app.state.settings.root)
    return render(request, "generation.html", d=detail, g=detail.generation)
