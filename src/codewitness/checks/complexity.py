"""Complexity drift (CW5xx): AI-written functions whose cognitive complexity grew against ``--base``.

Cognitive complexity comes from complexipy. A function counts when attribution says an agent
wrote one of its lines and it was changed since the base; its complexity at the base is read
from ``git show BASE:path``. Growth above ``check.complexity_growth`` (default 15%) is reported.
New functions have nothing to drift from and are not reported.

Example:
    >>> growth(10, 12)
    0.2
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from codewitness.checks.findings import Finding

if TYPE_CHECKING:
    from codewitness.checks.context import CheckContext, SourceFile

__all__ = ["function_complexity", "growth", "run"]

#: A function this simple may double without anyone noticing; below it growth is not reported.
_MIN_COMPLEXITY = 4


def growth(before: int, after: int) -> float:
    """Relative growth ``(after - before) / before`` (``after`` itself when ``before`` is 0)."""
    return float(after) if before == 0 else round((after - before) / before, 4)


def function_complexity(source: str) -> dict[str, tuple[int, int, int]]:
    """``name -> (complexity, first line, last line)`` for every function and method (``Class::method``).

    Source that does not parse yields nothing.
    """
    from codewitness.attribution.functions import cognitive_complexity  # here: a run without --base needs none

    return {f.name: (f.complexity, f.first, f.last) for f in cognitive_complexity(source)}


def _ai_function(ctx: CheckContext, f: SourceFile, first: int, last: int) -> bool:
    if ctx.attribution is None:
        return False
    ctx.attribution.prefetch((f.rel, line) for line in range(first, last + 1))
    return any(ctx.attribution.ai_authored(f.rel, line) for line in range(first, last + 1))


def run(ctx: CheckContext) -> list[Finding]:
    """Report AI-written functions whose complexity grew beyond the threshold since ``ctx.base``."""
    if not ctx.base or ctx.attribution is None:
        return []
    from codewitness._git import blob_text

    threshold = ctx.settings.complexity_growth
    findings: list[Finding] = []
    for f in ctx.python_sources():  # complexipy parses by itself; invalid files yield no functions
        changed = f.changed
        now = function_complexity(f.text)
        touched = {
            name: span
            for name, span in now.items()
            if changed is None or any(line in changed for line in range(span[1], span[2] + 1))
        }
        if not touched:
            continue
        old_source = blob_text(ctx.root, ctx.base, f.rel)
        before = function_complexity(old_source) if old_source else {}
        for name, (after, first, last) in touched.items():
            if name not in before or after < _MIN_COMPLEXITY:
                continue
            was = before[name][0]
            grew = growth(was, after)
            if grew > threshold and _ai_function(ctx, f, first, last):
                findings.append(
                    Finding(
                        "CW501",
                        f.rel,
                        first,
                        f"AI-written {name.replace('::', '.')}() went from cognitive complexity "
                        f"{was} to {after} "
                        f"(+{grew:.0%}, allowed {threshold:.0%})",
                        ai_authored=True,
                        snippet=f.line_text(first),
                        properties={"function": name, "before": was, "after": after, "growth": grew},
                    )
                )
    return findings
