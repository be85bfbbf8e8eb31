"""``/api/v1/files``: the repository tree with AI shares, and one file's per-line origin."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from codewitness.errors import NotFoundError
from codewitness.server.api.v1._common import repository
from codewitness.server.auth import reader, store_of

__all__ = ["router"]

router = APIRouter(tags=["code"], dependencies=[Depends(reader)])


def _memo(request: Request) -> Any:
    memo = request.app.state.memo
    if memo is None:
        raise NotFoundError("the server has no repository: run `codewitness serve` inside it")
    return memo


@router.get("/files", summary="The repository's folders and files with lines by origin")
def list_files(request: Request) -> dict[str, Any]:
    """Every folder and file at HEAD, in tree order, with non-blank lines by origin and the AI share."""
    from codewitness.views.catalog import code_tree

    report = _memo(request).report(store_of(request))
    if report is None:
        raise NotFoundError("the repository has no commits yet")
    return {"revision": report.revision, "items": code_tree(report)}


@router.get("/files/{path:path}", summary="One file's lines with their origin")
def file_detail(request: Request, path: str) -> dict[str, Any]:
    """Who wrote each line of ``path`` at HEAD: origin, confidence, evidence, generations, model, commit."""
    from codewitness.attribution.storecache import store_cache
    from codewitness.views.files import file_origins

    root = repository(request)
    if root is None:
        raise NotFoundError("the server has no repository: run `codewitness serve` inside it")
    return dict(file_origins(root, path, cache=store_cache(store_of(request))).to_dict())
