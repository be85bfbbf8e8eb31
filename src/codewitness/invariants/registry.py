"""The rules registered in this process, their counters, and what a breach does.

Every rule -- from a decorator or from the configuration -- is registered here once per function
(:func:`register`) and counts its passes, breaches and errors in a :class:`RuleStats`. A breach
(:func:`breached`) is captured with its redacted inputs and output, reported through the current
:class:`~codewitness.sensor.plugins.Reporter` (the running sensor, once the invariants plug-in is
set up on it; nothing otherwise), kept among the rule's recent breaches, and then acted on by the
rule's mode: ``record`` stops there, ``warn`` also logs a warning, ``raise`` raises
:class:`~codewitness.errors.InvariantViolation`. :func:`drain_interval` turns the counts since its
last call into ``invariant`` records, once per interval.

Threading: checks run on the calling thread and take no lock (a signal handler that calls a
guarded function while its thread is inside a check must not wait for itself); the registry
takes one reentrant lock, never on the path of a call, and a forked child gets a fresh one.
"""

from __future__ import annotations

import collections
import logging
import os
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from codewitness.errors import InvariantViolation
from codewitness.facts import Kind
from codewitness.sensor.plugins import NO_REPORTER, Reporter

__all__ = [
    "MODES",
    "Mismatch",
    "Mode",
    "Rule",
    "RuleKind",
    "RuleStats",
    "breached",
    "default_mode",
    "drain_interval",
    "guards",
    "judge",
    "register",
    "report_through",
    "rules",
    "set_default_mode",
    "stats",
]

log = logging.getLogger("codewitness.invariants")

Mode = Literal["record", "warn", "raise"]
MODES: tuple[Mode, ...] = ("record", "warn", "raise")
RuleKind = Literal["ensure", "require", "returns"]

_RECENT = 100  # breaches kept in-process per rule when no sensor exports them
_default_mode: Mode = "record"


def default_mode() -> Mode:
    """The mode of every rule that does not name its own."""
    return _default_mode


def set_default_mode(mode: Mode) -> None:
    """The mode of every rule that does not name its own (the pytest plugin sets ``raise``)."""
    global _default_mode
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}")
    _default_mode = mode


@dataclass(frozen=True)
class Rule:
    """One invariant bound to one function.

    Attributes:
        name: the rule's name (given, or derived from the function and the check).
        function: ``module.qualname`` of the function it guards.
        kind: ``ensure`` (after the call), ``require`` (before) or ``returns`` (result type).
        text: the expression, the predicate's source, or the expected type's name.
        mode: its own mode, or ``None`` for the process default.
        source: ``decorator`` or ``config``.
    """

    name: str
    function: str
    kind: RuleKind
    text: str
    mode: Mode | None = None
    source: Literal["decorator", "config"] = "decorator"

    @property
    def effective_mode(self) -> Mode:
        """The mode in force now."""
        return self.mode or _default_mode


@dataclass
class RuleStats:
    """Counters of one rule since the process started.

    ``counts`` is ``[passed, breached, errors]``. Checks bump one item with no lock: on a GIL build
    of CPython ``counts[i] += 1`` on a list is not interrupted by a thread switch, and a check must
    never wait on another thread.
    """

    rule: Rule
    counts: list[int] = field(default_factory=lambda: [0, 0, 0])
    drained: list[int] = field(default_factory=lambda: [0, 0, 0])  # counts at the last interval export
    recent: collections.deque[dict[str, Any]] = field(default_factory=lambda: collections.deque(maxlen=_RECENT))

    @property
    def passed(self) -> int:
        return self.counts[0]

    @property
    def breached(self) -> int:
        return self.counts[1]

    @property
    def errors(self) -> int:
        return self.counts[2]


# Guards the registry (rules are added at import and bind time, read at export). Reentrant: a
# signal handler may bind a rule (import a module) while its thread holds it.
_lock = threading.RLock()
_stats: dict[tuple[str, str], RuleStats] = {}


def _reset_lock_in_child() -> None:
    global _lock
    _lock = threading.RLock()  # the parent's exporter thread may have held it at the fork


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_lock_in_child)


def register(rule: Rule) -> RuleStats:
    """The counters of ``rule`` (made on first use; a rule of the same name and function but
    different content replaces the old one)."""
    with _lock:
        key = (rule.function, rule.name)
        existing = _stats.get(key)
        if existing is None or existing.rule != rule:
            existing = _stats[key] = RuleStats(rule)
        return existing


def rules() -> list[Rule]:
    """Every rule registered in this process."""
    with _lock:
        return [s.rule for s in _stats.values()]


def guards(function: str) -> bool:
    """Whether a rule registered in this process guards ``function`` (``module.qualname``)."""
    with _lock:
        return any(key[0] == function for key in _stats)


