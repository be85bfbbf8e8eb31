"""The invariants plug-in of the runtime sensor.

``codewitness.init()`` sets it up on the sensor it starts, with the configuration's compiled
rules: each ``[[invariants]]`` rule becomes a check on the functions its pattern names, every
rule's counts leave once per interval (``invariant`` records), and breaches -- of configured
rules and of decorators alike -- are reported through the sensor, with the origin of the function
that broke the rule. When the sensor shuts down, breaches are kept in-process only again.

Example:
    >>> rules, problems = compile_config_rules(config.invariants)  # doctest: +SKIP
    >>> sensor = codewitness.sensor.init(service="shop", plugins=[InvariantsPlugin(rules)])  # doctest: +SKIP
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import TYPE_CHECKING

from codewitness.invariants.registry import drain_interval, guards, report_through
from codewitness.invariants.rules import ConfigRule, make_check

if TYPE_CHECKING:
    from codewitness.sensor.plugins import Host

__all__ = ["InvariantsPlugin"]


class InvariantsPlugin:
    """Binds configuration rules to the sensor's functions and reports every breach through it.

    Args:
        rules: compiled configuration rules (:func:`~codewitness.invariants.compile_config_rules`).
    """

    name = "invariants"

    def __init__(self, rules: Iterable[ConfigRule] = ()) -> None:
        self.rules = tuple(rules)

    def setup(self, host: Host) -> None:
        """Check factories for the rules, the interval counts collector, the rules' functions kept
        watched, breaches through ``host``."""
        for rule in self.rules:
            host.add_check_factory(rule.pattern, functools.partial(make_check, rule))
        host.add_collector(drain_interval)
        host.add_keeper(guards)  # a function with a business rule stays watched, however cheap
        report_through(host)

    def teardown(self, host: Host) -> None:
        """Breaches are no longer reported through ``host`` (unless another sensor took over)."""
        report_through(None, instead_of=host)
