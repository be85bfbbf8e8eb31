"""httpx (and httpx2): the outbound HTTP calls a flow makes, sync and async.

``Client.send`` and ``AsyncClient.send`` are wrapped (``get``, ``post``, ``request`` and
``stream`` go through them); a call that follows redirects is one call. A timeout counts as set
when the request's timeout extension has a connect and a read timeout.
"""

from __future__ import annotations

import types
from typing import Any

from codewitness.sensor import flow as _flow
from codewitness.sensor.flow import FlowRecorder
from codewitness.sensor.integrations import DidNotEnable
from codewitness.sensor.integrations._http import call_shape, note_call
from codewitness.sensor.integrations._patch import Patches
from codewitness.sensor.meter import now

__all__ = ["Integration"]


#: ``(redactor, method, scheme, host, port, path as sent) -> (statement, fingerprint)`` of recent
#: calls, read from the URL as httpx parsed it (``URL._uri_reference``: its public properties decode
#: the path and the host on every read); an httpx whose URL has no such parts is read the public
#: way. The redactor is part of the key: a statement is redacted once, by the sensor that shaped it.
_SHAPES: dict[tuple[Any, ...], tuple[str, str]] = {}
MAX_SHAPES = 4096


def _report(flow: _flow.Flow, t0: int, request: Any, response: Any) -> None:
    try:
        recorder = _flow._recorder
        if recorder is None:
            return
        redactor = recorder.redactor
        url = request.url
        try:
            parsed = url._uri_reference
            key: tuple[Any, ...] | None = (
                redactor,
                request.method,
                parsed.scheme,
                parsed.host,
                parsed.port,
                parsed.path,
            )
        except AttributeError:
            key = None
        shaped = _SHAPES.get(key) if key is not None else None
        if shaped is None:
            redact = redactor.redact_text
            shaped = call_shape(request.method, url.scheme, url.host, url.port, url.path, redact)
            if key is not None:
                if len(_SHAPES) >= MAX_SHAPES:
                    _SHAPES.clear()
                _SHAPES[key] = shaped
        timeout = request.extensions.get("timeout")
        timeout_set = None
        if type(timeout) is dict:
            timeout_set = timeout.get("connect") is not None and timeout.get("read") is not None
        status = getattr(response, "status_code", None)
        # Ours above the call: note_call, this function, the wrapper of ``send``.
        note_call(flow, t0, shaped, status if type(status) is int else None, timeout_set, 3)
    except Exception:  # never the host's problem (an odd request is counted): counted
        _flow.count_error("flow.httpx")


class Integration:
    """Wraps ``Client.send`` and ``AsyncClient.send``."""

    identifier = "httpx"

    def __init__(self) -> None:
        self._patches = Patches()

    def setup(self, recorder: FlowRecorder, module: types.ModuleType) -> None:
        client, async_client = getattr(module, "Client", None), getattr(module, "AsyncClient", None)
        if not (isinstance(client, type) and isinstance(async_client, type)):
            raise DidNotEnable(f"{module.__name__} has no Client or AsyncClient")

        def wrap(original: Any) -> Any:
            def send(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
                flow = _flow._current.get()
                if flow is None:
                    return original(self, request, *args, **kwargs)
                t0 = now()
                response = None
                try:
                    response = original(self, request, *args, **kwargs)
                    return response
                finally:
                    _report(flow, t0, request, response)

            send.__wrapped__ = original  # type: ignore[attr-defined]
            send.__doc__ = original.__doc__
            return send

        def wrap_async(original: Any) -> Any:
            async def send(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
                flow = _flow._current.get()
                if flow is None:
                    return await original(self, request, *args, **kwargs)
                t0 = now()
                response = None
                try:
                    response = await original(self, request, *args, **kwargs)
                    return response
                finally:
                    _report(flow, t0, request, response)

            send.__wrapped__ = original  # type: ignore[attr-defined]
            send.__doc__ = original.__doc__
            return send

        self._patches.replace(client, "send", wrap)
        self._patches.replace(async_client, "send", wrap_async)

    def teardown(self) -> None:
        self._patches.restore()
