"""The route resolvers the web integrations read a request's route with: what they answer, and
the bounded memory that spares them reading a route object (or a URL rule) on every request."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from codewitness.sensor import flow as flow_module
from codewitness.sensor.integrations import asgi

pytest.importorskip("starlette")


def _resolve(scope: dict[str, Any]) -> Any:
    return flow_module.Flow("http", "GET", scope, asgi._scope_route).resolved()


def test_an_asgi_route_is_read_once_per_route_object_and_the_memory_is_bounded() -> None:
    from starlette.routing import Route

    async def show(request: Any) -> None:
        return None

    async def other(request: Any) -> None:
        return None

    routes = [Route(f"/items{i}/{{item_id}}", show if i % 2 else other) for i in range(5000)]
    for i, route in enumerate(routes):
        scope = {"route": route, "endpoint": route.endpoint, "path_params": {"item_id": str(i)}}
        handler = f"{__name__}.{route.endpoint.__qualname__}"
        assert _resolve(scope) == (f"/items{i}/{{item_id}}", {"item_id": str(i)}, handler)
        assert len(asgi._ROUTES) <= 4096
    # The same route object with another endpoint in the scope (a framework that sets it apart)
    # is read again, not answered from memory.
    scope = {"route": routes[0], "endpoint": show, "path_params": None}
    assert _resolve(scope)[2] == f"{__name__}.{show.__qualname__}"
    # No route matched: nothing known.
    assert _resolve({"path_params": None}) == (None, None, None)


def test_the_middleware_s_call_is_a_coroutine_function_as_asgi_servers_expect() -> None:
    # uvicorn tells ASGI 3 from ASGI 2 by ``iscoroutinefunction(app.__call__)``.
    async def app(scope: Any, receive: Any, send: Any) -> None:
        return None

    assert inspect.iscoroutinefunction(asgi.FlowMiddleware(app).__call__)
