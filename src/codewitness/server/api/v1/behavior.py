"""Behaviour: ``GET /api/v1/baselines`` (each with its latest check), ``/api/v1/baselines/{name}``
(its check history with counts per function) and ``/api/v1/corpus`` (inputs per function).

Counts and verdicts only: a replay's outcomes are not redacted, so no route serves them.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request

from codewitness.server.api.v1._common import Limit, Offset, PageOut, page_out
from codewitness.server.auth import reader, store_of
from codewitness.views.paging import Page

__all__ = ["router"]

router = APIRouter(tags=["behavior"], dependencies=[Depends(reader)])


@router.get("/baselines", response_model=PageOut, summary="Pinned baselines, newest first, with their latest check")
def list_baselines(request: Request, limit: Limit = 50, offset: Offset = 0) -> PageOut:
    """Every baseline: revision, functions, cases, inputs left out by reason, and its latest check."""
    from codewitness.views.behavior import baseline_table

    return page_out(Page.of(baseline_table(store_of(request)), limit=limit, offset=offset))


@router.get("/baselines/{name}", summary="One baseline with its check history")
def baseline_detail(
    request: Request, name: str, checks: int = Query(100, ge=1, le=1000, description="The most checks listed.")
) -> dict[str, Any]:
    """The baseline and its checks, newest first: counts, share, threshold, alarm, counts per function."""
    from codewitness.views.behavior import baseline_history

    return baseline_history(store_of(request), name, checks=checks)


@router.get("/corpus", response_model=PageOut, summary="Replay corpus inputs per function")
def list_corpus(request: Request, limit: Limit = 50, offset: Offset = 0) -> PageOut:
    """Per function: entries, replayable ones, sightings, sources, non-deterministic inputs found."""
    from codewitness.views.behavior import corpus_table

    return page_out(Page.of(corpus_table(store_of(request)), limit=limit, offset=offset))
