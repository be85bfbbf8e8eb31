"""``/api/v1/functions``: every function with origin and runtime; one function's dossier and chart series."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from codewitness.server.api.v1._common import (
    Limit,
    Offset,
    OriginQ,
    PageOut,
    Revision,
    Service,
    Since,
    page_out,
    repository,
    since_of,
)
from codewitness.server.auth import reader, store_of

__all__ = ["router"]

router = APIRouter(tags=["functions"], dependencies=[Depends(reader)])

Sort = Literal["origin", "name", "calls", "errors", "p95", "breaches", "risk"]


def _report(request: Request) -> Any:
    memo = request.app.state.memo
    return memo.report(store_of(request)) if memo is not None else None


@router.get("/functions", response_model=PageOut, summary="Functions: origin, runtime, breaches")
def list_functions(
    request: Request,
    since: Since = None,
    origin: OriginQ = None,
    service: Service = None,
    revision: Revision = None,
    q: Annotated[str | None, Query(max_length=200, description="Name or path contains this.")] = None,
    sort: Sort = "origin",
    limit: Limit = 50,
    offset: Offset = 0,
) -> PageOut:
    """Every function the repository's attribution or the runtime facts know."""
    from codewitness.views.catalog import function_catalog

    page = function_catalog(
        store_of(request),
        _report(request),
        since=since_of(since),
        origin=origin,
        service=service,
        revision=revision,
        search=q,
        sort=sort,
        limit=limit,
        offset=offset,
    )
    return page_out(page)


@router.get("/functions/{name:path}/series", summary="One function's runtime over time")
def function_series(
    request: Request,
    name: str,
    since: Since = None,
    service: Service = None,
    revision: Revision = None,
    buckets: Annotated[int, Query(ge=1, le=1000, description="At most this many points.")] = 60,
) -> dict[str, Any]:
    """Calls, errors, p50/p95/p99 and errors by type in equal time buckets."""
    from codewitness.views.timeline import runtime_series

    series = runtime_series(
        store_of(request), name, since=since_of(since), service=service, revision=revision, buckets=buckets
    )
    return dict(series.to_dict())


@router.get("/functions/{name:path}", summary="One function: provenance, runtime, exceptions, breaches, samples")
async def function_detail(
    request: Request,
    name: str,
    since: Since = None,
    service: Service = None,
    revision: Revision = None,
) -> dict[str, Any]:
    """Everything known about one function (``module.qualname`` or ``path:LINE``)."""
    from codewitness.attribution.storecache import store_cache
    from codewitness.views.dossier import function_dossier

    store = store_of(request)
    dossier = await run_in_threadpool(
        lambda: function_dossier(
            store,
            name,
            root=repository(request),
            cache=store_cache(store),
            since=since_of(since),
            service=service,
            revision=revision,
        )
    )
    return dossier.to_dict()
