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
from codewitness.sensor.integrations.wsgi import serving

__all__ = ["Integration", "resolve"]


#: ``id(rule) -> (rule, template, handler)``: what a URL rule routes to, read once per rule (an
#: application has a fixed set of them, and a rule is bound to one application's map only).
_RULES: dict[int, tuple[Any, str | None, str | None]] = {}


def resolve(flow: Flow) -> Resolved:
    """The URL rule, view arguments and view function of the request Flask is serving in ``flow``."""
    request = flow.source.get("werkzeug.request")
    rule = getattr(request, "url_rule", None)
    if rule is None:
        return (None, None, None)
    known = _RULES.get(id(rule))
    if known is None or known[0] is not rule:
        views = getattr(flow.app, "view_functions", None) or {}
        view = views.get(rule.endpoint)
        if len(_RULES) >= 4096:
            _RULES.clear()
        known = _RULES[id(rule)] = (rule, rule.rule, function_name(view) if view is not None else None)
    return (known[1], getattr(request, "view_args", None), known[2])


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
            # Flask's own ``__call__``, unbound, called inside the flow: one function of ours per
            # request, and no bound method made for it.
            __call__ = serving(original, resolve)
            __call__.__wrapped__ = original  # type: ignore[attr-defined]
            __call__.__name__ = __call__.__qualname__ = "__call__"
            return __call__

        self._patches.replace(app_class, "__call__", wrap)

    def teardown(self) -> None:
        self._patches.restore()
