"""urllib3, and so requests: the outbound HTTP calls a flow makes.

``HTTPConnectionPool.urlopen`` is wrapped (``HTTPSConnectionPool`` inherits it; requests goes
through it). A call that urllib3 retries or redirects is one call, timed from the first attempt
to the final response. Whether a timeout was set is read from the pool's resolved timeout: no
connect or no read timeout (and no process-wide socket default) counts as ``no_timeout``.
"""

from __future__ import annotations

import socket
import types
from typing import Any

from codewitness.sensor import flow as _flow
from codewitness.sensor.flow import FlowRecorder
from codewitness.sensor.integrations import DidNotEnable
from codewitness.sensor.integrations._http import report_call
from codewitness.sensor.integrations._patch import Patches
from codewitness.sensor.meter import now

__all__ = ["Integration"]

#: Set on the flow while a call is under way, so that urllib3's own retries (it calls
#: ``urlopen`` again) are part of the first call.
_BUSY = "urllib3"


def _timeout_set(pool: Any, timeout: Any) -> bool | None:
    """Whether a call with ``timeout`` (as given to ``urlopen``) has a connect and a read timeout."""
    try:
        resolved = pool._get_timeout(timeout)
        default = socket.getdefaulttimeout()
        values = (resolved.connect_timeout, resolved.read_timeout)
        # A value that is not a number is urllib3's "default" marker: the socket default applies.
        return all(isinstance(t, int | float) or (t is not None and default is not None) for t in values)
    except Exception:
        return None


class Integration:
    """Wraps ``urllib3.connectionpool.HTTPConnectionPool.urlopen``."""

    identifier = "urllib3"

    def __init__(self) -> None:
        self._patches = Patches()

    def setup(self, recorder: FlowRecorder, module: types.ModuleType) -> None:
        pool_type = getattr(getattr(module, "connectionpool", None), "HTTPConnectionPool", None)
        if not isinstance(pool_type, type):
            raise DidNotEnable("urllib3 has no connectionpool.HTTPConnectionPool")
        busy: dict[int, bool] = {}

        def wrap(original: Any) -> Any:
            def urlopen(self: Any, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
                flow = _flow._current.get()
                if flow is None or busy.get(id(flow)):
                    return original(self, method, url, *args, **kwargs)
                busy[id(flow)] = True
                t0 = now()
                status = None
                try:
                    response = original(self, method, url, *args, **kwargs)
                    status = getattr(response, "status", None)
                    return response
                finally:
                    busy.pop(id(flow), None)
                    # ``timeout`` is urlopen's sixth parameter after ``url``; left out: the pool's.
                    timeout = kwargs.get("timeout", args[5] if len(args) > 5 else getattr(self, "timeout", None))
                    report_call(
                        flow,
                        t0,
                        str(method),
                        str(getattr(self, "scheme", "http")),
                        str(getattr(self, "host", "")),
                        getattr(self, "port", None),
                        str(url),
                        status if type(status) is int else None,
                        _timeout_set(self, timeout),
                    )

            urlopen.__wrapped__ = original  # type: ignore[attr-defined]
            urlopen.__doc__ = original.__doc__
            return urlopen

        self._patches.replace(pool_type, "urlopen", wrap)

    def teardown(self) -> None:
        self._patches.restore()
