"""The public ``codewitness.init``: the runtime sensor plus the rules that ride on it.

It starts :func:`codewitness.sensor.init` with the functions named by ``[[invariants]]`` and
``[[review]]`` added to its selection, then binds those rules and exports per-interval invariant
counts with each batch. A rule that does not compile is logged and skipped here (a running
service is not taken down for it); ``codewitness run`` and ``codewitness invariants`` refuse it.

``init()`` never raises into the service: anything that goes wrong in our own code while it
starts (the configuration, the rules, a plug-in, an exporter) is logged and left out, and the
service carries on, with the sensor where it could start and without it where it could not.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, ParamSpec

from codewitness import invariants, review
from codewitness.sensor import Sensor
from codewitness.sensor import init as _sensor_init

__all__ = ["init"]

log = logging.getLogger("codewitness")

P = ParamSpec("P")


def _with_rules(start: Callable[P, Sensor | None]) -> Callable[P, Sensor | None]:
    @functools.wraps(start)
    def init(*args: P.args, **kwargs: P.kwargs) -> Sensor | None:
        try:
            rules, problems, review_rules, include = _configured_rules(kwargs)
        except Exception as exc:  # e.g. a rule too deep to compile: no rules, still a sensor
            log.error(
                "codewitness: configured invariants and review rules not applied: %s: %s", type(exc).__name__, exc
            )
            rules, problems, review_rules, include = [], [], (), ()
        if include:
            options: dict[str, Any] = kwargs
            options["include"] = include
        try:
            sensor = start(*args, **kwargs)
        except Exception as exc:  # the sensor's own guard missed something; still never raise
            log.warning("codewitness: the runtime sensor did not start: %s: %s", type(exc).__name__, exc)
            return None
        if sensor is None:
            return None
        for problem in problems:
            log.error("codewitness: invariant skipped: %s", problem)
        for what, install in (
            ("invariants", lambda: invariants.install(sensor, rules)),
            ("review", lambda: review.install(sensor, review_rules)),
            ("invariants.counts", lambda: sensor.add_collector(invariants.drain_interval)),
        ):
            try:
                install()
            except Exception as exc:  # one plug-in's failure costs only that plug-in
                log.error("codewitness: %s not applied: %s: %s", what, type(exc).__name__, exc)
                sensor.internal_error(f"init.{what}")
        return sensor

    return init


def _configured_rules(
    kwargs: dict[str, Any],
) -> tuple[list[invariants.ConfigRule], list[str], tuple[Any, ...], tuple[str, ...]]:
    """The configured rules, and the sensor's include patterns widened to cover their functions."""
    if kwargs.get("settings") is not None:
        return [], [], (), ()
    try:
        from codewitness.config import load_config

        config = load_config().config
    except Exception as exc:  # the sensor reports configuration errors itself
        log.debug("codewitness: no rules from configuration: %s", exc)
        return [], [], (), ()
    rules, problems = invariants.compile_config_rules(config.invariants)
    base = kwargs.get("include")
    include = tuple(base) if base is not None else tuple(config.sensor.include)
    wanted = [r.pattern for r in rules] + [rr.function.replace(":", ".") for rr in config.review if rr.function]
    widened = tuple(dict.fromkeys((*include, *wanted)))
    return rules, problems, config.review, widened if wanted else ()


init = _with_rules(_sensor_init)
