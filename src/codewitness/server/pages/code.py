"""``/code``: the repository tree coloured by AI share."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from codewitness.server._render import render
from codewitness.server.auth import reader
from codewitness.server.pages._common import report_of

router = APIRouter(dependencies=[Depends(reader)])


@router.get("/code", response_class=HTMLResponse)
def code_page(request: Request) -> HTMLResponse:
    """Folders and files with their lines by origin."""
    from codewitness.views.catalog import code_tree

    report = report_of(request)
    nodes = code_tree(report) if report is not None else []
    return render(request, "code.html", nodes=nodes, revision=report.revision if report is not None else None)
