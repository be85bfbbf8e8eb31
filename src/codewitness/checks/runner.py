"""Run the check families over a context and assemble one report.

Example:
    >>> ctx = CheckContext.build(Path("src"))  # doctest: +SKIP
    >>> report = run_checks(ctx, families=("apis",))  # doctest: +SKIP
    >>> report.failed("high")  # doctest: +SKIP
    False
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from codewitness.checks._perfile import PER_FILE, FileResultCache, per_file_findings
from codewitness.checks.attribution import Attribution
from codewitness.checks.context import CheckContext
from codewitness.checks.findings import Finding, ordered, with_fingerprints
from codewitness.checks.rules import rule, severity_at_least

__all__ = ["FAMILIES", "Report", "run_checks"]

#: The check families, in the order they run.
FAMILIES: tuple[str, ...] = ("deps", "apis", "security", "provenance", "complexity")


@dataclass
class Report:
    """The outcome of one check run.

    Attributes:
        findings: reported findings, AI-written lines first.
        baselined: findings the baseline file accepted (not reported).
        skipped: files that could not be checked, with the reason.
        families: the families that ran.
        seconds: wall time per family.
        files: how many files were in scope.
    """

    findings: list[Finding]
    baselined: list[Finding] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    families: tuple[str, ...] = ()
    seconds: dict[str, float] = field(default_factory=dict)
    files: int = 0

    def failed(self, fail_on: str) -> bool:
        """True when a finding is at or above ``fail_on`` (``never`` never fails)."""
        return fail_on != "never" and any(severity_at_least(f.level, fail_on) for f in self.findings)

    def counts(self) -> dict[str, int]:
        """Findings per severity."""
        out: dict[str, int] = {}
        for f in self.findings:
            out[f.level] = out.get(f.level, 0) + 1
        return out


_IGNORE = re.compile(r"#\s*codewitness:\s*ignore(?:\[(?P<ids>[A-Za-z0-9,\s]+)\])?")


def _worth_a_second_process(files: int, minimum: int) -> bool:
    cpus = os.cpu_count() or 1
    if files < minimum or cpus < 2:
        return False
    try:
        load = os.getloadavg()[0]
    except OSError:
        return True
    return load <= cpus - 1


def suppressed(finding: Finding) -> bool:
    """True when the finding's line carries ``# codewitness: ignore`` (all rules) or ``ignore[CW305,...]``."""
    match = _IGNORE.search(finding.snippet)
    if match is None:
        return False
    ids = match.group("ids")
    return ids is None or finding.rule_id in {part.strip().upper() for part in ids.split(",")}


def run_checks(
    ctx: CheckContext,
    families: Sequence[str] = FAMILIES,
    *,
    baseline: frozenset[str] = frozenset(),
    ai_only: bool = False,
    jobs: int = 0,
    parallel_min_files: int = 300,
    result_cache: Path | None = None,
) -> Report:
    """Run ``families`` over ``ctx``; mark AI-written lines; drop disabled rules and baselined findings.

    Args:
        ctx: files, scope and settings.
        families: which families to run.
        baseline: fingerprints of accepted findings.
        ai_only: report only findings on lines attribution says an agent wrote.
        jobs: 1 runs everything in this process; 2 runs the per-file rules (APIs, security) in two processes,
            each parsing half of the files (parsing dominates, and the GIL keeps threads from helping); 0 (auto)
            picks 2 when there are at least ``parallel_min_files`` Python files, two CPUs, and one of them idle
            (a busy machine gains nothing from a second process and pays for starting it).
        parallel_min_files: see ``jobs``.
        result_cache: a file keeping per-file results between runs (see :mod:`codewitness.checks._perfile`).
    """
    if ctx.attribution is None and (ctx.root / ".git").exists():
        ctx.attribution = Attribution(ctx.root)
    raw: list[Finding] = []
    seconds: dict[str, float] = {}
    done: dict[str, list[Finding]] = {}
    per_file = tuple(f for f in families if f in PER_FILE)
    if per_file:
        sources = list(ctx.python_sources())
        two = jobs == 2 or (jobs == 0 and _worth_a_second_process(len(sources), parallel_min_files))
        cache = FileResultCache(result_cache) if result_cache is not None else None
        started = time.perf_counter()
        done = per_file_findings(sources, per_file, two_processes=two, cache=cache)
        if cache is not None:
            cache.save()
        ctx.skipped.extend((f.rel, "not valid Python") for f in sources if f.imports is None)
        seconds["files (2 processes)" if two else "files"] = round(time.perf_counter() - started, 3)
    for family in families:
        started = time.perf_counter()
        if family in done:
            raw.extend(done[family])
        else:
            module = importlib.import_module(f"codewitness.checks.{family}")
            raw.extend(module.run(ctx))
        seconds[family] = round(time.perf_counter() - started, 3)
    disabled = set(ctx.settings.disable)
    kept = [f for f in raw if f.rule_id not in disabled and not suppressed(f)]
    for f in kept:
        rule(f.rule_id)  # every reported id must be in the one table
    if ctx.attribution is not None and ctx.attribution.usable:
        started = time.perf_counter()
        ctx.attribution.prefetch(f.path for f in kept if f.ai_authored is None)
        kept = [
            f
            if f.ai_authored is not None or f.path.startswith("/")
            else dataclasses.replace(f, ai_authored=ctx.attribution.ai_authored(f.path, f.line))
            for f in kept
        ]
        seconds["attribution"] = round(time.perf_counter() - started, 3)
    if ctx.attribution is not None:
        ctx.attribution.close()
    fingerprinted = with_fingerprints(sorted(kept, key=lambda f: (f.path, f.line, f.column or 0, f.rule_id)))
    reported = [f for f in fingerprinted if f.fingerprint not in baseline and (f.ai_authored or not ai_only)]
    accepted = [f for f in fingerprinted if f.fingerprint in baseline]
    return Report(
        findings=ordered(reported),
        baselined=accepted,
        skipped=sorted(set(ctx.skipped)),
        families=tuple(families),
        seconds=seconds,
        files=len(ctx.files),
    )


def relative(root: Path, path: Path) -> str:
    """``path`` relative to ``root`` with ``/`` separators (absolute when outside)."""
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        return path.resolve().as_posix()
