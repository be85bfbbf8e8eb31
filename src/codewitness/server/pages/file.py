"""``/code/file/{path}``: one file with an origin gutter per line."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from codewitness.errors import NotFoundError
from codewitness.server._render import render
from codewitness.server.auth import reader, store_of
from codewitness.server.pages._common import report_of

router = APIRouter(dependencies=[Depends(reader)])


@router.get("/code/file/{path:path}", response_class=HTMLResponse)
def file_page(request: Request, path: str) -> HTMLResponse:
    """Each line with who wrote it: generation, model and prompt on hover."""
    from codewitness.attribution.storecache import store_cache
    from codewitness.views.annotated import annotated_file

    root = request.app.state.settings.root
    if root is None:
        raise NotFoundError("the server has no repository: run `codewitness serve` inside it")
    store = store_of(request)
    view = annotated_file(store, root, path, report=report_of(request), cache=store_cache(store))
    return render(request, "file.html", view=view, file_path=path)
