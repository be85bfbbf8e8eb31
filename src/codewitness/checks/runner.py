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
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from codewitness.checks._perfile import PER_FILE, FileResultCache, per_file_findings
from codewitness.checks.attribution import Attribution, GateCache
from codewitness.checks.context import CheckContext, matches_any, project_roots
from codewitness.checks.findings import Finding, GenerationRef, ordered, with_fingerprints
from codewitness.checks.rules import RULES, rule, severity_at_least
from codewitness.errors import ConfigError

if TYPE_CHECKING:
    from codewitness.model import Generation, Origin

__all__ = ["FAMILIES", "GenerationLookup", "Report", "run_checks"]

#: Looks generations up by id (the ledger); ids it does not know are left out of the answer.
GenerationLookup = Callable[[Sequence[str]], Mapping[str, "Generation"]]

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
        in_tests: findings in test code of rules ``check.skip_in_tests`` names (not reported).
        undecided: names the API check could not decide (a module too dynamic to read), per module.
    """

    findings: list[Finding]
    baselined: list[Finding] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    families: tuple[str, ...] = ()
    seconds: dict[str, float] = field(default_factory=dict)
    files: int = 0
    in_tests: int = 0
    undecided: dict[str, int] = field(default_factory=dict)

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


_NOQA = re.compile(r"#\s*noqa(?::\s*(?P<codes>[A-Z]+[0-9]+(?:[\s,]+[A-Z]+[0-9]+)*))?", re.IGNORECASE)
#: Our rules that replace ruff/flake8 rules: a line the project already silenced for those is silenced for ours.
_NOQA_EQUIVALENT = {"CW305": frozenset({"S110", "S112", "BLE001", "E722"}), "CW310": frozenset({"S608"})}


def suppressed(finding: Finding) -> bool:
    """True when the finding's line carries ``# codewitness: ignore`` (all rules) or ``ignore[CW305,...]``, or a
    ``# noqa`` for the ruff rule ours replaces (``# noqa: S608`` for CW310, ``S110``/``S112``/``BLE001`` for CW305)."""
    equivalent = _NOQA_EQUIVALENT.get(finding.rule_id)
    if equivalent is not None:
        noqa = _NOQA.search(finding.snippet)
        if noqa is not None:
            codes = noqa.group("codes")
            if codes is None or equivalent & {c.upper() for c in re.split(r"[\s,]+", codes) if c}:
                return True
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
    generations: GenerationLookup | None = None,
    attribute: bool = True,
) -> Report:
    """Run ``families`` over ``ctx``; mark AI-written lines; drop disabled rules and baselined findings.

    Each finding is given the function around its line and, on AI-written lines, the generations
    that wrote the flagged lines (model, agent; prompt name, version and digest from ``generations``).
    A finding of a rule in ``check.high_on_ai`` (CW307 by default) on an AI-written line is high.

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
        generations: looks recorded generations up by id, for their prompts (``None``: ids, models
            and agents from the attribution only).
        attribute: read who wrote each flagged line from the repository (off for content that is
            not in it yet: proposed text checked before an agent writes it).

    Raises:
        ConfigError: ``check.high_on_ai`` names a rule that does not exist.
    """
    known = {r.id for r in RULES}
    unknown = [r for r in ctx.settings.high_on_ai if r not in known]
    if unknown:
        raise ConfigError(f"check.high_on_ai: unknown rule id(s) {', '.join(unknown)}; see docs/checks.md for the ids")
    unknown = [r for r in ctx.settings.skip_in_tests if r not in known and not _RUFF_CODE.match(r)]
    if unknown:
        raise ConfigError(
            f"check.skip_in_tests: {', '.join(unknown)} is neither a rule id nor a ruff S code (S, S1, S105)"
        )
    if attribute and ctx.attribution is None and (ctx.root / ".git").exists():
        kept_between_runs = GateCache(result_cache.with_name("attribution.json")) if result_cache else None
        ctx.attribution = Attribution(ctx.root, kept_between_runs, parsed=ctx.parsed_tree)
    raw: list[Finding] = []
    seconds: dict[str, float] = {}
    done: dict[str, list[Finding]] = {}
    undecided: dict[str, int] = {}
    per_file = tuple(f for f in families if f in PER_FILE)
    ahead = _Background.start(_ask_ahead, ctx) if per_file and "deps" in families else _Background()
    if per_file:
        sources = list(ctx.python_sources())
        two = jobs == 2 or (jobs == 0 and _worth_a_second_process(len(sources), parallel_min_files))
        cache = FileResultCache(result_cache) if result_cache is not None else None
        started = time.perf_counter()
        try:
            outcome = per_file_findings(
                sources, per_file, two_processes=two, cache=cache, roots=project_roots(ctx.root)
            )
        except BaseException:
            ahead.join(quiet=True)  # nothing runs on behind the failure
            raise
        done, undecided = outcome.findings, outcome.undecided
        if cache is not None:
            cache.save()
        ctx.skipped.extend((f.rel, "not valid Python") for f in sources if f.imports is None)
        seconds["files (2 processes)" if two else "files"] = round(time.perf_counter() - started, 3)
    disabled = set(ctx.settings.disable)
    early = _Background()
    if per_file and outcome.computed:
        # Files were worked out again, so their blames are likely new too. A run whose results all came from the
        # cache finds its blames there as well: pure Python on both threads, which only take turns.
        early = _prefetch_early(ctx, [f for family in per_file for f in done.get(family, ())], disabled)
    try:
        for family in families:
            if family not in done and family != "deps":
                early.join()  # provenance and complexity ask the attribution themselves
            started = time.perf_counter()
            if family == "deps":
                ahead.join(quiet=True)  # the family's own questions, asked ahead: its time
            if family in done:
                raw.extend(done[family])
            else:
                module = importlib.import_module(f"codewitness.checks.{family}")
                raw.extend(module.run(ctx))
            seconds[family] = round(time.perf_counter() - started, 3)
    except BaseException:
        ahead.join(quiet=True)  # nothing runs on behind the failure
        early.join(quiet=True)
        raise
    early.join()
    kept = [f for f in raw if f.rule_id not in disabled and not suppressed(f)]
    in_tests = [f for f in kept if _skipped_in_tests(f, ctx.settings.test_paths, ctx.settings.skip_in_tests)]
    if in_tests:
        dropped = {id(f) for f in in_tests}
        kept = [f for f in kept if id(f) not in dropped]
    for f in kept:
        rule(f.rule_id)  # every reported id must be in the one table
    if ctx.attribution is not None and ctx.attribution.usable:
        started = time.perf_counter()
        ctx.attribution.prefetch((f.path, f.line) for f in kept if f.ai_authored is None)
        kept = [
            f
            if f.ai_authored is not None or f.path.startswith("/")
            else dataclasses.replace(f, ai_authored=ctx.attribution.ai_authored(f.path, f.line))
            for f in kept
        ]
        seconds["attribution"] = round(time.perf_counter() - started + early.waited, 3)
    if ctx.attribution is not None:
        started = time.perf_counter()
        kept = _name_code(kept, ctx.attribution, generations)
        seconds["code and generations"] = round(time.perf_counter() - started, 3)
        ctx.attribution.close()
    kept = _raise_on_ai(kept, frozenset(ctx.settings.high_on_ai))
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
        in_tests=len(in_tests),
        undecided=undecided,
    )


