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

from codewitness.checks.attribution import Attribution
from codewitness.checks.context import CheckContext, SourceFile
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


#: Families whose work is per file and can be split across processes.
_PER_FILE = frozenset({"apis", "security"})

_Item = tuple[str, str, frozenset[int] | None]


def _file_work(
    items: list[_Item], families: tuple[str, ...]
) -> tuple[dict[str, list[Finding]], dict[str, list[tuple[str, int]] | None]]:
    """Per-file rules over ``items`` (path, rel, changed lines): findings per family, and each file's imports.

    Runs in a worker process (so it takes and returns plain, picklable values) or in this one.
    """
    from codewitness.checks.apis import ModuleIndex, check_file
    from codewitness.checks.context import SourceFile
    from codewitness.checks.security import ast_findings, secret_findings

    files = [SourceFile(Path(path), rel, changed) for path, rel, changed in items]
    found: dict[str, list[Finding]] = {family: [] for family in families}
    imports: dict[str, list[tuple[str, int]] | None] = {}
    index = ModuleIndex()
    for f in files:
        imports[f.rel] = f.imports
        if f.tree is None:
            continue
        if "apis" in families:
            found["apis"].extend(check_file(f, index))
        if "security" in families:
            found["security"].extend(ast_findings(f))
    if "security" in families:
        found["security"].extend(secret_findings(f for f in files if f.tree is not None))
    return found, imports


def _in_two_processes(
    ctx: CheckContext, sources: list[SourceFile], families: tuple[str, ...]
) -> dict[str, list[Finding]]:
    """Run the per-file families with half of the files (by size) in a worker process, half here."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    from codewitness.checks.security import ruff_findings, start_ruff

    ordered_sources = sorted(sources, key=lambda f: f.path.stat().st_size if f.path.exists() else 0, reverse=True)
    halves: tuple[list[_Item], list[_Item]] = ([], [])
    weights = [0, 0]
    for f in ordered_sources:
        side = 0 if weights[0] <= weights[1] else 1
        halves[side].append((str(f.path), f.rel, f.changed))
        weights[side] += f.path.stat().st_size if f.path.exists() else 0
    proc = start_ruff(sources) if "security" in families else None
    # spawn, not fork: forking a process that runs threads (tests, hosts) may deadlock.
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        remote = pool.submit(_file_work, halves[1], families)
        local_found, local_imports = _file_work(halves[0], families)
        try:
            remote_found, remote_imports = remote.result()
        except BrokenProcessPool:
            remote_found, remote_imports = _file_work(halves[1], families)  # the worker died: do its half here
    by_rel = {f.rel: f for f in sources}
    for rel, imports in {**local_imports, **remote_imports}.items():
        by_rel[rel].__dict__["imports"] = imports  # deps reads these instead of parsing again
    done = {family: local_found[family] + remote_found[family] for family in families}
    if proc is not None:
        done["security"].extend(ruff_findings(proc, sources))
    return done


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
    """
    if ctx.attribution is None and (ctx.root / ".git").exists():
        ctx.attribution = Attribution(ctx.root)
    raw: list[Finding] = []
    seconds: dict[str, float] = {}
    done: dict[str, list[Finding]] = {}
    per_file = tuple(f for f in families if f in _PER_FILE)
    sources = list(ctx.python_sources())
    if per_file and (jobs == 2 or (jobs == 0 and _worth_a_second_process(len(sources), parallel_min_files))):
        started = time.perf_counter()
        done = _in_two_processes(ctx, sources, per_file)
        seconds["files (2 processes)"] = round(time.perf_counter() - started, 3)
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
