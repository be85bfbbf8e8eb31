"""``/login`` and ``/logout``: a browser session obtained with a token (for writes from the pages)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from codewitness.server._render import render
from codewitness.server.auth import SESSION_COOKIE, store_of

router = APIRouter()


def _local(target: str | None) -> str:
    """Only a path on this server (never another host) is a place to go back to."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> HTMLResponse:
    """The sign-in form."""
    return render(request, "login.html", next=_local(request.query_params.get("next")), failed=False)


@router.post("/login", response_model=None)
def login(
    request: Request,
    token: Annotated[str, Form(max_length=200)],
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    """Exchange a token for a session cookie."""
    from codewitness.store.tokens import open_session, verify_token

    store = store_of(request)
    found = verify_token(store, token.strip())
    if found is None:
        return render(request, "login.html", status=401, next=_local(next), failed=True)
    session = open_session(store, found)
    response = RedirectResponse(_local(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        session,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        max_age=12 * 3600,
    )
    return response


@router.post("/logout")
def logout(request: Request) -> RedirectResponse:
    """End the session."""
    from codewitness.store.tokens import end_session

    session = request.cookies.get(SESSION_COOKIE)
    if session:
        end_session(store_of(request), session)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response
