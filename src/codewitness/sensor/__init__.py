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

This package imports only the standard library and codewitness's leaf modules (``model``,
``semconv``, ``config``, ``errors``).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

from codewitness.config import SensorSection, load_config
from codewitness.model import Manifest
from codewitness.sensor._runtime import Backend, Check, Exporter, Sensor
from codewitness.sensor._select import select_targets
from codewitness.sensor.export import HttpExporter, OtelExporter, Spool
from codewitness.sensor.snapshot import Redactor

__all__ = ["Check", "Exporter", "Sensor", "active", "init", "shutdown"]

log = logging.getLogger("codewitness.sensor")

# Reentrant: a signal handler may call ``shutdown()`` while its thread is inside ``init()``.
_lock = threading.RLock()
_active: Sensor | None = None


def _reset_lock_in_child() -> None:
    global _lock
    _lock = threading.RLock()  # another thread of the parent may have held it at the fork


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_lock_in_child)

BackendName = Literal["auto", "monitoring", "wrapping"]


def active() -> Sensor | None:
    """The running sensor of this process, if any."""
    return _active


def shutdown() -> None:
    """Stop the running sensor: restore functions, flush the last batch, close exporters."""
    global _active
    with _lock:
        sensor, _active = _active, None
    if sensor is not None:
        sensor.shutdown()


def init(
    service: str | None = None,
    manifest: str | os.PathLike[str] | Manifest | None = None,
    *,
    include: Sequence[str] | None = None,
    exclude: Sequence[str] | None = None,
    interval: float | None = None,
    spool_dir: str | os.PathLike[str] | None = None,
    endpoint: str | None = None,
    token: str | None = None,
    otel: bool | None = None,
    sample_rate: float | None = None,
    revision: str | None = None,
    exporters: Sequence[Exporter] = (),
    backend: BackendName = "auto",
    settings: SensorSection | None = None,
) -> Sensor | None:
    """Start the runtime sensor in this process (replacing one already running).

    Arguments left ``None`` come from the ``sensor`` section of the project's configuration
    (``[tool.codewitness.sensor]``, ``codewitness.toml``, ``CODEWITNESS_SENSOR_*``).

    Args:
        service: the service name in every record; default: config, else the script's name.
        manifest: path of the manifest (or a :class:`~codewitness.model.Manifest`); a missing
            file means only ``include`` patterns select functions.
        include: glob patterns on ``module.qualname`` that add functions (e.g. ``"shop.*"``).
        exclude: glob patterns that remove functions.
        interval: seconds per aggregation interval.
        spool_dir: the spool folder; ``""`` turns the spool off.
        endpoint: an HTTP(S) URL to POST batches to; ``""`` turns HTTP off.
        token: bearer token for ``endpoint``; default: ``CODEWITNESS_TOKEN``.
        otel: also export through OpenTelemetry (needs the ``otel`` extra).
        sample_rate: share of calls offered to the input/output sample reservoir.
        revision: the code revision; default: the manifest's.
        exporters: further exporters (objects with ``export``, ``close``, ``after_fork``, ``health``).
        backend: ``auto`` (3.12+: ``sys.monitoring`` for modules loaded before ``init()``,
            import-time decoration for later ones; 3.11: ``wrapping``), ``monitoring`` (3.12+:
            code objects only) or ``wrapping`` (names swapped, later imports decorated).
        settings: a complete sensor section to use instead of reading the configuration.

    Returns:
        The running sensor, or ``None`` when it could not start (the reason is logged on the
        ``codewitness.sensor`` logger; the application carries on uninstrumented). It never
        raises: an exporter that cannot be made is logged and left out, the others run.
    """
    try:
        return _start(
            service, manifest, include, exclude, interval, spool_dir, endpoint, token, otel, sample_rate,
            revision, exporters, backend, settings,
        )  # fmt: skip
    except Exception as exc:  # whatever went wrong is ours, never the host's
        log.warning("codewitness: the runtime sensor did not start: %s: %s", type(exc).__name__, exc)
        return None


