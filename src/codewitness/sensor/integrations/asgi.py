"""ASGI: a flow per HTTP request of any ASGI application.

:func:`serve` runs one ASGI call inside a flow: the request's method and query string from the
scope (its ``X-Request-ID`` when an event needs it), the status from the ``http.response.start``
message, the route from what the framework's resolver reads in the scope once it routed the
request. The Starlette integration (and so FastAPI) uses it; for any other ASGI application, wrap it::

    from codewitness.sensor.integrations.asgi import FlowMiddleware

    app = FlowMiddleware(app)

A request that arrives inside another flow (a mounted sub-application) stays part of that one.
Only ``http`` scopes are flows; websockets and lifespan pass through untouched.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from codewitness.sensor import flow as _flow
from codewitness.sensor.flow import Resolved, Resolver

__all__ = ["FlowMiddleware", "function_name", "serve"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


def _scope_route(flow: _flow.Flow) -> Resolved:
    """What a generic ASGI scope says of the route (frameworks that set ``route`` and ``endpoint``)."""
    scope = flow.source
    route = scope.get("route")
    template = getattr(route, "path", None) if route is not None else None
    endpoint = scope.get("endpoint")
    return (
        template if isinstance(template, str) else None,
        scope.get("path_params"),
        function_name(endpoint) if endpoint is not None else None,
    )


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


async def serve(app: App, scope: Scope, receive: Receive, send: Send, resolver: Resolver = _scope_route) -> None:
    """Run ``app(scope, receive, send)``, inside a flow when it is an HTTP request and a recorder runs."""
    recorder = _flow._recorder
    if recorder is None or scope.get("type") != "http" or _flow._current.get() is not None:
        await app(scope, receive, send)
        return
    try:
        flow, token = recorder.begin(
            "http",
            scope.get("method"),
            scope,
            resolver,
            scope.get("query_string") or b"",
        )
    except Exception:
        _flow.count_error("flow.asgi")
        await app(scope, receive, send)
        return

    async def sending(message: Message) -> None:
        if message.get("type") == "http.response.start":
            status = message.get("status")
            if type(status) is int:
                flow.status = status
        await send(message)

    try:
        await app(scope, receive, sending)
    except BaseException:
        flow.failed = True
        raise
    finally:
        recorder.end(flow, token)


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

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await serve(self.app, scope, receive, send, self.resolver)
