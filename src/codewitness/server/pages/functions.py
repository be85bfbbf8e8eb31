"""``/functions``: every function, filterable by origin and runtime scope."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from codewitness.server._render import render
from codewitness.server.auth import reader, store_of
from codewitness.server.pages._common import offset_param, report_of, scope_params

router = APIRouter(dependencies=[Depends(reader)])

PAGE = 50


@router.get("/functions", response_class=HTMLResponse)
def functions_page(request: Request) -> HTMLResponse:
    """The function catalog."""
    from codewitness._time import parse_since
    from codewitness.views.catalog import CATALOG_SORTS, ORIGIN_FILTERS, function_catalog

    q = request.query_params
    scope = scope_params(request)
    offset = offset_param(request)
    page = function_catalog(
        store_of(request),
        report_of(request),
        since=parse_since(scope["since"]) if scope["since"] else None,
        origin=q.get("origin") or None,
        service=scope["service"],
        revision=scope["revision"],
        search=q.get("q") or None,
        sort=q.get("sort") or "origin",
        limit=PAGE,
        offset=offset,
    )
    return render(
        request, "functions.html", page=page, scope=scope, sorts=CATALOG_SORTS, origins=ORIGIN_FILTERS, params=dict(q)
    )
