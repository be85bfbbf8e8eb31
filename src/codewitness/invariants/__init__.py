"""Runtime invariants: what must always hold for a function, checked on every call.

AI-written code fails with 200 OK. An invariant states the business rule the code must keep,
and every breach is captured with the inputs that caused it, the output, and (when the runtime
sensor runs) the generation, prompt and model that wrote the function.

In code (:mod:`~codewitness.invariants.decorators`)::

    import codewitness

    @codewitness.ensure(lambda result, items: result >= 0, name="total_not_negative")
    @codewitness.require(lambda items: len(items) > 0)
    def total(items): ...

Or in configuration (:mod:`~codewitness.invariants.rules`), for code you did not write::

    [[tool.codewitness.invariants]]
    function = "shop.pricing:total"
    ensure = "result >= 0"               # a safe expression (the sandbox: ``_expr``)
    mode = "warn"

Modes: ``record`` (the default: count and capture), ``warn`` (also log a warning) and ``raise``
(raise :class:`~codewitness.errors.InvariantViolation` -- for tests and staging; the pytest plugin
turns it on). Rules and their counters live in :mod:`~codewitness.invariants.registry`; the
sensor applies configured rules and sends breaches through the :class:`InvariantsPlugin`.
"""

from __future__ import annotations

from codewitness.invariants.decorators import ensure, require, returns
from codewitness.invariants.plugin import InvariantsPlugin
from codewitness.invariants.registry import (
    MODES,
    Mode,
    Rule,
    RuleStats,
    default_mode,
    drain_interval,
    rules,
    set_default_mode,
    stats,
)
from codewitness.invariants.rules import ConfigRule, compile_config_rules, function_pattern

__all__ = [
    "MODES",
    "ConfigRule",
    "InvariantsPlugin",
    "Mode",
    "Rule",
    "RuleStats",
    "compile_config_rules",
    "default_mode",
    "drain_interval",
    "ensure",
    "function_pattern",
    "require",
    "returns",
    "rules",
    "set_default_mode",
    "stats",
]
