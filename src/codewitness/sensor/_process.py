"""The process's one sensor: :func:`init` from the configuration, :func:`shutdown`, :func:`flush`, :func:`active`.

:func:`init` reads the ``sensor`` section of the configuration (arguments override it), loads
the manifest, picks the backend (``sys.monitoring`` and rewriting on 3.12+, rewriting and wrappers
on 3.11) and the exporters, sets up the plug-ins it is given, and starts the
:class:`~codewitness.sensor._lifecycle.Sensor`. It never raises: what goes wrong is logged on the
``codewitness.sensor`` logger and the application carries on, uninstrumented if need be.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypedDict, Unpack

from codewitness.config import SensorSection, load_config
from codewitness.model import Manifest
from codewitness.sensor._lifecycle import Backend, Sensor
from codewitness.sensor._select import select_targets
from codewitness.sensor.export import HttpExporter, OtelExporter, Spool
from codewitness.sensor.meter import COMPILED, NEWEST_TESTED, STALE_BUILD, PyMeter, untested_python
from codewitness.sensor.snapshot import Redactor

if TYPE_CHECKING:
    from codewitness.sensor.export import Exporter
    from codewitness.sensor.plugins import Plugin

__all__ = ["BackendName", "Options", "active", "flush", "init", "shutdown"]

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


def flush() -> int:
    """Export what the running sensor collected so far now; the number of records (0 when none runs)."""
    sensor = _active
    return sensor.flush() if sensor is not None else 0


class Options(TypedDict, total=False):
    """The sensor's options, besides the service, manifest and plug-ins. Each overrides the
    ``sensor`` section of the project's configuration (``[tool.codewitness.sensor]``,
    ``codewitness.toml``, ``CODEWITNESS_SENSOR_*``); left out or ``None``: the configuration's.
    """

    #: Glob patterns on ``module.qualname`` that add functions (e.g. ``"shop.*"``).
    include: Sequence[str] | None
    #: Glob patterns that remove functions.
    exclude: Sequence[str] | None
    #: Seconds per aggregation interval.
    interval: float | None
    #: The spool folder; ``""`` turns the spool off.
    spool_dir: str | os.PathLike[str] | None
    #: An HTTP(S) URL to POST batches to; ``""`` turns HTTP off.
    endpoint: str | None
    #: Bearer token for ``endpoint``; default: ``CODEWITNESS_TOKEN``.
    token: str | None
    #: Also export through OpenTelemetry (needs the ``otel`` extra).
    otel: bool | None
    #: Share of calls offered for an input/output sample (one kept per input shape and interval).
    sample_rate: float | None
    #: The code revision; default: the manifest's.
    revision: str | None
    #: Further exporters (objects with ``export``, ``close``, ``after_fork``, ``health``).
    exporters: Sequence[Exporter]
    #: ``auto`` (the default; 3.12+: rewriting at import, else ``sys.monitoring``; 3.11:
    #: ``wrapping``), ``monitoring`` (3.12+: code objects only) or ``wrapping`` (rewriting, else
    #: names swapped for wrappers).
    backend: BackendName
    #: A complete sensor section to use instead of reading the configuration.
    settings: SensorSection | None


def init(
    service: str | None = None,
    manifest: str | os.PathLike[str] | Manifest | None = None,
    *,
    plugins: Sequence[Plugin] = (),
    **options: Unpack[Options],
) -> Sensor | None:
    """Start the runtime sensor in this process (replacing one already running).

    Args:
        service: the service name in every record; default: config, else the script's name.
        manifest: path of the manifest (or a :class:`~codewitness.model.Manifest`); a missing
            file means only ``include`` patterns select functions.
        plugins: plug-ins to set up before anything is watched (:mod:`codewitness.sensor.plugins`);
            one whose setup fails is left out. :func:`codewitness.init` passes invariants and
            review sampling. The flow plug-in (:mod:`codewitness.sensor.flow`: each request's
            route, queries and outbound calls) comes first, unless ``sensor.integrations`` is empty.
        **options: the sensor's options (:class:`Options`).

    Returns:
        The running sensor, or ``None`` when it could not start (the reason is logged on the
        ``codewitness.sensor`` logger; the application carries on uninstrumented). It never
        raises for what goes wrong in starting: an exporter that cannot be made is logged and
        left out, the others run.

    Raises:
        TypeError: an option it does not know (a mistake in the calling code, as with any call).
    """
    unknown = sorted(set(options) - set(Options.__annotations__))
    if unknown:
        raise TypeError(f"init() got an unexpected keyword argument {unknown[0]!r}")
    try:
        return _start(service, manifest, plugins, options)
    except Exception as exc:  # whatever went wrong is ours, never the host's
        log.warning("codewitness: the runtime sensor did not start: %s: %s", type(exc).__name__, exc)
        return None


def _start(
    service: str | None,
    manifest: str | os.PathLike[str] | Manifest | None,
    plugins: Sequence[Plugin],
    options: Options,
) -> Sensor | None:
    global _active
    shutdown()
    problems: list[str] = []
    try:
        settings = options.get("settings")
        if settings is not None:
            cfg, root = settings, Path.cwd()
        else:
            # Relative paths of the configuration start at the project root, not the working folder.
            loaded = load_config()
            cfg, root = loaded.config.sensor, loaded.root
        loaded_manifest = _load_manifest(manifest if manifest is not None else root / cfg.manifest)
        selection = select_targets(
            loaded_manifest,
            include=tuple(_given(options.get("include"), cfg.include)),
            exclude=tuple(_given(options.get("exclude"), cfg.exclude)),
        )
        redactor = Redactor(
            cfg.redact_names,
            cfg.redact_patterns,
            max_chars=cfg.max_value_chars,
            capture_reprs=cfg.capture_reprs,
            request_parts=cfg.request_parts,
            time_budget_ms=cfg.capture_time_ms,
            max_bytes=cfg.capture_max_bytes,
        )
        stop = threading.Event()
        chosen_exporters = _exporters(
            cfg,
            options,
            stop=stop,
            problems=problems,
            repository=loaded_manifest.repository if loaded_manifest else None,
            root=root,
        )
        chosen_exporters.extend(options.get("exporters", ()))
        sensor = Sensor(
            selection=selection,
            backend_factory=_backend_factory(options.get("backend", "auto")),
            exporters=chosen_exporters,
            service=service or cfg.service or _script_name(),
            revision=_given(options.get("revision"), loaded_manifest.revision if loaded_manifest else None),
            interval=_given(options.get("interval"), cfg.interval),
            redactor=redactor,
            queue_size=cfg.queue_size,
            exceptions_per_interval=cfg.exceptions_per_interval,
            distinct_exceptions_per_interval=cfg.distinct_exceptions_per_interval,
            exception_bytes_per_interval=cfg.exception_bytes_per_interval,
            sample_rate=_given(options.get("sample_rate"), cfg.sample_rate),
            samples_per_interval=cfg.samples_per_interval,
            sample_max_bytes=cfg.sample_max_bytes,
            stop=stop,
            speedups=cfg.speedups,
            flush_on_sigterm=cfg.flush_on_sigterm,
            untested_speedups=cfg.untested_speedups,
            unwatch_cheap_calls=cfg.unwatch_cheap_calls if cfg.unwatch_cheap_ns else 0,
            unwatch_cheap_ns=cfg.unwatch_cheap_ns,
            keep=cfg.keep,
        )
    except Exception as exc:
        log.warning("codewitness: the runtime sensor did not start: %s", exc)
        return None
    if not selection.by_name and not selection.include and not os.environ.get("CODEWITNESS_RUN_SAID_WATCHED"):
        # Nothing can be selected: say so once, with what to do (on stderr when the program
        # configured no logging). ``codewitness run`` has said it already, before the program started.
        if loaded_manifest is not None:
            found = "the manifest lists no function to watch"
        else:
            found = f"no manifest at {manifest if manifest is not None else cfg.manifest}"
        log.warning(
            "codewitness: the sensor watches nothing (%s, and no include patterns): run `codewitness manifest"
            " build`, or select functions with --include 'myapp.*' (sensor.include)",
            found,
        )
    if STALE_BUILD is not None and cfg.speedups:
        # A compiled meter is there but was built from other sources: say why it is left unused.
        log.warning(
            "codewitness: the compiled meter is left unused (%s): the sensor counts calls with its pure-Python"
            " meter; build it again from these sources (pip install --force-reinstall, or pip install -e . in"
            " a checkout)",
            STALE_BUILD,
        )
    if COMPILED and cfg.speedups and sensor.meter_type is PyMeter and (version := untested_python()):
        # The compiled meter was built and wanted, and is held back: say so, once per init().
        log.warning(
            "codewitness: Python %s is newer than the versions the sensor is tested on (up to %s): it counts"
            " calls with its pure-Python meter (set sensor.untested_speedups = true for the compiled one)",
            version,
            ".".join(map(str, NEWEST_TESTED)),
        )
    for problem in problems:  # no exception of ours is being handled here (the host may be handling one)
        sensor.count_error(problem)
    if cfg.integrations:
        # Flows first, so that every other plug-in's events carry the request they happened in.
        from codewitness.sensor.flow import FlowPlugin

        plugins = [FlowPlugin(cfg.integrations, max_statements=cfg.flow_statements), *plugins]
    for plugin in plugins:
        sensor.add_plugin(plugin)
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
    options: Options,
    *,
    stop: threading.Event,
    problems: list[str],
    root: Path,
    repository: str | None = None,
) -> list[Exporter]:
    """The configured exporters; one that cannot be made is logged, named in ``problems`` and left out.

    ``repository`` (the manifest's origin URL) names the code's repository in OpenTelemetry attributes.
    """
    chosen: list[Exporter] = []
    spool_dir, endpoint = options.get("spool_dir"), options.get("endpoint")
    folder = (str(root / cfg.spool_dir) if cfg.spool_dir else "") if spool_dir is None else os.fspath(spool_dir)
    url = cfg.endpoint if endpoint is None else endpoint
    token = options.get("token") or os.environ.get("CODEWITNESS_TOKEN")
    makers: list[tuple[str, Callable[[], Exporter]]] = []
    if folder:
        makers.append(
            ("Spool", lambda: Spool(folder, max_bytes=cfg.spool_max_bytes, segment_bytes=cfg.spool_segment_bytes))
        )
    if url:
        makers.append(("HttpExporter", lambda: HttpExporter(url, token=token, stop=stop)))
    if _given(options.get("otel"), cfg.otel):
        makers.append(("OtelExporter", lambda: OtelExporter(repository=repository)))
    for name, make in makers:
        try:
            chosen.append(make())
        except Exception as exc:  # one exporter's problem must not cost the others
            log.warning("codewitness: sensor exporter %s left out: %s", name, exc)
            problems.append(f"exporter.{name}")
    return chosen


def _given(value: Any, default: Any) -> Any:
    """An option's value unless it is ``None``, then the configuration's."""
    return default if value is None else value


def _backend_factory(name: BackendName) -> Any:
    def make(sensor: Sensor) -> Backend:
        from codewitness.sensor._wrappers import WrappingBackend

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
