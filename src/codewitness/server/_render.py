"""Rendering pages: the Jinja2 environment (autoescaped), its filters, and the error page.

Every value a template shows is escaped; JSON for a chart goes into a ``<script
type="application/json">`` through :func:`json_script`, which escapes ``<``, ``>`` and ``&``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from codewitness._version import __version__

__all__ = ["render", "render_error"]

_TEMPLATES = Path(__file__).parent / "templates"


def _pct(value: Any, digits: int = 0) -> str:
    try:
        return f"{float(value) * 100:.{digits}f}%"
    except (TypeError, ValueError):
        return "-"


def _ms(value: Any) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "-"
    if number == 0:
        return "0"
    if number < 0.01:
        return f"{number * 1000:.1f} µs"
    if number < 1000:
        return f"{number:.2f} ms"
    return f"{number / 1000:.2f} s"


def _num(value: Any) -> str:
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError):
        return "-"


def _moment(value: Any) -> datetime | str | None:
    """A time as an aware datetime (a naive one is UTC); the text itself when it is no ISO time; ``None`` if missing."""
    if not value:
        return None
    try:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _when(value: Any) -> str:
    """An ISO time as ``2026-11-22 10:04 UTC`` (``-`` when missing)."""
    moment = _moment(value)
    if not isinstance(moment, datetime):
        return moment or "-"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _ago(value: Any) -> str:
    moment = _moment(value)
    if not isinstance(moment, datetime):
        return moment or "-"
    seconds = (datetime.now(UTC) - moment).total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit} ago"
    return "just now"


def _span(days: Any) -> str:
    """A number of days as a person says it: ``3.5 days``, ``6 hours``, ``12 minutes``."""
    try:
        seconds = float(days) * 86400
    except (TypeError, ValueError):
        return "-"
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = seconds / size
            text = f"{n:.1f}".rstrip("0").rstrip(".")
            return f"{text} {unit}{'' if text == '1' else 's'}"
    return "less than a minute"


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str, sort_keys=False)


def json_script(value: Any) -> Markup:
    """JSON safe inside ``<script type="application/json">``."""
    text = json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":"))
    text = text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
    return Markup(text)  # noqa: S704 - every character that could end the script is escaped above


def _short(value: Any, size: int = 12) -> str:
    text = str(value or "")
    return text[:size]


def _url(path: str, **params: Any) -> str:
    """``path`` with the given query parameters (``None`` and ``""`` left out)."""
    kept = {k: v for k, v in params.items() if v not in (None, "")}
    return path + ("?" + urlencode(kept) if kept else "")


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(_TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        pct=_pct,
        ms=_ms,
        num=_num,
        when=_when,
        ago=_ago,
        pretty=_pretty,
        compact=_compact,
        span=_span,
        short=_short,
        urlpart=lambda v: quote(str(v)),
    )
    env.globals.update(json_script=json_script, url=_url, version=__version__)
    return env


_ENV = _environment()


def render(
    request: Request, template: str, *, status: int = 200, headers: dict[str, str] | None = None, **context: Any
) -> HTMLResponse:
    """The page ``template`` with ``context``, and what every page shows (who is signed in, the path)."""
    from codewitness.server.auth import SESSION_COOKIE, csrf_value, identify

    session = request.cookies.get(SESSION_COOKIE)
    token, by_cookie = identify(request) if session else (None, False)
    context.setdefault("signed_in", token.name if token is not None and by_cookie else None)
    context.setdefault("csrf", csrf_value(session) if session and token is not None else "")
    context.setdefault("has_repository", request.app.state.memo is not None)
    context["path"] = request.url.path
    context["query"] = dict(request.query_params)
    html = _ENV.get_template(template).render(**context)
    return HTMLResponse(html, status_code=status, headers=headers)


def render_error(request: Request, status: int, message: str, *, headers: dict[str, str] | None = None) -> HTMLResponse:
    """The error page."""
    titles = {400: "That request cannot be answered", 401: "Sign in first", 403: "Not allowed", 404: "Not found"}
    title = titles.get(status, "Something went wrong")
    return render(request, "error.html", status=status, headers=headers, title=title, message=message, code=status)
