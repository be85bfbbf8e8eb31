"""The runtime sensor: function-level facts about AI-written code, inside the running service.

One line turns it on::

    import codewitness
    codewitness.init(service="shop")   # reads .codewitness/manifest.json and [tool.codewitness.sensor]

or none, with ``codewitness run -- python app.py``. Every call of every selected function (the
manifest's AI-written functions, widened or narrowed by ``include``/``exclude`` patterns) is
counted and timed; exceptions escaping them are captured with redacted arguments; once per
interval one batch leaves the process from a background thread, to the spool folder (default),
an HTTP endpoint and/or OpenTelemetry.

It never breaks the host: errors of its own are caught and counted, nothing the application
calls ever waits on export, queues are bounded and drops are counted.

Plug-ins (invariants, review sampling, your own) register with the sensor through a small
interface (:mod:`codewitness.sensor.plugins`): checks after calls, collectors of records once per
interval, and a reporter for events.

This package imports only the standard library and codewitness's leaf modules (``model``,
``semconv``, ``config``, ``errors``, ``facts``, ``_version``); ``tests/test_architecture.py``
holds it to that. Its parts: ``_process`` (init, shutdown), ``_lifecycle`` (the Sensor), ``_probe``
(one watched function), ``plugins``, ``_rewriting`` and ``_wrappers`` (3.11, and modules imported
after ``init()`` on 3.12+), ``_monitoring`` (3.12+), ``meter`` and ``_meter.c`` (the per-call
count), ``aggregate``, ``snapshot`` (safe repr and redaction), ``export``, ``flow`` (the request each
call ran in, with its queries and outbound calls) and ``integrations`` (one module per web
framework, database driver and HTTP client, patching only what the host imported), and ``_script``
with the ``sitecustomize`` of ``codewitness run`` (``codewitness/_bootstrap``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from codewitness.sensor._lifecycle import Sensor
    from codewitness.sensor._process import active, flush, init, shutdown
    from codewitness.sensor.export import Exporter
    from codewitness.sensor.plugins import Check, Plugin

__all__ = ["Check", "Exporter", "Plugin", "Sensor", "active", "flush", "init", "shutdown"]


def __getattr__(name: str) -> Any:
    """The parts load on first use: ``import codewitness.sensor.plugins`` costs only that module."""
    if name in ("active", "flush", "init", "shutdown"):
        from codewitness.sensor import _process

        return getattr(_process, name)
    if name == "Sensor":
        from codewitness.sensor._lifecycle import Sensor

        return Sensor
    if name == "Exporter":
        from codewitness.sensor.export import Exporter

        return Exporter
    if name in ("Check", "Plugin"):
        from codewitness.sensor import plugins

        return getattr(plugins, name)
    raise AttributeError(f"module 'codewitness.sensor' has no attribute {name!r}")
