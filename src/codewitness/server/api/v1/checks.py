"""Merge-gate runs: ``GET /api/v1/checks`` (list, one run) and ``POST /api/v1/checks`` (a ``check --json`` document)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from codewitness.server.api.v1._common import Limit, Offset, PageOut, page_out
from codewitness.server.auth import Writer, reader, store_of

__all__ = ["router"]

router = APIRouter(tags=["checks"])


class GateUpload(BaseModel):
    """A gate run to keep: the ``check --json`` document and where it ran."""

    document: dict[str, Any]
    revision: str | None = Field(default=None, max_length=64)
    source: str = Field(default="api", max_length=200)


@router.get("/checks", response_model=PageOut, summary="Merge-gate runs, newest first", dependencies=[Depends(reader)])
def list_checks(request: Request, limit: Limit = 50, offset: Offset = 0) -> PageOut:
    """Stored runs with their finding counts."""
    from codewitness.views.checks import gate_run_list

    return page_out(gate_run_list(store_of(request), limit=limit, offset=offset))


@router.get("/checks/{run_id}", summary="One gate run with its findings", dependencies=[Depends(reader)])
def check_detail(request: Request, run_id: str) -> dict[str, Any]:
    """One stored run, findings highest severity first."""
    from codewitness.views.checks import gate_run_detail

    detail = gate_run_detail(store_of(request), run_id)
    return {**{k: v for k, v in detail.run.items() if k != "document"}, "findings": list(detail.findings)}


@router.post(
    "/checks",
    summary="Keep a gate run (the check --json document)",
    responses={401: {"description": "No valid token."}},
)
def upload_check(request: Request, upload: GateUpload, token: Writer) -> dict[str, str]:
    """Store a run CI made: ``codewitness check --json`` wrapped as ``{"document": ..., "revision": ...}``."""
    from codewitness.errors import InputError
    from codewitness.store.gate_runs import record_gate_run

    if not isinstance(upload.document.get("findings"), list):
        raise InputError("document: not a check --json document (no findings list)")
    run_id = record_gate_run(
        store_of(request), upload.document, revision=upload.revision, source=f"{upload.source} ({token.name})"
    )
    return {"id": run_id}
