"""WSGI: a flow per request of any WSGI application.

:func:`serve` runs one WSGI call inside a flow: method and query string from the environ (its
``X-Request-ID`` when an event needs it), the status from ``start_response``, the route from what the
framework's resolver reads once it routed the request. The Flask integration uses it; for any
other WSGI application, wrap it::

    from codewitness.sensor.integrations.wsgi import FlowMiddleware

    app = FlowMiddleware(app)

The route is read when the application starts its response (the framework has routed the
request by then, and still holds it). The flow ends when the application returns its response
iterable: a body streamed after that runs outside it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from codewitness.sensor import flow as _flow
from codewitness.sensor.flow import Resolved, Resolver

__all__ = ["FlowMiddleware", "serve"]

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
App = Callable[[Environ, StartResponse], Iterable[bytes]]


def _unrouted(flow: _flow.Flow) -> Resolved:
    return (None, None, None)


def serve(
    app: App, environ: Environ, start_response: StartResponse, resolver: Resolver = _unrouted, owner: Any = None
) -> Iterable[bytes]:
    """Run ``app(environ, start_response)`` inside a flow when a recorder runs and none is open."""
    recorder = _flow._recorder
    if recorder is None or _flow._current.get() is not None:
        return app(environ, start_response)
    try:
        flow, token = recorder.begin(
            "http",
            environ.get("REQUEST_METHOD"),
            environ,
            resolver,
            environ.get("QUERY_STRING") or "",
            app=owner,
        )
    except Exception:
        _flow.count_error("flow.wsgi")
        return app(environ, start_response)

    def starting(status: str, headers: Any, exc_info: Any = None) -> Any:
        try:
            flow.status = int(status[:3])
            # Routed by now, and still inside the framework's request (Flask forgets it after).
            flow.resolved(final=True)
        except Exception:  # a status or a route we cannot read: the request is counted without
            _flow.count_error("flow.wsgi")
        return start_response(status, headers, exc_info) if exc_info is not None else start_response(status, headers)

    try:
        return app(environ, starting)
    except BaseException:
        flow.failed = True
        raise
    finally:
        recorder.end(flow, token)


class FlowMiddleware:
    """Wraps any WSGI application: each request becomes a flow (see the module docstring).

    Args:
        app: the WSGI application.
        resolver: reads the route template, path parameters and handler once the application
            routed the request (from ``flow.source``, the environ); by default none is known.
    """

    def __init__(self, app: App, resolver: Resolver = _unrouted) -> None:
        self.app = app
        self.resolver = resolver

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        return serve(self.app, environ, start_response, self.resolver)
