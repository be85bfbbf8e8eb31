"""Django: every request a project serves, over WSGI or ASGI, is a flow.

``BaseHandler.get_response`` and ``get_response_async`` are wrapped: they run once per request
with the request object (``WSGIHandler`` and ``ASGIHandler`` both go through them), and Django
turns a view's exception into a 500 response inside them. The route is the URL pattern that
matched (``items/<int:item_id>``), the handler the view's dotted path, the path parameters the
match's keyword arguments.
"""

from __future__ import annotations

import types
from typing import Any

from codewitness.sensor import flow as _flow
from codewitness.sensor.flow import Flow, FlowRecorder, Resolved
from codewitness.sensor.integrations import DidNotEnable
from codewitness.sensor.integrations._patch import Patches

__all__ = ["Integration", "resolve"]


def resolve(flow: Flow) -> Resolved:
    """The URL pattern, keyword arguments and view of the request Django is serving in ``flow``."""
    match = getattr(flow.source, "resolver_match", None)
    if match is None:
        return (None, None, None)
    route = getattr(match, "route", None)
    view = getattr(match, "_func_path", None)
    return (
        route if isinstance(route, str) else None,
        getattr(match, "kwargs", None),
        view if isinstance(view, str) else None,
    )


def _begin(request: Any) -> tuple[Flow, Any] | None:
    recorder = _flow._recorder
    if recorder is None or _flow._current.get() is not None:
        return None
    try:
        meta = getattr(request, "META", None) or {}
        return recorder.begin(
            "http",
            getattr(request, "method", None),
            request,
            resolve,
            meta.get("QUERY_STRING") or "",
        )
    except Exception:
        _flow.count_error("flow.django")
        return None


def _end(opened: tuple[Flow, Any], response: Any, failed: bool) -> None:
    flow, token = opened
    recorder = _flow._recorder
    try:
        status = getattr(response, "status_code", None)
        if type(status) is int:
            flow.status = status
        flow.failed = failed
    finally:
        if recorder is not None:
            recorder.end(flow, token)


class Integration:
    """Wraps ``django.core.handlers.base.BaseHandler.get_response`` and ``get_response_async``."""

    identifier = "django"

    def __init__(self) -> None:
        self._patches = Patches()

    def setup(self, recorder: FlowRecorder, module: types.ModuleType) -> None:
        handler = getattr(module, "BaseHandler", None)
        if not isinstance(handler, type):
            raise DidNotEnable("django.core.handlers.base has no BaseHandler")

        def wrap(original: Any) -> Any:
            def get_response(self: Any, request: Any) -> Any:
                opened = _begin(request)
                if opened is None:
                    return original(self, request)
                response = None
                try:
                    response = original(self, request)
                    return response
                finally:
                    _end(opened, response, response is None)

            get_response.__wrapped__ = original  # type: ignore[attr-defined]
            return get_response

        def wrap_async(original: Any) -> Any:
            async def get_response_async(self: Any, request: Any) -> Any:
                opened = _begin(request)
                if opened is None:
                    return await original(self, request)
                response = None
                try:
                    response = await original(self, request)
                    return response
                finally:
                    _end(opened, response, response is None)

            get_response_async.__wrapped__ = original  # type: ignore[attr-defined]
            return get_response_async

        self._patches.replace(handler, "get_response", wrap)
        if "get_response_async" in vars(handler):
            self._patches.replace(handler, "get_response_async", wrap_async)

    def teardown(self) -> None:
        self._patches.restore()