_RUFF_CODE = re.compile(r"^S\d{0,3}$")


class _Background:
    """One piece of the run's work on a thread of its own, waited for (and its error raised) in :meth:`join`."""

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        #: Seconds the run waited for it.
        self.waited = 0.0

    @classmethod
    def start(cls, work: Callable[..., object], *args: object) -> _Background:
        background = cls()

        def run() -> None:
            try:
                work(*args)
            except BaseException as exc:  # codewitness: ignore[CW305] - raised again in join()
                background._error = exc

        background._thread = threading.Thread(target=run, name=f"codewitness-{work.__name__}", daemon=True)
        background._thread.start()
        return background

    def join(self, *, quiet: bool = False) -> None:
        """Wait for the work; raise what it raised (``quiet``: drop it, for work that is only a head start)."""
        if self._thread is not None:
            started = time.perf_counter()
            self._thread.join()
            self.waited += time.perf_counter() - started
            self._thread = None
            if self._error is not None:
                error, self._error = self._error, None
                if not quiet:
                    raise error


def _ask_ahead(ctx: CheckContext) -> None:
    """The dependency family's questions to the package index, asked while the per-file families parse.

    The answers land in the index client's memory (and its cache), where the family finds them; a failure
    here costs only the head start: the family asks again and meets it itself.
    """
    from codewitness.checks.deps import ask_ahead

    ask_ahead(ctx)


