"""The samples of each quality metric in one window, gathered from what codewitness already knows.

:func:`gather` reads the ledger (generations of the window, their commit links, compile verdicts,
tokens and latency), the attribution of ``HEAD`` and of the window's first revision (AI-written
functions, their generations and cognitive complexity), the merge gate's findings on AI lines
(``deps``, ``apis`` and ``security`` families) and the test runs ``pytest --codewitness-tests``
stored. Each metric gets a list of :class:`Sample`\\ s -- one per AI function or generation, with the
model, agent, prompt and author it belongs to -- and a note saying what was left out and why.

Example:
    >>> window = Window(since=parse_since("14d"), until=utcnow())  # doctest: +SKIP
    >>> found = gather(store, Path("."), settings, window, offline=True)  # doctest: +SKIP
    >>> [s.value for s in found["hallucination_rate"].samples][:3]  # doctest: +SKIP
    [0.0, 1.0, 0.0]
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codewitness._syntax import check_syntax, language_of
from codewitness.config import MetricsSection
from codewitness.errors import CodewitnessError

if TYPE_CHECKING:
    from codewitness.attribution.report import FunctionReport, Report
    from codewitness.checks.findings import Finding
    from codewitness.model import Generation
    from codewitness.store import Store

__all__ = ["GROUPINGS", "Gathered", "Sample", "Window", "gather", "group_keys"]

#: What ``--by`` may group samples by.
GROUPINGS = ("model", "agent", "prompt", "author")

#: Group values for samples whose key is not known.
UNKNOWN = "(unknown)"
NOT_COMMITTED = "(not committed)"
NO_MANAGED_PROMPT = "(unmanaged prompt)"


@dataclass(frozen=True)
class Window:
    """The time span metrics are computed over, cut into ``points`` equal parts for the trend."""

    since: datetime
    until: datetime
    points: int = 4

    def part(self, when: datetime) -> int:
        """The index of the part ``when`` falls in (clamped to the window)."""
        span = (self.until - self.since).total_seconds()
        if span <= 0:
            return self.points - 1
        index = int((when - self.since).total_seconds() / span * self.points)
        return max(0, min(self.points - 1, index))

    def bounds(self) -> list[tuple[datetime, datetime]]:
        """The parts, oldest first."""
        step = (self.until - self.since) / self.points
        return [(self.since + step * i, self.since + step * (i + 1)) for i in range(self.points)]


@dataclass(frozen=True)
class Sample:
    """One observation of a metric.

    Attributes:
        when: when it happened (the generation's time; for functions, their newest generation's).
        value: 0/1 for the rates, a count, a score, a latency in ms or a complexity.
        keys: per grouping (``model``, ``agent``, ``prompt``, ``author``) the groups it belongs to.
        ref: what it is about (a generation id or a function), for the evidence.
        side: for complexity drift: ``start`` (the window's first revision) or ``now`` (HEAD).
    """

    when: datetime
    value: float
    keys: Mapping[str, tuple[str, ...]]
    ref: str
    side: str = "now"


@dataclass
class Gathered:
    """The samples of one metric, and what was left out (``notes``) or why it could not be measured."""

    samples: list[Sample] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    problem: str | None = None
    method: str | None = None

    def left_out(self, count: int, what: str) -> Gathered:
        """This, with the note ``"<count> <what>"`` when ``count`` things were left out."""
        if count:
            self.notes.append(f"{count} {what}")
        return self


def group_keys(generations: Iterable[Generation], authors: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    """The groups of a sample made of ``generations`` (distinct values, in first-seen order)."""
    keys: dict[str, dict[str, None]] = {name: {} for name in GROUPINGS}
    for g in generations:
        keys["model"][g.model or UNKNOWN] = None
        keys["agent"][g.agent or UNKNOWN] = None
        keys["prompt"][f"{g.prompt_name}@{g.prompt_version}" if g.prompt_name else NO_MANAGED_PROMPT] = None
        keys["author"][authors.get(g.id, NOT_COMMITTED)] = None
    return {name: tuple(values) or (UNKNOWN,) for name, values in keys.items()}


class _Context:
    """What several metrics share, read once and only when a metric needs it."""

    def __init__(self, store: Store, root: Path, settings: MetricsSection, window: Window, offline: bool) -> None:
        self.store = store
        self.root = root
        self.settings = settings
        self.window = window
        self.offline = offline
        self._cache: dict[str, Any] = {}

    def _once(self, key: str, make: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    @property
    def generations(self) -> list[Generation]:
        from codewitness import ledger

        found: list[Generation] = self._once(
            "generations", lambda: [g for g in ledger.find(self.store, since=self.window.since)]
        )
        return found

    @property
    def by_id(self) -> dict[str, Generation]:
        return self._once("by_id", lambda: {g.id: g for g in self.generations})  # type: ignore[no-any-return]

    @property
    def links(self) -> dict[str, Any]:
        from codewitness.store.metrics import commit_links

        return self._once("links", lambda: commit_links(self.store, list(self.by_id)))  # type: ignore[no-any-return]

    @property
    def authors(self) -> dict[str, str]:
        return self._once("authors", self._authors)  # type: ignore[no-any-return]

    def _authors(self) -> dict[str, str]:
        from codewitness._git import CatFile, parse_commit

        commits = {links[0].commit for links in self.links.values() if links}
        names: dict[str, str] = {}
        if commits and self.has_git:
            with CatFile(self.root) as cat:
                for sha in sorted(commits):
                    found = cat.read(sha)
                    if found is not None and found[0] == "commit":
                        names[sha] = parse_commit(sha, found[1]).author_name or UNKNOWN
        return {gid: names.get(links[0].commit, UNKNOWN) for gid, links in self.links.items() if links}

    def keys(self, generations: Iterable[Generation]) -> dict[str, tuple[str, ...]]:
        return group_keys(generations, self.authors)

    @property
    def has_git(self) -> bool:
        from codewitness._git import git_available, resolve

        return self._once("git", lambda: git_available() and resolve(self.root, "HEAD") is not None)  # type: ignore[no-any-return]

    def report(self, rev: str) -> Report:
        from codewitness.attribution.report import build_report

        return self._once(f"report:{rev}", lambda: build_report(self.root, rev, python_only=True))  # type: ignore[no-any-return]

    def findings(self) -> list[Finding]:
        return self._once("findings", self._run_gate)  # type: ignore[no-any-return]

    def _run_gate(self) -> list[Finding]:
        from codewitness.checks.gate import run_gate

        run = run_gate(
            None,
            families=("deps", "apis", "security"),
            base=None,
            fail_on="never",
            baseline=None,
            write_baseline=None,
            offline=self.offline,
            ai_only=True,
        )
        return list(run.report.findings)


def _ai_functions(report: Report) -> list[FunctionReport]:
    return [f for f in report.functions if f.ref.ai_share > 0]


def _newest(generations: Sequence[Generation]) -> datetime:
    return max(g.created_at for g in generations)


def _innermost(functions: Sequence[FunctionReport], path: str, line: int) -> FunctionReport | None:
    inside = [f for f in functions if f.ref.path == path and f.ref.start_line <= line <= f.ref.end_line]
    return min(inside, key=lambda f: f.ref.end_line - f.ref.start_line) if inside else None


def _users_of(name: str, functions: Sequence[FunctionReport], lines: Sequence[str]) -> list[FunctionReport]:
    """The functions whose text uses the module-level name ``name`` (an import's binding)."""
    pattern = re.compile(rf"(?<![\w.]){re.escape(name)}\b")
    return [f for f in functions if pattern.search("\n".join(lines[f.ref.start_line - 1 : f.ref.end_line]))]


# -- the eight metrics --------------------------------------------------------------------------


def _hallucination(ctx: _Context) -> Gathered:
    """One sample per AI-written function at HEAD written by a generation of the window."""
    from codewitness._git import blob_text

    if not ctx.has_git:
        return Gathered(problem="not in a git repository with commits: AI functions come from the attribution of HEAD")
    out = Gathered()
    functions = _ai_functions(ctx.report("HEAD"))
    rules = set(ctx.settings.hallucination_rules)
    hits: dict[str, set[str]] = {}
    texts: dict[str, list[str]] = {}
    for finding in ctx.findings():
        if finding.rule_id not in rules:
            continue
        owner = _innermost(functions, finding.path, finding.line)
        owners = [owner] if owner is not None else []
        name = str(finding.properties.get("module") or "").split(".")[0]
        if owner is None and name:
            if finding.path not in texts:
                texts[finding.path] = (blob_text(ctx.root, "HEAD", finding.path) or "").split("\n")
            owners = _users_of(name, [f for f in functions if f.ref.path == finding.path], texts[finding.path])
        for f in owners:
            hits.setdefault(f.ref.qualname, set()).add(finding.rule_id)
    unrecorded = 0
    for f in functions:
        generations = [ctx.by_id[g] for g in f.ref.generation_ids if g in ctx.by_id]
        if not generations:
            unrecorded += 1
            continue
        value = 1.0 if f.ref.qualname in hits else 0.0
        out.samples.append(Sample(_newest(generations), value, ctx.keys(generations), f.ref.qualname))
    return out.left_out(unrecorded, "AI function(s) written outside the window or by unrecorded generations")


def _compilation(ctx: _Context) -> Gathered:
    """One sample per generation with a compile verdict (stored at commit, or its own output for pipelines)."""
    from codewitness.store.metrics import compiles

    out = Gathered()
    verdicts = compiles(ctx.store, list(ctx.by_id))
    unknown = 0
    for g in ctx.generations:
        found = verdicts.get(g.id, [])
        oks: list[bool] = []
        for v in found:
            oks.extend(ok for ok in (v.raw_ok, v.committed_ok) if ok is not None)
        if not found and g.agent == "api":
            # A pipeline's output is the artifact itself; checked in the language of the file it went to.
            path = next((r.path for r in g.files if language_of(r.path)), None)
            result = check_syntax(path, _unfenced(g.output)) if path else None
            if result is not None:
                oks.append(result.ok)
        if not oks:
            unknown += 1
            continue
        out.samples.append(Sample(g.created_at, 1.0 if all(oks) else 0.0, ctx.keys([g]), g.id))
    return out.left_out(
        unknown,
        "generation(s) without a verdict (files in no checked language, not committed, "
        "or committed before verdicts were recorded)",
    )


_FENCE = re.compile(r"^```[\w+-]*\n(.*?)^```\s*$", re.DOTALL | re.MULTILINE)


def _unfenced(text: str) -> str:
    """The code of a Markdown-fenced answer (the fenced blocks joined), else the text itself."""
    blocks = _FENCE.findall(text)
    return "\n".join(blocks) if blocks else text


def _test_pass(ctx: _Context) -> Gathered:
    """One sample per generation with a test run after it whose tests ran its functions: did they all pass?"""
    from codewitness.store.metrics import recorded_runs

    runs = recorded_runs(ctx.store, since=ctx.window.since)
    if not runs:
        return Gathered(
            problem="no test runs recorded in the window: run `pytest --codewitness-tests` (or set "
            "codewitness_tests = true in pytest's ini) so outcomes are stored"
        )
    out = Gathered()
    untested = 0
    for g in ctx.generations:
        verdict = None
        for run in runs:
            if run.started_at < g.created_at:
                continue
            judged = [r for r in run.results if g.id in r.generation_ids and r.outcome != "skipped"]
            if judged:
                verdict = all(r.outcome == "passed" for r in judged)
                break
        if verdict is None:
            untested += 1
            continue
        out.samples.append(Sample(g.created_at, 1.0 if verdict else 0.0, ctx.keys([g]), g.id))
    return out.left_out(untested, "generation(s) whose functions no recorded test ran afterwards")


def _security(ctx: _Context) -> Gathered:
    """One sample per generation of the window with lines in AI functions at HEAD: its security findings."""
    from codewitness.checks.rules import rule, severity_at_least

    if not ctx.has_git:
        return Gathered(problem="not in a git repository with commits: findings are read at HEAD")
    out = Gathered()
    present = {g for f in _ai_functions(ctx.report("HEAD")) for g in f.ref.generation_ids}
    counts: dict[str, int] = {}
    for finding in ctx.findings():
        if rule(finding.rule_id).family != "security" or not severity_at_least(
            finding.level, ctx.settings.security_severity
        ):
            continue
        for ref in finding.generations:
            if ref.id:
                counts[ref.id] = counts.get(ref.id, 0) + 1
                present.add(ref.id)
    for g in ctx.generations:
        if g.id in present:
            out.samples.append(Sample(g.created_at, float(counts.get(g.id, 0)), ctx.keys([g]), g.id))
    gone = len(ctx.generations) - len(out.samples)
    return out.left_out(gone, "generation(s) with no lines left in the code at HEAD")


def _complexity(ctx: _Context) -> Gathered:
    """The AI-written functions at HEAD (``now``) and at the window's first revision (``start``)."""
    from codewitness._git import run_git

    if not ctx.has_git:
        return Gathered(problem="not in a git repository with commits")
    out = Gathered()
    stamp = ctx.window.since.astimezone(UTC).isoformat()
    start = run_git(["rev-list", "-1", f"--before={stamp}", "HEAD"], cwd=ctx.root, check=False).strip()
    if not start:
        return Gathered(
            problem=f"no commit before the window's start ({ctx.window.since:%Y-%m-%d}): nothing to compare with"
        )
    for side, rev in (("start", start), ("now", "HEAD")):
        for f in _ai_functions(ctx.report(rev)):
            if f.complexity is None:
                continue
            generations = [ctx.by_id[g] for g in f.ref.generation_ids if g in ctx.by_id]
            keys = ctx.keys(generations) if generations else _keys_of_function(f)
            when = _newest(generations) if generations else ctx.window.since
            out.samples.append(Sample(when, float(f.complexity), keys, f.ref.qualname, side=side))
    out.notes.append(f"compared with {start}, the last commit before the window")
    return out


def _keys_of_function(f: FunctionReport) -> dict[str, tuple[str, ...]]:
    """Groups of a function whose generations the ledger does not hold (from its attribution)."""
    return {
        "model": f.ref.models or (UNKNOWN,),
        "agent": f.ref.agents or (UNKNOWN,),
        "prompt": (UNKNOWN,),
        "author": (UNKNOWN,),
    }


def _adherence(ctx: _Context) -> Gathered:
    from codewitness.metrics.adherence import scorer

    try:
        measure = scorer(ctx.settings.adherence)
    except CodewitnessError as exc:
        return Gathered(problem=str(exc))
    out = Gathered(method=measure.method)
    if measure.note:
        out.notes.append(measure.note)
    pairs = [(g, g.prompt, _unfenced(g.output)) for g in ctx.generations if g.prompt.strip() and g.output.strip()]
    empty = len(ctx.generations) - len(pairs)
    try:
        scores = measure.scores([(prompt, code) for _, prompt, code in pairs])
    except CodewitnessError as exc:
        out.problem = str(exc)
        return out
    for (g, _, _), score in zip(pairs, scores, strict=True):
        out.samples.append(Sample(g.created_at, score, ctx.keys([g]), g.id))
    return out.left_out(empty, "generation(s) without a recorded prompt")


def _latency(ctx: _Context) -> Gathered:
    out = Gathered()
    for g in ctx.generations:
        if g.latency_ms is not None:
            out.samples.append(Sample(g.created_at, float(g.latency_ms), ctx.keys([g]), g.id))
    missing = len(ctx.generations) - len(out.samples)
    return out.left_out(missing, "generation(s) without a recorded latency")


def _edit_distance(ctx: _Context) -> Gathered:
    """One sample per committed generation: the share of its written lines not committed verbatim."""
    out = Gathered()
    uncommitted = 0
    for g in ctx.generations:
        links = ctx.links.get(g.id, [])
        written: dict[str, int] = {}
        for r in g.files:
            written[r.path] = written.get(r.path, 0) + r.end - r.start + 1
        if not links or not written:
            uncommitted += 1
            continue
        kept: dict[str, int] = {}
        for link in links:  # the first commit that carried each file (a later one is a rewrite of it)
            kept.setdefault(link.path, link.ai_lines)
        total = sum(written.values())
        verbatim = sum(min(kept.get(path, 0), n) for path, n in written.items())
        out.samples.append(Sample(g.created_at, (total - verbatim) / total, ctx.keys([g]), g.id))
    return out.left_out(uncommitted, "generation(s) not committed (or with no lines recorded)")


_GATHERERS: dict[str, Callable[[_Context], Gathered]] = {
    "hallucination_rate": _hallucination,
    "compilation_success_rate": _compilation,
    "test_pass_rate": _test_pass,
    "security_vulnerability_rate": _security,
    "complexity_drift": _complexity,
    "context_adherence": _adherence,
    "latency_p95": _latency,
    "human_edit_distance": _edit_distance,
}


def gather(
    store: Store,
    root: Path,
    settings: MetricsSection,
    window: Window,
    *,
    offline: bool = False,
    metrics: Collection[str] | None = None,
) -> dict[str, Gathered]:
    """The samples of every metric (or of ``metrics``), in report order; disabled ones are left out.

    A metric whose sources fail (git, the package index, an extra) gets its ``problem`` set; the others
    are still gathered.
    """
    ctx = _Context(store, root, settings, window, offline)
    result: dict[str, Gathered] = {}
    for metric_id, gatherer in _GATHERERS.items():
        if metric_id in settings.disable or (metrics is not None and metric_id not in metrics):
            continue
        try:
            result[metric_id] = gatherer(ctx)
        except CodewitnessError as exc:
            result[metric_id] = Gathered(problem=str(exc))
    if not ctx.generations:
        for metric_id, found in result.items():
            if metric_id != "complexity_drift" and found.problem is None and not found.samples:
                found.problem = (
                    f"no generations recorded since {window.since:%Y-%m-%d %H:%M} UTC: install the agent hooks "
                    "(`codewitness init`) or record pipeline generations (`codewitness record`)"
                )
    return result
