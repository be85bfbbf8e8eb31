"""Outbound HTTP calls as statements: ``GET api.example.com/users/{id}``.

:func:`call_shape` makes the statement of an outbound call: the method, the host (and port
when it is not the scheme's default) and the path with its variable parts -- numbers, UUIDs,
long hexadecimal or random-looking segments -- replaced by ``{id}``; the query string is left
out (it carries values, sometimes credentials), and what remains is redacted like every text.
:func:`report_call` notes one call in the current flow, with its status class and whether it
was made without a timeout (``details``: ``2xx``, ``5xx``, ``error``, ``no_timeout``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from codewitness.sensor import flow as _flow
from codewitness.sensor.integrations._sql import fingerprint
from codewitness.sensor.meter import now

__all__ = ["SYSTEM", "call_shape", "note_call", "report_call"]

SYSTEM = "http"

_DEFAULT_PORTS = {"http": 80, "https": 443}
_VARIABLE = re.compile(
    r"""^(?:
      \d+
    | [0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}
    | (?=[^/]*\d)[0-9a-fA-F]{8,}
    | (?=[^/]*\d)(?=[^/]*[A-Za-z])[A-Za-z0-9_\-.~%]{20,}
    )$""",
    re.VERBOSE,
)
_shapes: dict[tuple[Any, ...], tuple[str, str]] = {}


def call_shape(
    method: str, scheme: str, host: str, port: int | None, path: str, redact: Callable[[str], str]
) -> tuple[str, str]:
    """The statement of an outbound call and its fingerprint (remembered for recent calls, by the
    redaction that made them: a sensor started again with other redaction settings shapes anew)."""
    key = (redact, method, scheme, host, port, path)
    found = _shapes.get(key)
    if found is not None:
        return found
    path = path.split("?", 1)[0].split("#", 1)[0] or "/"
    segments = ["{id}" if _VARIABLE.match(segment) else segment for segment in path[:2000].split("/")]
    where = host if port is None or _DEFAULT_PORTS.get(scheme) == port else f"{host}:{port}"
    shape = redact(f"{method.upper()} {where}{'/'.join(segments)}")
    found = (shape, fingerprint(shape))
    if len(_shapes) >= 4096:
        _shapes.clear()
    _shapes[key] = found
    return found


#: ``(status, no timeout) -> details`` of the calls seen: an application gets the same few
#: statuses, and these are only read (the recorder adds them into counts of its own).
_DETAILS: dict[tuple[int | None, bool], dict[str, int]] = {}


def _details(status: int | None, no_timeout: bool) -> dict[str, int]:
    """A call's ``details``: its status class (``error`` when it failed), and ``no_timeout``."""
    found = _DETAILS.get((status, no_timeout))
    if found is None:
        found = {f"{status // 100}xx" if status else "error": 1}
        if no_timeout:
            found["no_timeout"] = 1
        if len(_DETAILS) < 1024:
            _DETAILS[(status, no_timeout)] = found
    return found


def report_call(
    flow: _flow.Flow,
    t0: int,
    method: str,
    scheme: str,
    host: str,
    port: int | None,
    path: str,
    status: int | None,
    timeout_set: bool | None,
    ours: int = 2,
) -> None:
    """Note one outbound call that began at ``t0`` (``status`` ``None``: it failed); never raises.

    ``ours``: the frames of the integration from this one up to the client library's own (this
    function and the wrapper that called it: 2; the issuer search starts above them).
    """
    recorder = _flow._recorder
    if recorder is None:
        return
    try:
        shaped = call_shape(method, scheme, host, port, path, recorder.redactor.redact_text)
    except Exception:  # never the host's problem (the call itself was made): counted
        recorder.internal_error("flow.http")
        return
    note_call(flow, t0, shaped, status, timeout_set, ours + 1)


def note_call(
    flow: _flow.Flow, t0: int, shaped: tuple[str, str], status: int | None, timeout_set: bool | None, ours: int = 2
) -> None:
    """As :func:`report_call`, for a call whose statement and fingerprint (``shaped``, from
    :func:`call_shape`) the integration has already; never raises."""
    recorder = _flow._recorder
    if recorder is None:
        return
    try:
        ns = now() - t0
        error = status is None or status >= 500
        recorder.note(flow, SYSTEM, shaped[0], shaped[1], ns, -1, error, _details(status, timeout_set is False), ours)
    except Exception:  # never the host's problem (the call itself was made): counted
        recorder.internal_error("flow.http")