def _prefetch_early(ctx: CheckContext, findings: Sequence[Finding], disabled: set[str]) -> _Background:
    """Who wrote the lines of the per-file findings, worked out in the background while the dependency family runs.

    Blaming is git's work, in processes of its own, and the dependency family is ours (parsing, the package
    index): on two cores one need not wait for the other. Only the lines the report will ask about are
    prefetched (the same filters as below: disabled rules, suppressions, test code), so the answers -- and what
    the attribution cache keeps -- are those of a run that asks them afterwards. Nothing else touches the
    attribution until the run joins it; an error in the background is raised then, as if it had happened then.
    """
    attribution = ctx.attribution
    if attribution is None or not attribution.usable:
        return _Background()
    settings = ctx.settings
    lines = [
        (f.path, f.line)
        for f in findings
        if f.ai_authored is None
        and f.rule_id not in disabled
        and not suppressed(f)
        and not _skipped_in_tests(f, settings.test_paths, settings.skip_in_tests)
    ]
    return _Background.start(attribution.prefetch, lines) if lines else _Background()


def _skipped_in_tests(finding: Finding, test_paths: Sequence[str], skip: Sequence[str]) -> bool:
    """True for a finding in test code (``check.test_paths``) of a rule ``check.skip_in_tests`` names.

    An entry is a rule id, or a ruff code or code prefix matching the ``ruff Sxxx`` a CW301 finding came from.
    """
    if not skip or not matches_any(finding.path, test_paths):
        return False
    if finding.rule_id in skip:
        return True
    upstream = str(finding.properties.get("upstream", ""))
    code = upstream[len("ruff ") :] if upstream.startswith("ruff ") else ""
    return bool(code) and any(_RUFF_CODE.match(entry) and code.startswith(entry) for entry in skip)


def _raise_on_ai(findings: list[Finding], rules: frozenset[str]) -> list[Finding]:
    """Findings of ``rules`` on AI-written lines become high: the flaws agents most often write fail the gate."""
    return [
        dataclasses.replace(f, severity="high") if f.ai_authored and f.rule_id in rules and f.level != "high" else f
        for f in findings
    ]


#: Families whose findings concern a commit as a whole (placed at line 1 of a file), not code at a line.
_NOT_AT_CODE = frozenset({"provenance"})


def _name_code(findings: list[Finding], attribution: Attribution, lookup: GenerationLookup | None) -> list[Finding]:
    """Give each finding the function around its line and, on AI lines, the generations of the flagged lines.

    The flagged lines are the finding's line, or a function-level finding's (complexity) whole function.
    """
    placed: list[tuple[Finding, tuple[str, str, int, int] | None, Iterable[int]]] = []
    for f in findings:
        if f.path.startswith("/") or rule(f.rule_id).family in _NOT_AT_CODE:
            placed.append((f, None, ()))
            continue
        at = attribution.function_at(f.path, f.line)
        lines: Iterable[int] = ()
        if f.ai_authored:
            whole = at is not None and rule(f.rule_id).family == "complexity"  # the finding is about the function
            lines = range(at[2], at[3] + 1) if at and whole else (f.line,)
        placed.append((f, at, lines))
    attribution.prefetch((f.path, n) for f, _, lines in placed for n in lines)
    staged: list[tuple[Finding, tuple[str, str, int, int] | None, list[Origin]]] = []
    ids: dict[str, None] = {}
    for f, at, lines in placed:
        origins = [o for o in (attribution.origin(f.path, n) for n in lines) if o and o.kind in ("ai", "mixed")]
        ids.update(dict.fromkeys(g for o in origins for g in o.generation_ids))
        staged.append((f, at, origins))
    recorded: Mapping[str, Generation] = {}
    if lookup is not None and ids:
        recorded = lookup(list(ids))
    out = []
    for f, at, origins in staged:
        refs = _generation_refs(origins, recorded)
        if at is None and not refs:
            out.append(f)
        else:
            module, qualname = (at[0] or None, at[1]) if at else (None, None)
            out.append(dataclasses.replace(f, module=module, qualname=qualname, generations=refs))
    return out


def _generation_refs(origins: Iterable[Origin], recorded: Mapping[str, Generation]) -> tuple[GenerationRef, ...]:
    """One reference per generation (or per agent and model, for lines only a commit trailer vouches for)."""
    refs: dict[object, GenerationRef] = {}
    for origin in origins:
        if not origin.generation_ids:
            refs.setdefault((origin.agent, origin.model), GenerationRef(None, origin.agent, origin.model))
        for gid in origin.generation_ids:
            if gid in refs:
                continue
            g = recorded.get(gid)
            refs[gid] = GenerationRef(
                gid,
                agent=(g.agent if g else None) or origin.agent,
                model=(g.model if g else None) or origin.model,
                prompt_name=g.prompt_name if g else None,
                prompt_version=g.prompt_version if g else None,
                prompt_sha256=g.prompt_hash if g else None,
            )
    return tuple(refs.values())


def relative(root: Path, path: Path) -> str:
    """``path`` relative to ``root`` with ``/`` separators (absolute when outside)."""
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        return path.resolve().as_posix()
