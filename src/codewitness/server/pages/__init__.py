"""The dashboard's pages, one module per page, rendered on the server from ``templates/``.

Tables and text work without JavaScript; charts are drawn by the vendored uPlot from JSON the
page carries, with the same numbers in a table beside them.
"""

from __future__ import annotations

from fastapi import APIRouter

from codewitness.server.pages import (
    behavior,
    checks,
    code,
    file,
    function,
    functions,
    generation,
    generations,
    insights,
    overview,
    prompts,
    review,
    session,
)

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
for _module in (
    overview,
    code,
    file,
    functions,
    function,
    generations,
    generation,
    prompts,
    checks,
    review,
    behavior,
    insights,
    session,
):
    router.include_router(_module.router)
