"""Tokens and cost of generations: per generation, and summed per commit, model and prompt.

Tokens come from the ledger (Claude Code transcripts at commit time, ``codewitness record
--input-tokens/--output-tokens``, API pipelines). Prices come from ``[[metrics.prices]]`` in the
configuration -- US dollars per million input and output tokens, matched on the model string (a
glob; the first entry that matches wins) -- and nothing is looked up on the network. A generation
without tokens, or whose model has no price, is counted as such, never priced at zero.

Example:
    >>> price_of("claude-sonnet-4-5-20250929", (Price("claude-sonnet-4-5*", 3.0, 15.0),)).output
    15.0
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from codewitness.config import Price
from codewitness.model import Generation

__all__ = ["CostLine", "CostReport", "cost_of", "cost_report", "price_of"]


def price_of(model: str, prices: Sequence[Price]) -> Price | None:
    """The first price whose ``model`` glob matches ``model`` (case-sensitive), or ``None``."""
    return next((p for p in prices if fnmatchcase(model, p.model)), None)


def cost_of(generation: Generation, prices: Sequence[Price]) -> float | None:
    """The generation's cost in US dollars; ``None`` without tokens or without a price for its model."""
    if generation.input_tokens is None and generation.output_tokens is None:
        return None
    price = price_of(generation.model, prices)
    if price is None:
        return None
    return ((generation.input_tokens or 0) * price.input + (generation.output_tokens or 0) * price.output) / 1e6


@dataclass
class CostLine:
    """Tokens and cost summed over the generations of one commit, model or prompt."""

    key: str
    generations: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0
    unpriced: int = 0

    def add(self, generation: Generation, cost: float | None) -> None:
        """Count one generation that reported tokens."""
        self.generations += 1
        self.input_tokens += generation.input_tokens or 0
        self.output_tokens += generation.output_tokens or 0
        if cost is None:
            self.unpriced += 1
        else:
            self.cost += cost

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "key": self.key,
            "generations": self.generations,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cost_usd": round(self.cost, 6),
            "unpriced": self.unpriced,
        }


@dataclass
class CostReport:
    """Tokens and cost of a window's generations.

    Attributes:
        total: over every generation with tokens.
        by_commit / by_model / by_prompt: the same, per commit (generations it carries), model and prompt.
        without_tokens: generations that reported no tokens.
        unpriced_models: models with tokens but no ``[[metrics.prices]]`` entry.
    """

    total: CostLine = field(default_factory=lambda: CostLine("total"))
    by_commit: dict[str, CostLine] = field(default_factory=dict)
    by_model: dict[str, CostLine] = field(default_factory=dict)
    by_prompt: dict[str, CostLine] = field(default_factory=dict)
    without_tokens: int = 0
    unpriced_models: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (the ``cost`` of ``metrics --json``)."""
        return {
            "total": self.total.to_dict(),
            "by_commit": [line.to_dict() for line in self.by_commit.values()],
            "by_model": [line.to_dict() for line in self.by_model.values()],
            "by_prompt": [line.to_dict() for line in self.by_prompt.values()],
            "without_tokens": self.without_tokens,
            "unpriced_models": self.unpriced_models,
        }


def cost_report(
    generations: Iterable[Generation], prices: Sequence[Price], commits: Mapping[str, Sequence[str]]
) -> CostReport:
    """Sum tokens and cost over ``generations``.

    Args:
        generations: the window's generations.
        prices: ``metrics.prices``.
        commits: generation id -> the commits that carry its lines (a generation counts once per commit).
    """
    report = CostReport()
    unpriced: dict[str, None] = {}
    for g in sorted(generations, key=lambda g: (g.created_at, g.id)):
        if g.input_tokens is None and g.output_tokens is None:
            report.without_tokens += 1
            continue
        cost = cost_of(g, prices)
        if cost is None:
            unpriced[g.model] = None
        prompt = f"{g.prompt_name}@{g.prompt_version}" if g.prompt_name else f"sha256:{g.prompt_hash[:12]}"
        report.total.add(g, cost)
        for table, key in ((report.by_model, g.model), (report.by_prompt, prompt)):
            table.setdefault(key, CostLine(key)).add(g, cost)
        for commit in dict.fromkeys(commits.get(g.id, ())):
            report.by_commit.setdefault(commit, CostLine(commit)).add(g, cost)
    for table in (report.by_model, report.by_prompt):
        ordered = sorted(table.values(), key=lambda line: (-line.cost, -line.output_tokens, line.key))
        table.clear()
        table.update((line.key, line) for line in ordered)
    report.unpriced_models = list(unpriced)
    return report
