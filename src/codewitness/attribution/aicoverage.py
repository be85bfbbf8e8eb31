"""Test coverage of AI-written lines beside human lines: coverage.py data joined with attribution.

A project's overall coverage can hide that the code an agent wrote is barely tested. This module
takes, per file, the executable statements and the executed ones (as coverage.py measured them on
the working tree) and the origin of each line at a revision (``HEAD`` by default), and counts
statements and covered statements per origin: ``ai``, ``human``, ``mixed`` (AI lines a person
edited), ``unknown`` (no evidence) and ``uncommitted``.

Attribution is of a commit, coverage is of the files on disk. A file that differs from the
commit is aligned with it line by line (a diff); a statement on a line that is not in the commit
(added or changed since) counts as ``uncommitted``, never as AI or human. A measured file the
commit does not hold at all is wholly ``uncommitted``.

Example:
    >>> result = measure(Path("."), {"app.py": ({1, 2, 3}, {1, 2})}, source="pytest-cov")  # doctest: +SKIP
    >>> result.total["ai"].statements, result.total["ai"].covered  # doctest: +SKIP
    (3, 2)
    >>> print("\\n".join(result.table()))  # doctest: +SKIP
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codewitness.attribution.blame import Attributor

__all__ = ["CATEGORIES", "SCHEMA", "AICoverage", "FileCoverage", "Tally", "map_lines", "measure"]

#: Identifies the JSON document :meth:`AICoverage.to_dict` returns.
SCHEMA = "codewitness-ai-coverage/1"
#: The categories a statement is counted in.
CATEGORIES: tuple[str, ...] = ("ai", "human", "mixed", "unknown", "uncommitted")


@dataclass
class Tally:
    """Statements of one category and how many of them ran."""

    statements: int = 0
    covered: int = 0

    @property
    def percent(self) -> float | None:
        """Covered share in percent, or ``None`` when there are no statements."""
        return None if not self.statements else 100.0 * self.covered / self.statements

    def add(self, other: Tally) -> None:
        """Fold ``other`` into this one."""
        self.statements += other.statements
        self.covered += other.covered

    def to_dict(self) -> dict[str, Any]:
        pct = self.percent
        return {
            "statements": self.statements,
            "covered": self.covered,
            "percent": None if pct is None else round(pct, 2),
        }


def _tallies() -> dict[str, Tally]:
    return {c: Tally() for c in CATEGORIES}


@dataclass
class FileCoverage:
    """The per-origin counts of one file."""

    path: str
    tallies: dict[str, Tally] = field(default_factory=_tallies)

    @property
    def has_ai(self) -> bool:
        """True when the file has AI-written or mixed statements."""
        return bool(self.tallies["ai"].statements or self.tallies["mixed"].statements)


@dataclass
class AICoverage:
    """The result of :func:`measure`: per-file counts, totals, and what was left out."""

    revision: str
    source: str
    files: list[FileCoverage] = field(default_factory=list)
    total: dict[str, Tally] = field(default_factory=_tallies)
    outside: int = 0  # measured files outside the repository (site-packages, ...), not counted
    skipped: dict[str, str] = field(default_factory=dict)  # path -> why it was not counted

    def to_dict(self) -> dict[str, Any]:
        """The JSON document written by ``--codewitness-json`` (schema :data:`SCHEMA`)."""
        return {
            "schema": SCHEMA,
            "revision": self.revision,
            "source": self.source,
            "unit": "statements",
            "files": [{"path": f.path, **{c: t.to_dict() for c, t in f.tallies.items()}} for f in self.files],
            "total": {c: t.to_dict() for c, t in self.total.items()},
            "outside_repository": self.outside,
            "skipped": dict(self.skipped),
        }

    def table(self, *, all_files: bool = False) -> list[str]:
        """The table as text lines: files with AI or mixed statements (all with ``all_files``), then TOTAL."""
        shown = [f for f in self.files if all_files or f.has_ai]
        header = ("file", "AI lines", "AI cov", "human lines", "human cov", "mixed", "mixed cov")
        rows = [_row(f.path, f.tallies) for f in shown]
        rows.append(_row("TOTAL", self.total))
        widths = [max(len(header[i]), *(len(r[i]) for r in rows)) for i in range(len(header))]

        def fmt(cells: tuple[str, ...]) -> str:
            first = cells[0].ljust(widths[0])
            return "  ".join([first, *(c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True))])

        rule = "-" * len(fmt(header))
        lines = [fmt(header), rule, *(fmt(r) for r in rows[:-1]), rule, fmt(rows[-1])]
        hidden = len(self.files) - len(shown)
        if hidden:
            lines.append(f"({hidden} measured file(s) without AI-written statements not listed)")
        for category, label in (("uncommitted", "changed since the commit"), ("unknown", "of unknown origin")):
            tally = self.total[category]
            if tally.statements:
                lines.append(f"{tally.statements} statement(s) {label}, {tally.covered} of them covered")
        if self.skipped:
            lines.append(f"{len(self.skipped)} measured file(s) skipped: " + _skip_summary(self.skipped))
        return lines


def _pct(tally: Tally) -> str:
    pct = tally.percent
    return "-" if pct is None else f"{pct:.1f}%"


def _row(name: str, tallies: Mapping[str, Tally]) -> tuple[str, ...]:
    ai, human, mixed = tallies["ai"], tallies["human"], tallies["mixed"]
    return (name, str(ai.statements), _pct(ai), str(human.statements), _pct(human), str(mixed.statements), _pct(mixed))


def _skip_summary(skipped: Mapping[str, str]) -> str:
    reasons: dict[str, int] = {}
    for why in skipped.values():
        reasons[why] = reasons.get(why, 0) + 1
    return ", ".join(f"{n} {why}" for why, n in sorted(reasons.items()))


def map_lines(old: list[str], new: list[str]) -> dict[int, int]:
    """Line numbers of ``new`` (1-based) that are unchanged from ``old``, mapped to their number there.

    Args:
        old: the lines of the committed file.
        new: the lines of the file on disk.

    Returns:
        ``{new_line: old_line}`` for every line the diff keeps; added or changed lines are absent.
    """
    if old == new:
        return {n: n for n in range(1, len(new) + 1)}
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    mapped: dict[int, int] = {}
    for block in matcher.get_matching_blocks():
        for k in range(block.size):
            mapped[block.b + k + 1] = block.a + k + 1
    return mapped


def _split(text: str) -> list[str]:
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def measure(
    root: Path,
    measured: Mapping[str, tuple[Collection[int], Collection[int]]],
    *,
    source: str,
    rev: str = "HEAD",
    attributor: Attributor | None = None,
) -> AICoverage:
    """Count statements and covered statements per origin.

    Args:
        root: any folder inside the repository.
        measured: file path (absolute, or relative to the current folder) -> (statements, executed
            statements), line numbers as on disk now.
        source: where the coverage data came from (shown in the report).
        rev: the revision whose attribution is used.
        attributor: an engine to reuse (it must be of ``rev``); one is made and closed otherwise.

    Returns:
        The per-file and total counts; files outside the repository are counted in ``outside`` only.

    Raises:
        GitError: not a git repository, or one without commits.
        NotFoundError: ``rev`` is not a commit.
    """
    engine = attributor or Attributor(root, rev)
    try:
        return _measure(engine, measured, source)
    finally:
        if attributor is None:
            engine.close()


def _measure(
    engine: Attributor, measured: Mapping[str, tuple[Collection[int], Collection[int]]], source: str
) -> AICoverage:
    result = AICoverage(revision=engine.commit, source=source)
    repo = engine.root.resolve()
    wanted: dict[str, tuple[Path, Collection[int], Collection[int]]] = {}
    for name, (statements, executed) in measured.items():
        absolute = Path(os.path.abspath(name)).resolve()
        try:
            rel = absolute.relative_to(repo).as_posix()
        except ValueError:
            result.outside += 1
            continue
        if rel.startswith(".git/"):
            result.outside += 1
            continue
        wanted[rel] = (absolute, statements, executed)
    entries = {e.path: e for e in engine.files(sorted(wanted)) if e.path in wanted} if wanted else {}
    attributed = {fa.path: fa for fa in engine.attribute([entries[p] for p in sorted(entries)])}
    for rel in sorted(wanted):
        absolute, statements, executed = wanted[rel]
        try:
            on_disk = _split(absolute.read_text(encoding="utf-8", errors="replace"))
        except OSError:
            result.skipped[rel] = "unreadable on disk"
            continue
        fa = attributed.get(rel)
        if fa is not None and fa.skipped:
            result.skipped[rel] = fa.skipped
            continue
        committed = [line.text for line in fa.lines] if fa is not None else []
        kinds = [line.origin.kind for line in fa.lines] if fa is not None else []
        mapping = map_lines(committed, on_disk)
        file_cov = FileCoverage(rel)
        ran = set(executed)
        for number in statements:
            old = mapping.get(number)
            category: str = "uncommitted" if old is None else kinds[old - 1]
            tally = file_cov.tallies[category]
            tally.statements += 1
            tally.covered += number in ran
        for category, tally in file_cov.tallies.items():
            result.total[category].add(tally)
        result.files.append(file_cov)
    return result
