"""ASGI: a flow per HTTP request of any ASGI application.

:func:`serving` makes an ASGI ``__call__`` that runs each call inside a flow: the request's
method and query string from the scope (its ``X-Request-ID`` when an event needs it), the status
from the ``http.response.start`` message, the route from what the framework's resolver reads in
the scope once it routed the request. The Starlette integration (and so FastAPI) uses it; for
any other ASGI application, wrap it::

    from codewitness.sensor.integrations.asgi import FlowMiddleware

    app = FlowMiddleware(app)

A request that arrives inside another flow (a mounted sub-application) stays part of that one.
Only ``http`` scopes are flows; websockets and lifespan pass through untouched.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, MutableMapping
from typing import Any

from codewitness.sensor import flow as _flow
from codewitness.sensor.flow import Resolved, Resolver

__all__ = ["FlowMiddleware", "function_name", "serving"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


#: ``id(route) -> (route, endpoint, template, handler)``: what a matched route says, read once per
#: route object (an application has a fixed set of them; a route's path does not change).
_ROUTES: dict[int, tuple[Any, Any, str | None, str | None]] = {}


def _scope_route(flow: _flow.Flow) -> Resolved:
    """What a generic ASGI scope says of the route (frameworks that set ``route`` and ``endpoint``)."""
    scope = flow.source
    route, endpoint = scope.get("route"), scope.get("endpoint")
    known = _ROUTES.get(id(route))
    if known is None or known[0] is not route or known[1] is not endpoint:
        template = getattr(route, "path", None) if route is not None else None
        if len(_ROUTES) >= 4096:
            _ROUTES.clear()
        known = _ROUTES[id(route)] = (
            route,
            endpoint,
            template if isinstance(template, str) else None,
            function_name(endpoint) if endpoint is not None else None,
        )
    return (known[2], scope.get("path_params"), known[3])


_NAMES: dict[int, tuple[Any, str | None]] = {}


def function_name(function: Any) -> str | None:
    """``module.qualname`` of a handler (remembered per object)."""
    known = _NAMES.get(id(function))
    if known is not None and known[0] is function:
        return known[1]
    target = getattr(function, "__wrapped__", function)
    module, qualname = getattr(target, "__module__", None), getattr(target, "__qualname__", None)
    name = f"{module}.{qualname}" if isinstance(module, str) and isinstance(qualname, str) else None
    if len(_NAMES) >= 4096:
        _NAMES.clear()
    _NAMES[id(function)] = (function, name)
    return name


#: What a flow runs: ``call(owner, scope, receive, send)`` returns the application's awaitable
#: (``Starlette.__call__`` itself, unbound; :class:`FlowMiddleware`'s call of the app it wraps).
Call = Callable[[Any, Scope, Receive, Send], Awaitable[None]]
Served = Callable[[Any, Scope, Receive, Send], Coroutine[Any, Any, None]]


def serving(call: Call, resolver: Resolver | None = _scope_route) -> Served:
    """An ``async def (owner, scope, receive, send)`` that awaits ``call(owner, scope, receive, send)``,
    inside a flow when it is an HTTP request and a recorder runs.

    Made once per integration (or middleware class) and set as its ``__call__``: a request then
    runs through one coroutine of ours, with no bound method made for it. ``resolver``: reads the
    route once the application routed the request; ``None``: the owner's ``resolver`` attribute.
    """

    async def serve(owner: Any, scope: Scope, receive: Receive, send: Send) -> None:
        recorder = _flow._recorder
        if recorder is None or scope.get("type") != "http" or _flow._current.get() is not None:
            await call(owner, scope, receive, send)
            return
        try:  # what ``recorder.begin`` does, in this frame
            flow = _flow.Flow(
                "http",
                scope.get("method"),
                scope,
                resolver if resolver is not None else owner.resolver,
                scope.get("query_string") or b"",
                active=recorder.active,
            )
            token = _flow._current.set(flow)
        except Exception:
            _flow.count_error("flow.asgi")
            await call(owner, scope, receive, send)
            return

        def sending(message: Message) -> Awaitable[None]:
            # Not a coroutine of its own: the application awaits what ``send`` returns, one frame
            # less per message.
            if message.get("type") == "http.response.start":
                status = message.get("status")
                if type(status) is int:
                    flow.status = status
            return send(message)

        try:
            await call(owner, scope, receive, sending)
        except BaseException:
            flow.failed = True
            raise
        finally:
            recorder.end(flow, token)

    return serve


def _call_app(middleware: FlowMiddleware, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
    return middleware.app(scope, receive, send)


class FlowMiddleware:
    """Wraps any ASGI application: each HTTP request becomes a flow (see the module docstring).

    Args:
        app: the ASGI application.
        resolver: reads the route template, path parameters and handler from the scope once the
            application routed it; the default reads ``scope["route"].path``, ``path_params``
            and ``endpoint``, as Starlette sets them.
    """

    def __init__(self, app: App, resolver: Resolver = _scope_route) -> None:
        self.app = app
        self.resolver = resolver

    #: ``async def __call__(self, scope, receive, send)``, as ASGI servers expect.
    __call__ = serving(_call_app, None)


# Every function :func:`serving` makes shares one code object: the issuer search stops at it.
_flow.stop_searching_at(FlowMiddleware.__call__)
