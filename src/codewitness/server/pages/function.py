"""``/functions/{name}``: one function's provenance, runtime over time, exceptions, breaches, samples."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from codewitness.server._render import render
from codewitness.server.auth import reader, store_of
from codewitness.server.pages._common import scope_params

router = APIRouter(dependencies=[Depends(reader)])


@router.get("/functions/{name:path}", response_class=HTMLResponse)
def function_page(request: Request, name: str) -> HTMLResponse:
    """The function page."""
    from codewitness._time import parse_since
    from codewitness.attribution.storecache import store_cache
    from codewitness.views.dossier import function_dossier

    store = store_of(request)
    scope = scope_params(request)
    dossier = function_dossier(
        store,
        name,
        root=request.app.state.settings.root,
        cache=store_cache(store),
        since=parse_since(scope["since"]) if scope["since"] else None,
        service=scope["service"],
        revision=scope["revision"],
    )
    return render(request, "function.html", d=dossier, scope=scope)
