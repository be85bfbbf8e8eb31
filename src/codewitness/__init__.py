"""codewitness: observability for AI-generated code.

The public Python API is what ``__all__`` lists; everything else is private and may change.

Example:
    >>> import codewitness
    >>> sensor = codewitness.init(service="shop")  # doctest: +SKIP
    >>> gid = codewitness.record_generation(  # doctest: +SKIP
    ...     model="claude-sonnet-4-5", prompt="Write total()", output="def total(): ...",
    ...     params={"temperature": 0.2}, prompt_name="pricing", files=["shop/pricing.py:1-12"],
    ... )
    >>> codewitness.flush()  # doctest: +SKIP
    >>> codewitness.shutdown()  # doctest: +SKIP
"""

from __future__ import annotations

from codewitness._version import __version__

# Agent hooks import this package on every file edit: keep `import codewitness` free of
# `typing` and friends (mypy treats a module-level TYPE_CHECKING constant like typing's).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import os
    from collections.abc import Sequence
    from typing import Any, Unpack

    from codewitness.capture.api import record_generation
    from codewitness.config import SensorSection
    from codewitness.errors import InvariantViolation
    from codewitness.invariants import ensure, require, returns
    from codewitness.model import Manifest
    from codewitness.sensor import Sensor
    from codewitness.sensor._process import Options
    from codewitness.sensor.plugins import Plugin

__all__ = [
    "InvariantViolation",
    "Sensor",
    "__version__",
    "ensure",
    "flush",
    "init",
    "record_generation",
    "require",
    "returns",
    "shutdown",
]


def init(
    service: str | None = None,
    manifest: str | os.PathLike[str] | Manifest | None = None,
    *,
    plugins: Sequence[Plugin] = (),
    **options: Unpack[Options],
) -> Sensor | None:
    """Start the runtime sensor in this process, with the project's invariants and review sampling.

    The sensor (:func:`codewitness.sensor.init`, whose arguments and options these are) gets two
    plug-ins: the invariants (the ``[[invariants]]`` rules of the configuration, and every breach
    of a decorator reported with the function's origin) and review sampling (the ``[[review]]``
    rules), then ``plugins``. The functions those rules name are added to the sensor's ``include``
    patterns. With the ``settings`` option, no rules are read from the configuration.

    A rule that does not compile is logged and skipped (a running service is not taken down for
    it; ``codewitness run`` and ``codewitness invariants`` refuse it instead).

    Returns:
        The running :class:`Sensor`, or ``None`` when it could not start. It never raises for
        what goes wrong in our own code (the configuration, a rule, a plug-in, an exporter): that
        is logged and left out, and the application carries on.
    """
    import logging

    from codewitness.behavior.review import ReviewPlugin
    from codewitness.invariants import InvariantsPlugin
    from codewitness.sensor import init as start

    log = logging.getLogger("codewitness")
    try:
        rules, problems, review_rules, widened = _configured_rules(options.get("include"), options.get("settings"))
    except Exception as exc:  # e.g. a rule too deep to compile: no rules, still a sensor
        log.error("codewitness: configured invariants and review rules not applied: %s: %s", type(exc).__name__, exc)
        rules, problems, review_rules, widened = [], [], (), None
    if widened is not None:
        options["include"] = widened
    try:
        riding: list[Plugin] = [InvariantsPlugin(rules), ReviewPlugin(review_rules), *plugins]
        sensor = start(service, manifest, plugins=riding, **options)
    except TypeError:
        raise  # an option init() does not take: the calling code's mistake
    except Exception as exc:  # the sensor's own guard missed something; still never raise
        log.warning("codewitness: the runtime sensor did not start: %s: %s", type(exc).__name__, exc)
        return None
    if sensor is not None:
        for problem in problems:
            log.error("codewitness: invariant skipped: %s", problem)
    return sensor


def _configured_rules(
    include: Sequence[str] | None, settings: SensorSection | None
) -> tuple[list[Any], list[str], tuple[Any, ...], tuple[str, ...] | None]:
    """The configured invariant and review rules, and the sensor's include patterns widened to
    cover their functions (``None``: as given)."""
    if settings is not None:
        return [], [], (), None
    import logging

    from codewitness.invariants import compile_config_rules

    try:
        from codewitness.config import load_config

        config = load_config().config
    except Exception as exc:  # the sensor reports configuration errors itself
        logging.getLogger("codewitness").debug("codewitness: no rules from configuration: %s", exc)
        return [], [], (), None
    rules, problems = compile_config_rules(config.invariants)
    base = tuple(include) if include is not None else tuple(config.sensor.include)
    wanted = [r.pattern for r in rules] + [rr.function.replace(":", ".") for rr in config.review if rr.function]
    widened = tuple(dict.fromkeys((*base, *wanted)))
    return rules, problems, config.review, widened if wanted else None


def shutdown() -> None:
    """Stop the runtime sensor: put watched functions back, export the last batch, close exporters.

    Also runs at exit, and on SIGTERM when the program has no handler of its own. Safe to call
    when no sensor runs.
    """
    from codewitness.sensor import shutdown as stop

    stop()


def flush() -> int:
    """Export what the runtime sensor collected so far now, without waiting for the interval.

    Returns:
        How many records left (0 when no sensor runs or nothing happened).
    """
    from codewitness.sensor import flush as export_now

    return export_now()


def __getattr__(name: str) -> object:
    """The runtime parts of the public API load on first use, not at ``import codewitness``."""
    if name in ("ensure", "require", "returns"):
        from codewitness import invariants

        return getattr(invariants, name)
    if name == "record_generation":
        from codewitness.capture.api import record_generation

        return record_generation
    if name == "Sensor":
        from codewitness.sensor import Sensor

        return Sensor
    if name == "InvariantViolation":
        from codewitness.errors import InvariantViolation

        return InvariantViolation
    raise AttributeError(f"module 'codewitness' has no attribute {name!r}")
