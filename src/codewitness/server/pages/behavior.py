"""``/behavior`` and ``/behavior/baselines/{name}``: baselines and their check history, the corpus,
flakiness (counts only: a replay's outcomes are not redacted, so they stay with the command line)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from codewitness.server._render import render
from codewitness.server.auth import reader, store_of

router = APIRouter(dependencies=[Depends(reader)])


@router.get("/behavior", response_class=HTMLResponse)
def behavior_page(request: Request) -> HTMLResponse:
    """Baselines with their latest check, the corpus per function, flakiness."""
    from codewitness.views.behavior import behavior_overview

    return render(request, "behavior.html", d=behavior_overview(store_of(request)))


@router.get("/behavior/baselines/{name}", response_class=HTMLResponse)
def baseline_page(request: Request, name: str) -> HTMLResponse:
    """One baseline's checks, newest first, with the counts per function."""
    from codewitness.views.behavior import BEHAVIOR_COUNTS, baseline_history

    return render(request, "baseline.html", d=baseline_history(store_of(request), name), counts=BEHAVIOR_COUNTS)
