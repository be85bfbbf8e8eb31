"""Invariants: every rule with its pass and breach counts, declared ones beside configured ones.

Rules the sensor reported are counted from the store; a configured ``[[invariants]]`` rule no
call has reached yet is listed too, with zero counts, so the table shows every rule in force.

Example:
    >>> table = invariant_table(store, [r.rule for r in configured])  # doctest: +SKIP
    >>> [(r["rule"], r["breached"]) for r in table.rows]  # doctest: +SKIP
    [('refund_never_exceeds_payment', 1)]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol, TypedDict, cast

if TYPE_CHECKING:
    from codewitness.store import Store

__all__ = ["DeclaredRule", "InvariantRow", "InvariantTable", "invariant_table"]


class DeclaredRule(Protocol):
    """What the table needs of a configured rule (:class:`codewitness.invariants.Rule` has it)."""

    @property
    def function(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def kind(self) -> str: ...

    @property
    def text(self) -> str: ...


class InvariantRow(TypedDict):
    """One rule of one function (an item of ``invariants --json``)."""

    function: str
    rule: str
    kind: str
    expression: str
    source: str
    passed: int
    breached: int
    errors: int
    last_breach: str | None


@dataclass(frozen=True)
class InvariantTable:
    """Every rule, most breached first, then the configured rules no call has reached.

    Attributes:
        rows: the rules.
        reported: ``(function, rule)`` pairs the sensor has reported; the others have had no calls yet.
    """

    rows: tuple[InvariantRow, ...]
    reported: frozenset[tuple[str, str]]

    def has_calls(self, row: InvariantRow) -> bool:
        """Whether the sensor has reported this rule at all."""
        return (row["function"], row["rule"]) in self.reported


def invariant_table(
    store: Store, configured: Sequence[DeclaredRule] = (), *, since: datetime | None = None
) -> InvariantTable:
    """The counts stored for each rule, and the configured rules not counted yet.

    Args:
        store: an open store.
        configured: the configuration's compiled rules.
        since: only counts since then.
    """
    from codewitness.store.invariants import rule_counts

    counted = cast(list[InvariantRow], rule_counts(store, since=since))
    rows = list(counted)
    for rule in configured:
        if not any(r["rule"] == rule.name for r in counted):
            rows.append(
                {
                    "function": rule.function,
                    "rule": rule.name,
                    "kind": rule.kind,
                    "expression": rule.text,
                    "source": "config",
                    "passed": 0,
                    "breached": 0,
                    "errors": 0,
                    "last_breach": None,
                }
            )
    return InvariantTable(rows=tuple(rows), reported=frozenset((r["function"], r["rule"]) for r in counted))
