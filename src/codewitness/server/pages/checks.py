"""``/checks`` and ``/checks/{id}``: merge-gate runs and their findings."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from codewitness.server._render import render
from codewitness.server.auth import reader, store_of

router = APIRouter(dependencies=[Depends(reader)])


@router.get("/checks", response_class=HTMLResponse)
def checks_page(request: Request) -> HTMLResponse:
    """The stored gate runs."""
    from codewitness.views.checks import gate_run_list

    return render(request, "checks.html", page=gate_run_list(store_of(request), limit=100))


@router.get("/checks/{run_id}", response_class=HTMLResponse)
def check_page(request: Request, run_id: str) -> HTMLResponse:
    """One run's findings."""
    from codewitness.views.checks import gate_run_detail

    return render(request, "check.html", d=gate_run_detail(store_of(request), run_id))