def stats() -> list[RuleStats]:
    """Counters of every rule registered in this process."""
    with _lock:
        return list(_stats.values())


# -- reporting -----------------------------------------------------------------------------------

_reporter: Reporter = NO_REPORTER


def report_through(reporter: Reporter | None, *, instead_of: Reporter | None = None) -> None:
    """Report breaches through ``reporter`` from now on (``None``: through nothing).

    With ``instead_of``, only when that one is the current reporter (a sensor shutting down after
    another took its place leaves the new one alone).
    """
    global _reporter
    if instead_of is None or _reporter is instead_of:
        _reporter = reporter if reporter is not None else NO_REPORTER


# -- evaluation ----------------------------------------------------------------------------------


class Mismatch(Exception):
    """Raised by a predicate that found the result of the wrong shape; the message says how (a breach)."""


def judge(
    state: RuleStats, predicate: Callable[[Mapping[str, Any], Any], Any], named: Mapping[str, Any], result: Any
) -> str | None:
    """Run one check of ``state``'s rule: ``predicate(named, result)``.

    Returns:
        ``None`` when the rule held (counted as passed) or the predicate itself failed (counted
        as a rule error, never a breach); else the breach's detail (``""`` when there is none),
        for the caller to hand to :func:`breached` with the call's arguments.
    """
    try:
        outcome = predicate(named, result)
    except Mismatch as exc:
        return str(exc)
    except Exception as exc:
        state.counts[2] += 1
        log.debug("invariant %s on %s could not be evaluated: %r", state.rule.name, state.rule.function, exc)
        return None
    if outcome:
        state.counts[0] += 1
        return None
    return ""


def breached(
    state: RuleStats, arguments: Callable[[], Mapping[str, Any]], result: Any, detail: str | None = None
) -> None:
    """Count a breach, capture it (binding the arguments only now), report it and act on the mode
    (in ``raise`` mode, raise an ``InvariantViolation`` for the caller)."""
    state.counts[1] += 1
    rule = state.rule
    reporter = _reporter
    record = _breach_record(reporter, rule, arguments(), result, detail)
    try:
        sent = reporter.report_event(rule.function, record)
    except Exception:
        reporter.internal_error("invariants.report")
        sent = record
    state.recent.append(sent)  # a bounded deque: one step, no lock
    mode = rule.effective_mode
    message = _message(rule, sent)
    if mode == "warn":
        log.warning("%s", message)
    elif mode == "raise":
        raise InvariantViolation(message)


def _breach_record(
    reporter: Reporter, rule: Rule, arguments: Mapping[str, Any], result: Any, detail: str | None
) -> dict[str, Any]:
    """A :class:`~codewitness.facts.BreachRecord` but for the source and origin fields (the sensor adds them)."""
    redactor = reporter.redactor
    return {
        "kind": Kind.BREACH,
        "id": uuid.uuid4().hex,
        "time": datetime.now(UTC).isoformat(),
        "rule": rule.name,
        "rule_kind": rule.kind,
        "expression": rule.text,
        "mode": rule.effective_mode,
        "function": rule.function,
        "arguments": redactor.snapshot_arguments(arguments),
        "result": redactor.snapshot(result) if rule.kind != "require" else None,
        "detail": redactor.text(detail, 2000) if detail else detail,
    }


def _message(rule: Rule, record: Mapping[str, Any]) -> str:
    shown = ", ".join(f"{k}={_short(v)}" for k, v in (record.get("arguments") or {}).items())
    text = f"invariant {rule.name!r} broken by {rule.function}({shown}): {rule.kind} {rule.text}"
    if rule.kind != "require":
        text += f"; result={_short(record.get('result'))}"
    if record.get("detail"):
        text += f"; {record['detail']}"
    origin = record.get("generation_ids")
    if origin:
        text += f"; written by {', '.join(origin)}"
    return text


def _short(value: Any) -> str:
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= 80 else text[:77] + "..."


def drain_interval() -> list[dict[str, Any]]:
    """Per-rule counts since the last call, as :class:`~codewitness.facts.InvariantRecord` but for the
    source fields (a collector: the sensor calls it once per interval and adds them)."""
    now = datetime.now(UTC).isoformat()
    records = []
    with _lock:
        states = list(_stats.values())
    for state in states:
        now_counts = list(state.counts)
        passed, broke, errors = (a - b for a, b in zip(now_counts, state.drained, strict=True))
        if passed or broke or errors:
            records.append(
                {
                    "kind": Kind.INVARIANT,
                    "id": uuid.uuid4().hex,
                    "time": now,
                    "function": state.rule.function,
                    "rule": state.rule.name,
                    "rule_kind": state.rule.kind,
                    "expression": state.rule.text,
                    "source": state.rule.source,
                    "passed": passed,
                    "breached": broke,
                    "errors": errors,
                }
            )
            state.drained = now_counts
    return records
