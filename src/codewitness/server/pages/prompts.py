"""``/prompts`` and ``/prompts/{name}``: prompt names; one prompt's versions with diffs."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from codewitness.server._render import render
from codewitness.server.auth import reader, store_of

router = APIRouter(dependencies=[Depends(reader)])


@router.get("/prompts", response_class=HTMLResponse)
def prompts_page(request: Request) -> HTMLResponse:
    """Every prompt name with its latest version."""
    from codewitness.views.prompts import prompt_list

    return render(request, "prompts.html", prompts=prompt_list(store_of(request)))


@router.get("/prompts/{name}", response_class=HTMLResponse)
def prompt_page(request: Request, name: str) -> HTMLResponse:
    """One prompt's versions, diffs and change frequency."""
    from codewitness.views.ledger_lists import prompt_detail

    return render(request, "prompt.html", d=prompt_detail(store_of(request), name))
