"""Blast radius: which entry points reach a function, and how much of it tests cover.

Read from the attribution report (:func:`codewitness.attribution.report.build_report`) of the
repository's Python files at one revision: its static call graph gives the entry points (web
routes, CLI commands, ``main``) that reach each function, and a coverage.py data file, when the
project has one, the share of its statements tests ran. Results are cached with the attribution,
so a second question costs a few milliseconds per file.

Example:
    >>> reach(Path("."), ["shop.pricing.total"])["shop.pricing.total"].entry_points  # doctest: +SKIP
    ('shop.api.checkout',)
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

if TYPE_CHECKING:
    from codewitness.attribution.cache import AttributionCache

__all__ = ["Reach", "ReachJson", "origin_label", "reach"]


def origin_label(ai_share: float) -> str:
    """``ai``, ``mixed`` or ``human`` for a function's AI share (the sensor's manifest uses the same rule)."""
    return "ai" if ai_share >= 0.999 else ("mixed" if ai_share > 0 else "human")


class ReachJson(TypedDict):
    """A function's blast radius."""

    entry_points: list[str]
    entry_kind: str | None
    coverage: float | None
    complexity: int | None


@dataclass(frozen=True)
class Reach:
    """How far a function's failure reaches.

    Attributes:
        entry_points: entry points that reach it (itself first when it is one).
        entry_kind: ``route``, ``cli`` or ``main`` when it is an entry point itself.
        coverage: the share of its statements tests ran (``None``: no coverage data).
        complexity: its cognitive complexity, when known.
    """

    entry_points: tuple[str, ...]
    entry_kind: str | None
    coverage: float | None
    complexity: int | None

    def to_dict(self) -> ReachJson:
        """The JSON form."""
        return {
            "entry_points": list(self.entry_points),
            "entry_kind": self.entry_kind,
            "coverage": None if self.coverage is None else round(self.coverage, 4),
            "complexity": self.complexity,
        }


#: Reach of every function, per (repository, commit, coverage data): the call graph of a revision does
#: not change, so a long-lived reader (the MCP server) builds it once per revision.
_MEMO: dict[tuple[str, str, int | None], dict[str, Reach]] = {}
_MEMO_SIZE = 4


_FULL_ID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


def _coverage_stamp(top: Path) -> int | None:
    """When the repository's coverage data last changed (``None``: there is none): part of the memo's key."""
    try:
        return (top / ".coverage").stat().st_mtime_ns
    except OSError:
        return None


def reach(
    root: Path, qualnames: Iterable[str], *, rev: str = "HEAD", cache: AttributionCache | None = None
) -> dict[str, Reach]:
    """The blast radius of each of ``qualnames`` found among the repository's functions at ``rev``.

    Raises:
        GitError: not a repository, or no commits.
        NotFoundError: ``rev`` is not a commit.
    """
    from codewitness._git import repo_root, resolve
    from codewitness.attribution.report import build_report
    from codewitness.errors import NotFoundError

    wanted = set(qualnames)
    if not wanted:
        return {}
    every = None
    if _FULL_ID.fullmatch(rev):
        # A commit id an earlier answer resolved (function_brief passes its context's): asked of
        # the repository's top, the memo answers without asking git for the top or the commit.
        every = _MEMO.get((str(root), rev, _coverage_stamp(root)))
        if every is not None:
            return {name: every[name] for name in wanted if name in every}
    top = repo_root(root)
    commit = resolve(top, rev)
    if commit is None:
        raise NotFoundError(f"{rev} is not a commit in {top}")
    key = (str(top), commit, _coverage_stamp(top))
    every = _MEMO.get(key)
    if every is None:
        report = build_report(top, commit, cache=cache, python_only=True)
        every = {
            f.ref.qualname: Reach(
                entry_points=f.reached_from,
                entry_kind=f.entry_kind,
                coverage=f.coverage,
                complexity=f.complexity,
            )
            for f in report.functions
        }
        while len(_MEMO) >= _MEMO_SIZE:
            _MEMO.pop(next(iter(_MEMO)))
        _MEMO[key] = every
    return {name: every[name] for name in wanted if name in every}
