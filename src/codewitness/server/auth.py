"""Who is asking: a bearer token (``Authorization: Bearer cw_...``) or a browser session cookie.

Writes (ingest, review verdicts, gate runs) always need one; reads need one when the server runs
with ``--auth read``. A browser gets a session by giving a token once on ``/login``; its forms
then carry a CSRF value derived from the session (the cookie is also ``SameSite=Strict``).

Example:
    >>> @router.post("/thing")  # doctest: +SKIP
    ... def thing(who: TokenInfo = Depends(writer)) -> None: ...
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from codewitness.store import Store
from codewitness.store.tokens import TokenInfo, session_token, verify_token

__all__ = ["SESSION_COOKIE", "Writer", "csrf_value", "identify", "reader", "store_of", "writer"]

SESSION_COOKIE = "cw_session"
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="codewitness"'}


def store_of(request: Request) -> Store:
    """The application's open store."""
    store: Store = request.app.state.store
    return store


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def identify(request: Request) -> tuple[TokenInfo | None, bool]:
    """The token behind the request and whether it came by cookie (``(None, False)`` when neither)."""
    store = store_of(request)
    secret = _bearer(request)
    if secret is not None:
        return verify_token(store, secret), False
    session = request.cookies.get(SESSION_COOKIE)
    if session:
        return session_token(store, session), True
    return None, False


def csrf_value(session: str) -> str:
    """The value a form posted with ``session`` must carry."""
    return hmac.new(session.encode(), b"codewitness-form", hashlib.sha256).hexdigest()[:32]


def writer(request: Request) -> TokenInfo:
    """A dependency: the token of a request that may write; 401 otherwise."""
    token, _by_cookie = identify(request)
    if token is None:
        message = (
            "a valid token is needed: send Authorization: Bearer <token> (codewitness token create NAME)"
            if _bearer(request) is None
            else "the token is unknown or revoked (codewitness token list)"
        )
        raise HTTPException(status_code=401, detail=message, headers=_CHALLENGE)
    return token


def reader(request: Request) -> TokenInfo | None:
    """A dependency: anyone may read, unless the server runs with ``--auth read``."""
    if not request.app.state.settings.auth_reads:
        token, _ = identify(request) if request.cookies.get(SESSION_COOKIE) else (None, False)
        return token
    return writer(request)


#: A route parameter: the token of a request that may write (401 otherwise).
Writer = Annotated[TokenInfo, Depends(writer)]
