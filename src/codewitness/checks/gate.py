"""The merge gate as one stage: configuration in, a :class:`GateRun` out.

:func:`run_gate` reads the project's ``[tool.codewitness.check]`` settings, builds the check
context (paths, ``--base``), wires the package index and the generation ledger in, runs the rule
families and, when asked, writes a baseline. It prints nothing: ``codewitness check`` and
``codewitness deps`` render the result (:mod:`codewitness.views.gate` assembles its JSON).

Example:
    >>> run = run_gate(None, families=("deps",), base=None, fail_on=None, baseline=None,
    ...                write_baseline=None, offline=True)  # doctest: +SKIP
    >>> run.failed, run.report.counts()  # doctest: +SKIP
    (True, {'high': 1})
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from codewitness.config import load_config
from codewitness.errors import CodewitnessError, UsageError

if TYPE_CHECKING:
    from codewitness.checks.context import CheckContext
    from codewitness.checks.index import IndexClient
    from codewitness.checks.runner import Report
    from codewitness.config import CheckSection
    from codewitness.model import Generation

__all__ = ["CONTENT_FAMILIES", "FAIL_LEVELS", "GateRun", "check_content", "index_client", "run_gate"]

#: The families that judge one file's text on its own (provenance and complexity need its history).
CONTENT_FAMILIES = ("deps", "apis", "security")

FAIL_LEVELS = ("info", "low", "medium", "high", "never")


@dataclass(frozen=True)
class GateRun:
    """One run of the gate.

    Attributes:
        report: the findings, the baselined ones, skipped files, timings.
        context: what the run looked at (``base``, package verdicts).
        threshold: the lowest severity that fails (``--fail-on`` or ``check.fail_on``).
        baseline_written: where the baseline went, when ``write_baseline`` was given.
    """

    report: Report
    context: CheckContext
    threshold: str
    baseline_written: Path | None = None

    @property
    def failed(self) -> bool:
        """Whether the gate fails: a finding at or above the threshold, and no baseline was written."""
        return self.report.failed(self.threshold) and self.baseline_written is None


def index_client(root: Path, settings: CheckSection, *, offline: bool, npm: bool) -> IndexClient:
    """The package index client configured for ``root`` (pip's and npm's own settings by default)."""
    from codewitness.checks.index import IndexCache, IndexClient, npm_registry_url, pip_index_url

    cache = IndexCache(root / ".codewitness" / "cache" / "package-index.json", settings.cache_hours)
    npm_url = (settings.npm_registry or npm_registry_url(root, cache=cache)) if npm else None
    return IndexClient(
        pypi_url=settings.index_url or pip_index_url(),
        npm_url=npm_url,
        cache=cache,
        offline=offline,
        timeout=settings.http_timeout,
    )


def run_gate(
    paths: list[Path] | None,
    *,
    families: tuple[str, ...],
    base: str | None,
    fail_on: str | None,
    baseline: Path | None,
    write_baseline: Path | None,
    offline: bool,
    ai_only: bool = False,
    jobs: int = 0,
    provenance_since: str | None = None,
) -> GateRun:
    """Run ``families`` over ``paths`` (default: the project) and, if asked, write a baseline.

    ``provenance_since`` overrides ``check.provenance_since`` for this run (the commits CW401 judges).

    Raises:
        UsageError: ``fail_on`` is not one of :data:`FAIL_LEVELS`.
        CodewitnessError: the configuration, git or a baseline file cannot be read.
    """
    from codewitness.checks.baseline import read_baseline
    from codewitness.checks.baseline import write_baseline as save_baseline
    from codewitness.checks.context import CheckContext
    from codewitness.checks.runner import run_checks

    loaded = load_config()
    settings = loaded.config.check
    if provenance_since:
        settings = dataclasses.replace(settings, provenance_since=provenance_since)
    threshold = fail_on or settings.fail_on
    if threshold not in FAIL_LEVELS:
        raise UsageError(f"--fail-on must be one of {', '.join(FAIL_LEVELS)}; got {threshold!r}")
    ctx = CheckContext.build(loaded.root, paths or [], base=base, settings=settings)
    if "deps" in families:
        ctx.index = index_client(
            loaded.root,
            settings,
            offline=offline,
            npm=any(f.path.name == "package.json" for f in ctx.manifests()),
        )
        ctx.generations = _recorded_generations(loaded.database_url, loaded.root, base, ctx)
    accepted = read_baseline(baseline) if baseline else frozenset()
    try:
        report = run_checks(
            ctx,
            families,
            baseline=accepted,
            ai_only=ai_only,
            jobs=jobs,
            result_cache=loaded.root / ".codewitness" / "cache" / "file-results.json",
            generations=_ledger_lookup(loaded.database_url, ctx),
        )
    finally:
        if ctx.index is not None and ctx.index.cache is not None:
            ctx.index.cache.save()
    if write_baseline:
        save_baseline(write_baseline, report.findings + report.baselined)
    return GateRun(report=report, context=ctx, threshold=threshold, baseline_written=write_baseline)


def _ledger_lookup(url: str, ctx: CheckContext) -> Callable[[Sequence[str]], dict[str, Generation]] | None:
    """Reads generations by id from the ledger, for the prompts behind findings on AI lines.

    ``None`` when there is no database (a check never creates one); one that cannot be read is
    noted as skipped, not fatal.
    """
    if url.startswith("sqlite:///") and not Path(url[len("sqlite:///") :]).is_file():
        return None

    def lookup(ids: Sequence[str]) -> dict[str, Generation]:
        from codewitness import ledger
        from codewitness.store import open_store

        try:
            store = open_store(url)
        except CodewitnessError as exc:
            ctx.skipped.append(("database", f"prompts of generations not read: {exc}"))
            return {}
        found: dict[str, Generation] = {}
        try:
            for gid in ids:
                try:
                    generation = ledger.get(store, gid)
                except CodewitnessError:
                    continue  # not recorded here (another clone's ledger, an imported note)
                if generation.id == gid:  # get() also answers a unique prefix; only the exact id counts
                    found[gid] = generation
        finally:
            store.close()
        return found

    return lookup


def _recorded_generations(url: str, root: Path, base: str | None, ctx: CheckContext) -> list[Generation]:
    """Generations recorded in the ledger (since the base commit's date), if a database exists.

    A check never creates a database; one that cannot be read is noted as skipped, not fatal.
    """
    if url.startswith("sqlite:///") and not Path(url[len("sqlite:///") :]).is_file():
        return []
    from datetime import datetime

    from codewitness import ledger
    from codewitness._git import run_git
    from codewitness.store import open_store

    since = None
    if base:
        stamp = run_git(["show", "-s", "--format=%cI", base], cwd=root, check=False).strip()
        since = datetime.fromisoformat(stamp) if stamp else None
    try:
        store = open_store(url)
    except CodewitnessError as exc:
        ctx.skipped.append(("database", f"recorded generations not read: {exc}"))
        return []
    try:
        return ledger.find(store, since=since)
    finally:
        store.close()


def check_content(
    root: Path,
    path: str,
    content: str,
    *,
    families: tuple[str, ...] = CONTENT_FAMILIES,
    offline: bool = False,
) -> GateRun:
    """The gate on text an agent proposes for ``path``, before it is written.

    The text is checked as the file it would become: imports against the project's own modules,
    the installed packages and the package index (cached; ``offline`` asks no index), names
    against the modules they come from, and the security rules. The file on disk is not read or
    changed; the text goes to a private temporary file for the linters. Findings are not
    attributed (the lines are not in the repository yet).

    Args:
        root: the project (its configuration, its own modules, the index cache).
        path: where the text would go, relative to ``root`` or absolute inside it.
        content: the proposed text.
        families: which of :data:`CONTENT_FAMILIES` to run.
        offline: ask no package index (cached verdicts only).

    Raises:
        InputError: ``path`` is outside ``root``, or a family is not one of :data:`CONTENT_FAMILIES`.
        CodewitnessError: the configuration cannot be read.
    """
    import tempfile

    from codewitness.checks.context import CheckContext, SourceFile
    from codewitness.checks.runner import run_checks
    from codewitness.errors import InputError

    unknown = [f for f in families if f not in CONTENT_FAMILIES]
    if unknown:
        raise InputError(f"{', '.join(unknown)}: proposed content is checked by {', '.join(CONTENT_FAMILIES)} only")
    loaded = load_config(root)
    project = loaded.root.resolve()
    target = Path(path)
    target = (target if target.is_absolute() else project / target).resolve()
    try:
        rel = target.relative_to(project).as_posix()
    except ValueError:
        raise InputError(f"{path} is outside the project at {project}") from None
    settings = loaded.config.check
    with tempfile.TemporaryDirectory(prefix="codewitness-check-") as folder:
        staged = Path(folder) / (target.name or "proposed.py")
        staged.write_text(content, encoding="utf-8")
        ctx = CheckContext(root=project, files=[SourceFile(staged, rel)], settings=settings)
        if "deps" in families:
            ctx.index = index_client(project, settings, offline=offline, npm=target.name == "package.json")
        try:
            report = run_checks(ctx, families, attribute=False)
        finally:
            if ctx.index is not None and ctx.index.cache is not None:
                ctx.index.cache.save()
    return GateRun(report=report, context=ctx, threshold=settings.fail_on)
