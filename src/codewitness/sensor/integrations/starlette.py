"""Starlette, and so FastAPI: every request an application serves is a flow.

``Starlette.__call__`` is wrapped (FastAPI's calls it), so applications made before or after
the sensor started are covered alike. The route is the matched route's path template
(``/items/{item_id}``), the handler its endpoint, the path parameters Starlette's
``path_params``; a request no route matched has no route.
"""

from __future__ import annotations

import types
from typing import Any

from codewitness.sensor.flow import FlowRecorder
from codewitness.sensor.integrations import DidNotEnable
from codewitness.sensor.integrations._patch import Patches
from codewitness.sensor.integrations.asgi import serving

__all__ = ["Integration"]


class Integration:
    """Wraps ``starlette.applications.Starlette.__call__``."""

    identifier = "starlette"

    def __init__(self) -> None:
        self._patches = Patches()

    def setup(self, recorder: FlowRecorder, module: types.ModuleType) -> None:
        app_class = getattr(module, "Starlette", None)
        if not isinstance(app_class, type):
            raise DidNotEnable("starlette.applications has no Starlette class")

        def wrap(original: Any) -> Any:
            # Starlette's own ``__call__``, unbound, awaited inside the flow: one coroutine of ours
            # per request, and no bound method made for it.
            __call__ = serving(original)
            __call__.__wrapped__ = original  # type: ignore[attr-defined]
            __call__.__name__ = __call__.__qualname__ = "__call__"
            return __call__

        self._patches.replace(app_class, "__call__", wrap)

    def teardown(self) -> None:
        self._patches.restore()
