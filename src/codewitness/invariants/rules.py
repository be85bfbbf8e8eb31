"""Invariants in configuration, for code you did not write (no code change; the sensor applies them)::

    [[tool.codewitness.invariants]]
    function = "shop.pricing:total"      # module:qualname, or a glob on module.qualname
    ensure = "result >= 0"               # a safe expression over the parameters and ``result``
    mode = "warn"

:func:`compile_config_rules` checks every entry once (the expression through the sandbox of
:mod:`codewitness.invariants._expr`); :func:`make_check` binds a compiled rule to one function the
sensor watches, and the invariants plug-in (:class:`codewitness.invariants.InvariantsPlugin`)
hands the sensor one such factory per rule.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from codewitness.errors import ConfigError
from codewitness.invariants._expr import SafeExpression, compile_expression
from codewitness.invariants.registry import MODES, Rule, RuleKind, breached, judge, register

if TYPE_CHECKING:
    from codewitness.config import InvariantRule
    from codewitness.sensor.plugins import Check

__all__ = ["ConfigRule", "compile_config_rules", "function_pattern", "make_check"]

log = logging.getLogger("codewitness.invariants")


@dataclass(frozen=True)
class ConfigRule:
    """A checked configuration rule, ready to bind to the functions its pattern names."""

    rule: Rule
    pattern: str
    expression: SafeExpression


def function_pattern(text: str) -> str:
    """``shop.pricing:total`` -> ``shop.pricing.total``; globs pass through."""
    return text.replace(":", ".")


def compile_config_rules(entries: Iterable[InvariantRule]) -> tuple[list[ConfigRule], list[str]]:
    """Check every ``[[invariants]]`` entry of the configuration.

    Returns:
        The rules that compiled, and one one-line message per entry that did not (bad expression,
        both or neither of ensure/require, unknown mode). ``codewitness run`` and ``codewitness
        invariants`` refuse to start on any message; ``init()`` and the sensor log them and go on
        without those rules. Never raises: whatever an entry holds, it is a message, not an error.
    """
    good: list[ConfigRule] = []
    problems: list[str] = []
    for index, entry in enumerate(entries):
        where = f"invariants[{index}]"
        try:
            where = f"invariants[{index}] ({str(entry.function)[:80] or '?'})"
            rule, problem = _compile_entry(entry)
        except Exception as exc:  # a rule is never worth an exception in the host
            rule, problem = None, f"cannot be compiled ({type(exc).__name__})"
        if rule is None:
            problems.append(f"{where}: {' '.join(str(problem).split())}")
        else:
            good.append(rule)
    return good, problems


def _compile_entry(entry: InvariantRule) -> tuple[ConfigRule | None, str]:
    if not entry.function:
        return None, "'function' is required"
    if bool(entry.ensure) == bool(entry.require):
        return None, "give exactly one of 'ensure' or 'require'"
    if entry.mode and entry.mode not in MODES:
        return None, f"mode must be one of {', '.join(MODES)}"
    kind: RuleKind = "ensure" if entry.ensure else "require"
    text = entry.ensure or entry.require
    try:
        expression = compile_expression(text)
    except ConfigError as exc:
        return None, str(exc)
    if kind == "require" and "result" in expression.names:
        return None, "a 'require' rule runs before the call and cannot use 'result'"
    pattern = function_pattern(entry.function)
    rule = Rule(
        name=entry.name or f"{pattern}:{kind}",
        function=pattern,
        kind=kind,
        text=text,
        mode=entry.mode or None,
        source="config",
    )
    return ConfigRule(rule=rule, pattern=pattern, expression=expression), ""


def make_check(config_rule: ConfigRule, function: str, parameters: tuple[str, ...] | None) -> Check | None:
    """The check of ``config_rule`` on ``function`` (a check factory's answer), or ``None`` to skip it.

    A rule whose expression names something that is neither a parameter of the function nor
    ``result`` is not bound to that function; the mismatch is logged once and counted as a rule error.
    """
    base = config_rule.rule
    rule = Rule(base.name, function, base.kind, base.text, base.mode, "config")
    state = register(rule)
    if parameters is not None:
        unknown = config_rule.expression.names - set(parameters) - {"result"}
        if unknown:
            log.warning(
                "invariant %s does not apply to %s: it has no parameter %s",
                rule.name,
                function,
                ", ".join(sorted(unknown)),
            )
            state.counts[2] += 1
            return None
    expression = config_rule.expression
    with_result = base.kind == "ensure"

    def holds(scope: Mapping[str, Any], _result: Any) -> bool:
        return expression.holds(scope)  # its truth too is checked: never the host's __bool__

    def check(arguments: Mapping[str, Any], result: Any) -> None:
        scope = dict(arguments)
        if with_result:
            scope["result"] = result
        detail = judge(state, holds, scope, result)
        if detail is not None:
            breached(state, lambda: arguments, result, detail or None)

    return check
