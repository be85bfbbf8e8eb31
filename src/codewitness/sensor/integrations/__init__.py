"""Integrations: one module per library, all of one shape, that give the sensor the flow context.

Web frameworks open a flow per request (:mod:`codewitness.sensor.flow`); database drivers and
HTTP clients report the statements and outbound calls made inside it. Each integration is a
module here with a class ``Integration`` (:class:`codewitness.sensor.flow.Integration`):

* ``identifier`` -- its name in ``sensor.integrations`` (``"flask"``, ``"sqlite3"``, ...);
* ``setup(recorder, module)`` -- called once, with the library's module as the application
  imported it (the integration never imports the library itself: it patches what the host
  loaded), now or later; raises :class:`DidNotEnable` with a reason when it cannot work there (a
  version it does not know);
* ``teardown()`` -- puts back what ``setup`` replaced.

:data:`INTEGRATIONS` lists them with the modules whose import sets them up. Everything an
integration runs on the application's path is guarded: an error of ours is counted and the
library's own call goes ahead untouched.

For a web framework without an integration, wrap the application yourself:
:class:`codewitness.sensor.integrations.asgi.FlowMiddleware` (any ASGI app) or
:class:`codewitness.sensor.integrations.wsgi.FlowMiddleware` (any WSGI app).

Standard library only.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["INTEGRATIONS", "DidNotEnable", "Spec"]


class DidNotEnable(Exception):
    """An integration cannot work with the library it found; the message says why."""


class Spec(NamedTuple):
    """Where an integration lives and which imports set it up."""

    path: str
    modules: tuple[str, ...]


_HERE = __name__

#: Every integration by identifier, in the order they are set up.
INTEGRATIONS: dict[str, Spec] = {
    "starlette": Spec(f"{_HERE}.starlette", ("starlette.applications",)),
    "flask": Spec(f"{_HERE}.flask", ("flask",)),
    "django": Spec(f"{_HERE}.django", ("django.core.handlers.base",)),
    "sqlite3": Spec(f"{_HERE}.sqlite3", ("sqlite3",)),
    "psycopg": Spec(f"{_HERE}.psycopg", ("psycopg",)),
    "psycopg2": Spec(f"{_HERE}.psycopg2", ("psycopg2",)),
    "sqlalchemy": Spec(f"{_HERE}.sqlalchemy", ("sqlalchemy",)),
    "urllib3": Spec(f"{_HERE}.urllib3", ("urllib3",)),
    "httpx": Spec(f"{_HERE}.httpx", ("httpx",)),
    "httpx2": Spec(f"{_HERE}.httpx", ("httpx2",)),
}
