"""Runtime facts: ``/api/v1/exceptions``, ``/breaches``, ``/samples``, ``/invariants``, ``/overview``,
``/sources``, ``/insights``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request

from codewitness.server.api.v1._common import Limit, Offset, OriginQ, PageOut, Revision, Service, Since, since_of
from codewitness.server.auth import reader, store_of

__all__ = ["router"]

router = APIRouter(tags=["runtime"], dependencies=[Depends(reader)])

Function = Annotated[str | None, Query(max_length=1000, description="Only this function (module.qualname).")]


@dataclass(frozen=True)
class _EventQuery:
    """The parameters every event list takes: which events, and which page of them."""

    scope: Any
    limit: int
    offset: int


def _event_query(
    function: Function = None,
    since: Since = None,
    origin: OriginQ = None,
    service: Service = None,
    revision: Revision = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> _EventQuery:
    from codewitness.store.events import Scope

    scope = Scope(function=function, since=since_of(since), service=service, revision=revision, origin=origin)
    return _EventQuery(scope, limit, offset)


EventQuery = Annotated[_EventQuery, Depends(_event_query)]


def _event_page(request: Request, query: _EventQuery, read: Any) -> PageOut:
    """One page of events: ``read`` is one of the store's ``*_rows`` readers."""
    rows, total = read(store_of(request), query.scope, limit=query.limit, offset=query.offset)
    return PageOut(items=[dict(r) for r in rows], total=total, limit=query.limit, offset=query.offset)


@router.get("/exceptions", response_model=PageOut, summary="Captured exceptions with their redacted inputs")
def list_exceptions(request: Request, query: EventQuery) -> PageOut:
    """Exceptions, newest first."""
    from codewitness.store.events import exception_rows

    return _event_page(request, query, exception_rows)


@router.get("/breaches", response_model=PageOut, summary="Invariant breaches with inputs and result")
def list_breaches(request: Request, query: EventQuery) -> PageOut:
    """Breaches, newest first."""
    from codewitness.store.events import breach_rows

    return _event_page(request, query, breach_rows)


@router.get("/samples", response_model=PageOut, summary="Sampled calls: inputs, output, duration")
def list_samples(request: Request, query: EventQuery) -> PageOut:
    """Samples, newest first."""
    from codewitness.store.events import sample_rows

    return _event_page(request, query, sample_rows)


@router.get("/invariants", response_model=PageOut, summary="Every rule with its pass and breach counts")
def list_invariants(request: Request, since: Since = None, limit: Limit = 50, offset: Offset = 0) -> PageOut:
    """Rules the sensor reported, most breached first."""
    from codewitness.views.invariants import invariant_table
    from codewitness.views.paging import Page

    table = invariant_table(store_of(request), since=since_of(since))
    page = Page.of(table.rows, limit=limit, offset=offset)
    return PageOut(items=[dict(r) for r in page.items], total=page.total, limit=limit, offset=offset)


@router.get("/overview", summary="The overview: AI share, AI vs human at runtime, what fails")
def get_overview(
    request: Request, since: Since = None, service: Service = None, revision: Revision = None
) -> dict[str, Any]:
    """What the dashboard's first page shows."""
    from codewitness.views.overview import overview

    view = overview(
        store_of(request), request.app.state.memo, since=since_of(since), service=service, revision=revision
    )
    return {
        "revision": view.revision,
        "lines": view.lines,
        "ai_share": view.ai_share,
        "history": list(view.history),
        "runtime": [side.to_dict() for side in view.sides],
        "failing": list(view.failing),
        "exceptions": list(view.exceptions),
        "breaches": list(view.breaches),
        "agents": view.agents,
        "models": view.models,
        "counts": dict(view.counts),
    }


@router.get("/sources", summary="The services and revisions that reported runtime facts")
def list_sources(request: Request) -> dict[str, list[str]]:
    """For filters."""
    from codewitness.store.events import runtime_sources

    services, revisions = runtime_sources(store_of(request))
    return {"services": services, "revisions": revisions}


InsightKind = Literal["n_plus_one", "chatty", "slower", "error_jump", "scaling"]


@router.get("/insights", summary="N+1 queries, chatty calls, slowdowns, error jumps, routes slow under load")
def list_insights(
    request: Request,
    since: Since = None,
    kind: Annotated[list[InsightKind] | None, Query(description="Only these kinds (repeatable).")] = None,
    origin: Annotated[
        Literal["ai", "mixed", "human", "unknown", "any"] | None,
        Query(description="Only about code of this origin (ai includes mixed)."),
    ] = None,
    acknowledged: Annotated[bool, Query(description="Also the acknowledged ones.")] = False,
) -> dict[str, Any]:
    """What got slower, chattier or flakier, each with its function, origin and evidence."""
    from codewitness.views.insights import insights

    found = insights(
        store_of(request), since=since_of(since), kinds=kind, origin=origin, include_acknowledged=acknowledged
    )
    return dict(found.to_dict())
