"""Flask: every request an application serves is a flow.

``Flask.__call__`` is wrapped, so applications made before or after the sensor started are
covered alike (and a middleware set on ``app.wsgi_app`` runs inside the flow). The route is the
matched URL rule (``/items/<int:item_id>``), the handler the rule's view function, the path
parameters its ``view_args`` -- read from the request Werkzeug keeps in the environ.
"""

from __future__ import annotations

import types
from typing import Any

from codewitness.sensor.flow import Flow, FlowRecorder, Resolved
from codewitness.sensor.integrations import DidNotEnable
from codewitness.sensor.integrations._patch import Patches
from codewitness.sensor.integrations.asgi import function_name
from codewitness.sensor.integrations.wsgi import Environ, StartResponse, serve

__all__ = ["Integration", "resolve"]


def resolve(flow: Flow) -> Resolved:
    """The URL rule, view arguments and view function of the request Flask is serving in ``flow``."""
    request = flow.source.get("werkzeug.request")
    rule = getattr(request, "url_rule", None)
    if rule is None:
        return (None, None, None)
    views = getattr(flow.app, "view_functions", None) or {}
    view = views.get(rule.endpoint)
    return (rule.rule, getattr(request, "view_args", None), function_name(view) if view is not None else None)


class Integration:
    """Wraps ``flask.Flask.__call__``."""

    identifier = "flask"

    def __init__(self) -> None:
        self._patches = Patches()

    def setup(self, recorder: FlowRecorder, module: types.ModuleType) -> None:
        app_class = getattr(module, "Flask", None)
        if not isinstance(app_class, type):
            raise DidNotEnable("flask has no Flask class")

        def wrap(original: Any) -> Any:
            def __call__(self: Any, environ: Environ, start_response: StartResponse) -> Any:
                # A bound method, not a lambda: one Python frame less on every request.
                return serve(original.__get__(self, type(self)), environ, start_response, resolve, self)

            __call__.__wrapped__ = original  # type: ignore[attr-defined]
            return __call__

        self._patches.replace(app_class, "__call__", wrap)

    def teardown(self) -> None:
        self._patches.restore()
