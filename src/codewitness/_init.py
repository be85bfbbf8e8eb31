"""The public ``codewitness.init``: the runtime sensor plus the rules that ride on it.

It starts :func:`codewitness.sensor.init` with the functions named by ``[[invariants]]`` and
``[[review]]`` added to its selection, then binds those rules and exports per-interval invariant
counts with each batch. A rule that does not compile is logged and skipped here (a running
service is not taken down for it); ``codewitness run`` and ``codewitness invariants`` refuse it.
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
        rules, problems, review_rules, include = _configured_rules(kwargs)
        if include:
            options: dict[str, Any] = kwargs
            options["include"] = include
        sensor = start(*args, **kwargs)
        if sensor is None:
            return None
        try:
            for problem in problems:
                log.error("codewitness: invariant skipped: %s", problem)
            invariants.install(sensor, rules)
            review.install(sensor, review_rules)
            sensor.add_collector(invariants.drain_interval)
        except Exception:
            sensor.internal_error("init.rules")
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