def _start(
    service: str | None,
    manifest: str | os.PathLike[str] | Manifest | None,
    include: Sequence[str] | None,
    exclude: Sequence[str] | None,
    interval: float | None,
    spool_dir: str | os.PathLike[str] | None,
    endpoint: str | None,
    token: str | None,
    otel: bool | None,
    sample_rate: float | None,
    revision: str | None,
    exporters: Sequence[Exporter],
    backend: BackendName,
    settings: SensorSection | None,
) -> Sensor | None:
    global _active
    shutdown()
    problems: list[str] = []
    try:
        cfg = settings if settings is not None else load_config().config.sensor
        loaded_manifest = _load_manifest(manifest if manifest is not None else cfg.manifest)
        selection = select_targets(
            loaded_manifest,
            include=tuple(include) if include is not None else cfg.include,
            exclude=tuple(exclude) if exclude is not None else cfg.exclude,
        )
        redactor = Redactor(
            cfg.redact_names,
            cfg.redact_patterns,
            max_chars=cfg.max_value_chars,
            capture_reprs=cfg.capture_reprs,
            request_parts=cfg.request_parts,
            time_budget_ms=cfg.capture_time_ms,
        )
        stop = threading.Event()
        chosen_exporters = _exporters(
            cfg,
            spool_dir=spool_dir,
            endpoint=endpoint,
            token=token,
            otel=otel,
            stop=stop,
            problems=problems,
            repository=loaded_manifest.repository if loaded_manifest else None,
        )
        chosen_exporters.extend(exporters)
        sensor = Sensor(
            selection=selection,
            backend_factory=_backend_factory(backend),
            exporters=chosen_exporters,
            service=service or cfg.service or _script_name(),
            revision=revision if revision is not None else (loaded_manifest.revision if loaded_manifest else None),
            interval=interval if interval is not None else cfg.interval,
            redactor=redactor,
            queue_size=cfg.queue_size,
            exceptions_per_interval=cfg.exceptions_per_interval,
            sample_rate=sample_rate if sample_rate is not None else cfg.sample_rate,
            samples_per_interval=cfg.samples_per_interval,
            stop=stop,
            speedups=cfg.speedups,
            flush_on_sigterm=cfg.flush_on_sigterm,
        )
    except Exception as exc:
        log.warning("codewitness: the runtime sensor did not start: %s", exc)
        return None
    for problem in problems:
        sensor.internal_error(problem)
    if not sensor.exporters:
        log.warning("codewitness: the sensor has nowhere to send its records (no spool folder, endpoint or exporter)")
    with _lock:
        _active = sensor
    try:
        sensor.activate()
    except Exception as exc:
        log.warning("codewitness: the runtime sensor did not start: %s: %s", type(exc).__name__, exc)
        with _lock:
            if _active is sensor:
                _active = None
        sensor.shutdown(timeout=1.0)  # puts back whatever it had already watched
        return None
    return sensor


def _load_manifest(source: str | os.PathLike[str] | Manifest) -> Manifest | None:
    if isinstance(source, Manifest):
        return source
    path = Path(source)
    if not path.is_file():
        log.info("codewitness: no manifest at %s; only include patterns select functions", path)
        return None
    try:
        return Manifest.from_json(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"manifest {path} cannot be read: {exc}") from None


def _exporters(
    cfg: SensorSection,
    *,
    spool_dir: str | os.PathLike[str] | None,
    endpoint: str | None,
    token: str | None,
    otel: bool | None,
    stop: threading.Event,
    problems: list[str],
    repository: str | None = None,
) -> list[Exporter]:
    """The configured exporters; one that cannot be made is logged, named in ``problems`` and left out."""
    chosen: list[Exporter] = []
    folder = cfg.spool_dir if spool_dir is None else os.fspath(spool_dir)
    url = cfg.endpoint if endpoint is None else endpoint
    makers: list[tuple[str, Callable[[], Exporter]]] = []
    if folder:
        makers.append(
            ("Spool", lambda: Spool(folder, max_bytes=cfg.spool_max_bytes, segment_bytes=cfg.spool_segment_bytes))
        )
    if url:
        makers.append(
            ("HttpExporter", lambda: HttpExporter(url, token=token or os.environ.get("CODEWITNESS_TOKEN"), stop=stop))
        )
    if cfg.otel if otel is None else otel:
        makers.append(("OtelExporter", lambda: OtelExporter(repository=repository)))
    for name, make in makers:
        try:
            chosen.append(make())
        except Exception as exc:  # one exporter's problem must not cost the others
            log.warning("codewitness: sensor exporter %s left out: %s", name, exc)
            problems.append(f"exporter.{name}")
    return chosen


def _backend_factory(name: BackendName) -> Any:
    def make(sensor: Sensor) -> Backend:
        from codewitness.sensor._wrapping import WrappingBackend

        if name != "wrapping" and sys.version_info >= (3, 12):
            from codewitness.sensor._monitoring import HybridBackend, MonitoringBackend

            try:
                return MonitoringBackend(sensor) if name == "monitoring" else HybridBackend(sensor)
            except RuntimeError:
                if name == "monitoring":
                    raise
                log.info("codewitness: no free sys.monitoring tool id; wrapping functions instead")
        elif name == "monitoring":
            raise RuntimeError("the monitoring backend needs Python 3.12 or newer")
        return WrappingBackend(sensor)

    return make


def _script_name() -> str:
    argv0 = sys.argv[0] if sys.argv and sys.argv[0] else ""
    return Path(argv0).stem or "python"
