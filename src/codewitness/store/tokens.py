"""API tokens and browser sessions: who may write to (and, with ``serve --auth read``, read) the server.

A token is 32 random bytes, shown once when created (``cw_`` + URL-safe base64); the store keeps
only its SHA-256, so a copy of the database gives no token away. A token has a short public id
(``token list``, ``token revoke``). A browser session is obtained by giving a token once; its
random id is stored hashed the same way and expires.

Example:
    >>> created = create_token(store, "ci")  # doctest: +SKIP
    >>> verify_token(store, created.secret).name  # doctest: +SKIP
    'ci'
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from codewitness.errors import InputError, NotFoundError
from codewitness.model import utcnow
from codewitness.store import Store, schema

__all__ = [
    "CreatedToken",
    "TokenInfo",
    "create_token",
    "digest",
    "end_session",
    "list_tokens",
    "open_session",
    "revoke_token",
    "session_token",
    "verify_token",
]

PREFIX = "cw_"
#: How long a browser session lasts.
SESSION_LIFETIME = timedelta(hours=12)


@dataclass(frozen=True)
class TokenInfo:
    """A token as listed: never the secret."""

    id: str
    name: str
    created_at: datetime
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        """Not revoked."""
        return self.revoked_at is None


@dataclass(frozen=True)
class CreatedToken:
    """A new token: ``secret`` is shown once and not kept."""

    info: TokenInfo
    secret: str


def digest(secret: str) -> str:
    """The stored form of a token or session id: SHA-256, hex."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def create_token(store: Store, name: str) -> CreatedToken:
    """Create a token named ``name`` (what it is for: ``ci``, ``shop-prod``).

    Raises:
        InputError: an empty name or one longer than 200 characters.
    """
    name = name.strip()
    if not name or len(name) > 200:
        raise InputError("name the token (what it is for, up to 200 characters): codewitness token create ci")
    secret = PREFIX + secrets.token_urlsafe(32)
    info = TokenInfo(id=secrets.token_hex(4), name=name, created_at=utcnow(), revoked_at=None)
    with store.write() as conn:
        conn.execute(
            schema.api_tokens.insert().values(
                id=info.id, name=info.name, token_hash=digest(secret), created_at=info.created_at
            )
        )
    return CreatedToken(info, secret)


def _info(row: object) -> TokenInfo:
    return TokenInfo(
        id=row.id,  # type: ignore[attr-defined]
        name=row.name,  # type: ignore[attr-defined]
        created_at=row.created_at,  # type: ignore[attr-defined]
        revoked_at=row.revoked_at,  # type: ignore[attr-defined]
    )


def list_tokens(store: Store) -> list[TokenInfo]:
    """Every token, oldest first, revoked ones included."""
    t = schema.api_tokens
    with store.read() as conn:
        return [_info(r) for r in conn.execute(select(t).order_by(t.c.created_at, t.c.id))]


def revoke_token(store: Store, token_id: str) -> TokenInfo:
    """Revoke a token by its id; its browser sessions end with it.

    Raises:
        NotFoundError: no token has that id.
    """
    t = schema.api_tokens
    with store.write() as conn:
        row = conn.execute(select(t).where(t.c.id == token_id.strip())).first()
        if row is None:
            raise NotFoundError(f"no token {token_id!r}; `codewitness token list` shows the ids")
        when = row.revoked_at or utcnow()
        conn.execute(t.update().where(t.c.id == row.id).values(revoked_at=when))
        conn.execute(schema.server_sessions.delete().where(schema.server_sessions.c.token_id == row.id))
    return TokenInfo(row.id, row.name, row.created_at, when)


def verify_token(store: Store, secret: str) -> TokenInfo | None:
    """The active token ``secret`` is, or ``None``."""
    if not secret.startswith(PREFIX) or len(secret) > 200:
        return None
    t = schema.api_tokens
    wanted = digest(secret)
    with store.read() as conn:
        row = conn.execute(select(t).where(t.c.token_hash == wanted)).first()
    if row is None or row.revoked_at is not None or not hmac.compare_digest(row.token_hash, wanted):
        return None
    return _info(row)


def open_session(store: Store, token: TokenInfo) -> str:
    """A new browser session for ``token``; returns the session id (kept in a cookie, stored hashed)."""
    session = secrets.token_urlsafe(32)
    now = utcnow()
    s = schema.server_sessions
    with store.write() as conn:
        conn.execute(s.delete().where(s.c.expires_at < now))
        conn.execute(
            s.insert().values(
                id_hash=digest(session), token_id=token.id, created_at=now, expires_at=now + SESSION_LIFETIME
            )
        )
    return session


def session_token(store: Store, session: str) -> TokenInfo | None:
    """The active token behind an unexpired browser session, or ``None``."""
    if not session or len(session) > 200:
        return None
    s, t = schema.server_sessions, schema.api_tokens
    query = (
        select(t)
        .join(s, s.c.token_id == t.c.id)
        .where(s.c.id_hash == digest(session), s.c.expires_at > utcnow(), t.c.revoked_at.is_(None))
    )
    with store.read() as conn:
        row = conn.execute(query).first()
    return None if row is None else _info(row)


def end_session(store: Store, session: str) -> None:
    """Forget a browser session (sign out)."""
    s = schema.server_sessions
    with store.write() as conn:
        conn.execute(s.delete().where(s.c.id_hash == digest(session)))
