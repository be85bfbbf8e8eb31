"""What pages share: reading a form's scope and page offset, the repository's report."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from codewitness.server.auth import store_of

__all__ = ["offset_param", "report_of", "scope_params"]


def report_of(request: Request) -> Any:
    """The repository's attribution report at HEAD, or ``None``."""
    memo = request.app.state.memo
    return memo.report(store_of(request)) if memo is not None else None


def scope_params(request: Request) -> dict[str, str | None]:
    """``since``, ``service`` and ``revision`` from the query string ("" as none)."""
    q = request.query_params
    return {key: (q.get(key) or None) for key in ("since", "service", "revision")}


def offset_param(request: Request) -> int:
    """The ``offset`` of a list page from the query string (0 when absent, never negative).

    Raises:
        UsageError: it is not a whole number (answered 400).
    """
    from codewitness.errors import UsageError

    try:
        return max(int(request.query_params.get("offset") or 0), 0)
    except ValueError:
        raise UsageError("offset must be a whole number") from None
