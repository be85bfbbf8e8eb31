"""What pages share: reading a form's scope, the repository's report."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from codewitness.server.auth import store_of

__all__ = ["report_of", "scope_params"]


def report_of(request: Request) -> Any:
    """The repository's attribution report at HEAD, or ``None``."""
    memo = request.app.state.memo
    return memo.report(store_of(request)) if memo is not None else None


def scope_params(request: Request) -> dict[str, str | None]:
    """``since``, ``service`` and ``revision`` from the query string ("" as none)."""
    q = request.query_params
    return {key: (q.get(key) or None) for key in ("since", "service", "revision")}
