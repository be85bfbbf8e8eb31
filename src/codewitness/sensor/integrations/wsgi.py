"""WSGI: a flow per request of any WSGI application.

:func:`serving` makes a WSGI ``__call__`` that runs each call inside a flow: method and query
string from the environ (its ``X-Request-ID`` when an event needs it), the status from
``start_response``, the route from what the framework's resolver reads once it routed the
request. The Flask integration uses it; for any other WSGI application, wrap it::

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

__all__ = ["FlowMiddleware", "serving"]

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
App = Callable[[Environ, StartResponse], Iterable[bytes]]


#: Status lines seen (``"200 OK"`` -> 200): an application sends the same few, and a lookup is
#: cheaper than parsing one on every request.
_CODES: dict[str, int] = {}


def _unrouted(flow: _flow.Flow) -> Resolved:
    return (None, None, None)


#: What a flow runs: ``call(owner, environ, start_response)`` is the application's response
#: (``Flask.__call__`` itself, unbound; :class:`FlowMiddleware`'s call of the app it wraps).
Call = Callable[[Any, Environ, StartResponse], Iterable[bytes]]
Served = Callable[[Any, Environ, StartResponse], Iterable[bytes]]


def serving(call: Call, resolver: Resolver | None = _unrouted) -> Served:
    """A ``(owner, environ, start_response)`` function that returns ``call(owner, environ,
    start_response)``, inside a flow when a recorder runs and none is open.

    Made once per integration (or middleware class) and set as its ``__call__``: a request then
    runs through one function of ours, with no bound method made for it. ``resolver``: reads the
    route once the application routed the request (the flow's ``app`` is the owner); ``None``:
    the owner's ``resolver`` attribute.
    """

    def serve(owner: Any, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        recorder = _flow._recorder
        if recorder is None or _flow._current.get() is not None:
            return call(owner, environ, start_response)
        try:  # what ``recorder.begin`` does, in this frame
            flow = _flow.Flow(
                "http",
                environ.get("REQUEST_METHOD"),
                environ,
                resolver if resolver is not None else owner.resolver,
                environ.get("QUERY_STRING") or "",
                app=owner,
                active=recorder.active,
            )
            token = _flow._current.set(flow)
        except Exception:
            _flow.count_error("flow.wsgi")
            return call(owner, environ, start_response)

        def starting(status: str, headers: Any, exc_info: Any = None) -> Any:
            try:
                code = _CODES.get(status)
                if code is None:
                    code = int(status[:3])
                    if len(_CODES) < 512:
                        _CODES[status] = code
                flow.status = code
                # Routed by now, and still inside the framework's request (Flask forgets it after):
                # what the resolver reads now is final.
                if flow._resolved is None:
                    flow._resolved = flow.resolver(flow)
            except Exception:  # a status or a route we cannot read: the request is counted without
                _flow.count_error("flow.wsgi")
            if exc_info is not None:
                return start_response(status, headers, exc_info)
            return start_response(status, headers)

        try:
            return call(owner, environ, starting)
        except BaseException:
            flow.failed = True
            raise
        finally:
            recorder.end(flow, token)

    return serve


def _call_app(middleware: FlowMiddleware, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    return middleware.app(environ, start_response)


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

    #: ``__call__(self, environ, start_response)``, as WSGI servers expect.
    __call__ = serving(_call_app, None)


# Every function :func:`serving` makes shares one code object: the issuer search stops at it.
_flow.stop_searching_at(FlowMiddleware.__call__)
