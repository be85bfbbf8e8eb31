"""Version 1 of the HTTP API: ``POST /api/v1/ingest`` and the ``GET /api/v1/...`` query routes.

Every list answers ``{"items": [...], "total": N, "limit": L, "offset": O}``; errors answer
``{"error": "..."}`` with a 4xx status (bad input is never a 5xx). The schema is served at
``/api/v1/openapi.json``.
"""

from __future__ import annotations

from fastapi import APIRouter

from codewitness.server.api.v1 import behavior, checks, code, functions, ingest, ledger, review, runtime

__all__ = ["router"]

router = APIRouter(prefix="/api/v1")
for _module in (ingest, functions, code, runtime, ledger, review, checks, behavior):
    router.include_router(_module.router)
