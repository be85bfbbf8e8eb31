"""The attribution report: who wrote the code base, where the AI-written risk sits, what it reaches.

:func:`build_report` attributes every text file under the given paths at one revision and rolls
the lines up by repository, folder (package), module, function, agent, model and evidence. For
Python functions it adds the risk inputs — AI share, whether a human ever edited the function,
cognitive complexity (complexipy), test coverage (a coverage.py data file, when one exists) and
reachability from entry points through the static call graph
(:mod:`codewitness.attribution.callgraph`) — and ranks functions by::

    risk = ai_share * (0.25 + 0.20 * never_human_edited + 0.25 * min(complexity / 15, 1)
                       + 0.15 * (1 - coverage) + 0.15 * reachable)

(when no coverage data exists, ``1 - coverage`` counts as 0.5). A function no agent wrote has
risk 0. The blast radius lists, for each function that is mostly AI-written, the entry points
that reach it.

Counting rules: blank lines are not counted; ``mixed`` lines (AI lines a human edited) count as
AI-written in ``ai_share``. ``human_edit_share`` has one definition at every level (function,
module, package, repository): the share of non-blank lines a person changed after an agent wrote
the code around them (:func:`~codewitness.attribution.functions.edited_lines`).

Example:
    >>> report = build_report(Path("."), "HEAD")  # doctest: +SKIP
    >>> print(report.to_markdown())  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import html
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codewitness._git import TreeEntry
from codewitness.attribution.blame import Attributor, FileAttribution
from codewitness.attribution.cache import AttributionCache
from codewitness.attribution.callgraph import CallGraph
from codewitness.attribution.functions import (
    ModuleFacts,
    cognitive_complexity,
    edited_lines,
    module_facts,
    module_name,
    rollup,
)
from codewitness.errors import InputError, MissingExtraError
from codewitness.model import FunctionRef

__all__ = ["LIMITS", "FunctionReport", "Report", "Shares", "build_report", "risk_score"]

#: What the report cannot see; printed with every report.
LIMITS: tuple[str, ...] = (
    "Lines come from `git blame -M`: a line is credited to the commit that last changed it; lines "
    "copied from another file count as new in the commit that copied them.",
    "Commit trailers only say an agent took part in a commit, so all lines that commit added count as AI "
    "(confidence 0.6) unless a line-precise note says otherwise.",
    "The call graph is static and best effort: calls through variables, getattr, callbacks, dynamic "
    "imports and inherited methods on subclasses are not seen, so reachability can be understated.",
    "Coverage is read from the coverage.py data file as it is; it is only right when it was measured on "
    "the same revision as the report.",
    "In a shallow clone, lines older than the shallow boundary are 'unknown'.",
    "Human edits are read from blame: a function whose AI lines a person rewrote completely shows "
    "neither AI lines nor edits.",
)

_COMPLEXITY_SCALE = 15.0
_MOSTLY_AI = 0.5


@dataclass
class Shares:
    """Line counts by origin for one group of files, and how many lines a person edited."""

    lines: int = 0
    ai: int = 0
    mixed: int = 0
    human: int = 0
    unknown: int = 0
    edited: int = 0  # human-edited lines (functions.edited_lines), counted beside their origin

    def add(self, kind: str, count: int = 1) -> None:
        """Count ``count`` lines of origin ``kind``."""
        self.lines += count
        setattr(self, kind, getattr(self, kind) + count)

    @property
    def ai_share(self) -> float:
        """Share of lines an agent wrote (``ai`` + ``mixed``)."""
        return (self.ai + self.mixed) / self.lines if self.lines else 0.0

    @property
    def human_edit_share(self) -> float:
        """Share of lines a person changed after an agent wrote the code around them.

        The same definition as a function's (:func:`~codewitness.attribution.functions.edited_lines`),
        summed over the group's files: human-edited lines / non-blank lines.
        """
        return self.edited / self.lines if self.lines else 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready counts and shares."""
        return {
            "lines": self.lines,
            "ai": self.ai,
            "mixed": self.mixed,
            "human": self.human,
            "unknown": self.unknown,
            "human_edited": self.edited,
            "ai_share": round(self.ai_share, 4),
            "human_edit_share": round(self.human_edit_share, 4),
        }


@dataclass(frozen=True)
class FunctionReport:
    """One function's roll-up and risk inputs."""

    ref: FunctionRef
    module: str
    local_qualname: str
    complexity: int | None
    coverage: float | None
    entry_kind: str | None
    reached_from: tuple[str, ...]
    risk: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        r = self.ref
        return {
            "function": r.qualname,
            "module": self.module,
            "qualname": self.local_qualname,
            "path": r.path,
            "start_line": r.start_line,
            "end_line": r.end_line,
            "ai_share": round(r.ai_share, 4),
            "human_edit_share": round(r.human_edit_share, 4),
            "generations": list(r.generation_ids),
            "models": list(r.models),
            "agents": list(r.agents),
            "complexity": self.complexity,
            "coverage": None if self.coverage is None else round(self.coverage, 4),
            "entry_point": self.entry_kind,
            "reached_from": list(self.reached_from),
            "risk": round(self.risk, 4),
        }


def risk_score(ref: FunctionRef, complexity: int | None, coverage: float | None, reachable: bool) -> float:
    """The risk of one function (see the module docstring for the formula)."""
    if ref.ai_share <= 0:
        return 0.0
    never_edited = 1.0 if ref.human_edit_share == 0 else 0.0
    complex_part = min((complexity or 0) / _COMPLEXITY_SCALE, 1.0)
    uncovered = 0.5 if coverage is None else 1.0 - coverage
    weight = 0.25 + 0.20 * never_edited + 0.25 * complex_part + 0.15 * uncovered + 0.15 * float(reachable)
    return ref.ai_share * weight


@dataclass
class Report:
    """Everything :func:`build_report` found."""

    root: str
    revision: str
    totals: Shares = field(default_factory=Shares)
    packages: dict[str, Shares] = field(default_factory=dict)
    modules: dict[str, Shares] = field(default_factory=dict)
    agents: Counter[str] = field(default_factory=Counter)
    models: Counter[str] = field(default_factory=Counter)
    evidence: Counter[str] = field(default_factory=Counter)
    functions: list[FunctionReport] = field(default_factory=list)
    entry_points: dict[str, str] = field(default_factory=dict)
    skipped: Counter[str] = field(default_factory=Counter)
    warnings: dict[str, int] = field(default_factory=dict)
    coverage_file: str | None = None

    def ranked(self, limit: int | None = None) -> list[FunctionReport]:
        """Functions with any AI lines, riskiest first."""
        out = sorted((f for f in self.functions if f.risk > 0), key=lambda f: (-f.risk, f.ref.qualname))
        return out[:limit] if limit else out

    def blast_radius(self) -> dict[str, list[str]]:
        """Mostly-AI functions -> the entry points that reach them (only those reached)."""
        return {
            f.ref.qualname: list(f.reached_from)
            for f in self.functions
            if f.ref.ai_share >= _MOSTLY_AI and f.reached_from
        }

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` document."""
        return {
            "root": self.root,
            "revision": self.revision,
            "totals": self.totals.to_dict(),
            "packages": {k: v.to_dict() for k, v in sorted(self.packages.items())},
            "modules": {k: v.to_dict() for k, v in sorted(self.modules.items())},
            "by_agent": dict(self.agents.most_common()),
            "by_model": dict(self.models.most_common()),
            "by_evidence": dict(self.evidence.most_common()),
            "functions": [f.to_dict() for f in self.functions],
            "risk_ranking": [f.ref.qualname for f in self.ranked()],
            "entry_points": dict(sorted(self.entry_points.items())),
            "blast_radius": self.blast_radius(),
            "coverage_file": self.coverage_file,
            "skipped": dict(self.skipped),
            "warnings": self.warnings,
            "limits": list(LIMITS),
        }

    def _sections(self, top: int) -> list[tuple[str, list[str], list[list[str]]]]:
        def pct(x: float) -> str:
            return f"{x * 100:.1f}%"

        def share_rows(groups: dict[str, Shares]) -> list[list[str]]:
            return [
                [k, str(v.lines), pct(v.ai_share), pct(v.human_edit_share)]
                for k, v in sorted(groups.items(), key=lambda kv: -kv[1].ai_share)
            ]

        t = self.totals
        sections = [
            (
                "Repository",
                ["lines", "AI", "mixed", "human", "unknown", "AI share", "human edit share"],
                [
                    [
                        str(t.lines),
                        str(t.ai),
                        str(t.mixed),
                        str(t.human),
                        str(t.unknown),
                        pct(t.ai_share),
                        pct(t.human_edit_share),
                    ]
                ],
            ),
            ("By agent", ["agent", "lines"], [[k, str(v)] for k, v in self.agents.most_common()]),
            ("By model", ["model", "lines"], [[k, str(v)] for k, v in self.models.most_common()]),
            ("By evidence", ["evidence", "lines"], [[k, str(v)] for k, v in self.evidence.most_common()]),
            ("Packages", ["package", "lines", "AI share", "human edit share"], share_rows(self.packages)),
            ("Modules", ["module", "lines", "AI share", "human edit share"], share_rows(self.modules)[:top]),
            (
                "Riskiest AI-written functions",
                ["function", "AI share", "human edit", "complexity", "coverage", "reached from", "risk"],
                [
                    [
                        f.ref.qualname,
                        pct(f.ref.ai_share),
                        pct(f.ref.human_edit_share),
                        "-" if f.complexity is None else str(f.complexity),
                        "-" if f.coverage is None else pct(f.coverage),
                        str(len(f.reached_from)),
                        f"{f.risk:.2f}",
                    ]
                    for f in self.ranked(top)
                ],
            ),
            (
                "Blast radius",
                ["AI-written function", "entry points reaching it"],
                [[k, ", ".join(v)] for k, v in sorted(self.blast_radius().items())][:top],
            ),
        ]
        return sections

    def to_markdown(self, top: int = 25) -> str:
        """A Markdown report (tables; the top ``top`` rows of long lists)."""
        out = [f"# AI attribution report\n\nRevision `{self.revision}` of `{self.root}`.\n"]
        for title, header, rows in self._sections(top):
            out.append(f"## {title}\n")
            if not rows:
                out.append("_none_\n")
                continue
            out.append("| " + " | ".join(header) + " |")
            out.append("|" + "---|" * len(header))
            out.extend("| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows)
            out.append("")
        out.append("## Limits\n")
        out.extend(f"- {limit}" for limit in LIMITS)
        if self.skipped or self.warnings:
            out.append("\n## Skipped\n")
            out.extend(f"- {n} {reason} files" for reason, n in sorted(self.skipped.items()))
            out.extend(f"- {msg} ({n}x)" for msg, n in sorted(self.warnings.items()))
        return "\n".join(out) + "\n"

    def to_html(self, top: int = 50) -> str:
        """A self-contained HTML page (no external assets)."""
        esc = html.escape
        parts = [
            "<!doctype html><html lang=en><meta charset=utf-8><title>AI attribution report</title>",
            "<style>body{font:14px system-ui,sans-serif;margin:2em;max-width:70em}"
            "table{border-collapse:collapse;margin-bottom:1.5em}"
            "td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}"
            "th{background:#f3f3f3}</style>",
            f"<h1>AI attribution report</h1><p>Revision <code>{esc(self.revision)}</code> of "
            f"<code>{esc(self.root)}</code>.</p>",
        ]
        for title, header, rows in self._sections(top):
            parts.append(f"<h2>{esc(title)}</h2>")
            if not rows:
                parts.append("<p><em>none</em></p>")
                continue
            parts.append("<table><tr>" + "".join(f"<th>{esc(h)}</th>" for h in header) + "</tr>")
            parts.extend("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in rows)
            parts.append("</table>")
        parts.append("<h2>Limits</h2><ul>" + "".join(f"<li>{esc(x)}</li>" for x in LIMITS) + "</ul>")
        return "\n".join(parts) + "\n</html>\n"


def _complexities(source: str) -> dict[int, int]:
    """Cognitive complexity by the function's first line (decorators included)."""
    return {f.first: f.complexity for f in cognitive_complexity(source)}


def _load_coverage(path: Path, root: Path) -> dict[str, set[int]]:
    try:
        from coverage import CoverageData
    except ImportError:
        raise MissingExtraError("report", f"reading the coverage data in {path}") from None
    data = CoverageData(basename=str(path))
    try:
        data.read()
    except Exception as exc:  # coverage raises its own DataError / sqlite errors on a bad file
        raise InputError(f"cannot read coverage data {path}: {exc}") from None
    out: dict[str, set[int]] = {}
    resolved_root = root.resolve()
    for measured in data.measured_files():
        try:
            rel = Path(measured).resolve().relative_to(resolved_root).as_posix()
        except ValueError:
            continue
        out[rel] = set(data.lines(measured) or ())
    return out


_FACTS = "pyfacts/3"
_SUMMARY = "summary/2"


def _summary_key(entry: TreeEntry, module: str) -> str:
    # attr_blob is keyed by one 64-character id; a summary depends on path, blob and module name.
    return hashlib.sha256(f"{entry.path}\0{entry.oid}\0{module}".encode()).hexdigest()


def _facts_for(source: str, module: str) -> dict[str, Any]:
    try:
        facts = module_facts(source, module)
    except (SyntaxError, ValueError, RecursionError):
        return {"facts": None, "cx": []}
    return {"facts": facts.to_dict(), "cx": sorted(_complexities(source).items())}


def _summarize(
    fa: FileAttribution, module: str, facts: ModuleFacts | None, times: dict[str, int], fingerprint: str
) -> dict[str, Any]:
    """What the report needs of one attributed file, small enough to cache per (path, blob)."""
    counts: Counter[str] = Counter()
    agents: Counter[str] = Counter()
    models: Counter[str] = Counter()
    evidence: Counter[str] = Counter()
    for line in fa.lines:
        if not line.text.strip():
            continue
        kind = line.origin.kind
        counts[kind] += 1
        evidence[line.origin.evidence] += 1
        if kind in ("ai", "mixed"):
            agents[line.origin.agent or "unknown"] += 1
            models[line.origin.model or "unknown"] += 1
    spans = facts.spans if facts else ()
    edited = edited_lines(fa.lines, spans, times)
    functions = []
    for span in spans:
        ref = rollup(module, fa.path, span, fa.lines, edited)
        functions.append(
            [span.qualname, ref.ai_share, ref.human_edit_share, ref.generation_ids, ref.models, ref.agents]
        )
    return {
        "commits": sorted({line.commit for line in fa.lines}),
        "fp": fingerprint,
        "counts": counts,
        "edited": len(edited),
        "agents": agents,
        "models": models,
        "evidence": evidence,
        "functions": functions,
    }


def build_report(
    root: Path,
    rev: str = "HEAD",
    *,
    paths: Sequence[str] = (),
    cache: AttributionCache | None = None,
    coverage_file: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
    python_only: bool = False,
) -> Report:
    """Attribute the files under ``paths`` (all when empty) at ``rev`` and build the report.

    Each file's result is cached by path, blob and the evidence of the commits its lines come
    from, so a second run after one commit attributes only the changed files.

    Args:
        root: any folder inside the repository.
        rev: the revision.
        paths: repository-relative files or folders to include.
        cache: attribution cache (blame rows, commits, per-file analyses) to reuse across runs.
        coverage_file: a coverage.py data file; defaults to ``.coverage`` at the repository root
            when it exists.
        progress: called with ``(files done, files total)`` after each file.
        python_only: attribute ``.py`` files only (what the manifest needs).

    Raises:
        GitError: not a repository / no commits.
        NotFoundError: ``rev`` is not a commit.
        InputError: nothing matches ``paths``, or the coverage file is unreadable.
    """
    with Attributor(root, rev, cache=cache) as engine:
        all_entries = engine.files()
        tree_paths = {e.path for e in all_entries}
        entries = _select(all_entries, paths)
        if paths and not entries:
            raise InputError(f"no files under {', '.join(paths)} at {rev}")
        if python_only:
            entries = [e for e in entries if e.path.endswith(".py")]
        report = Report(root=str(engine.root), revision=engine.commit)
        covered = _coverage_for(report, engine.root, coverage_file)
        store = engine.cache
        done = 0

        def tick(_entry: TreeEntry | None = None) -> None:
            nonlocal done
            done += 1
            if progress:
                progress(done, len(entries))

        files: list[TreeEntry] = []
        for entry in entries:
            if entry.is_submodule or entry.is_symlink:
                report.skipped["submodule" if entry.is_submodule else "symlink"] += 1
                tick()
            else:
                files.append(entry)
        modules = {e.path: module_name(e.path, tree_paths) if e.path.endswith(".py") else "" for e in files}
        keys = {e.path: _summary_key(e, modules[e.path]) for e in files}
        summaries: dict[str, Any] = store.load_blobs(_SUMMARY, list(keys.values()))
        facts_raw: dict[str, Any] = store.load_blobs(_FACTS, [e.oid for e in files if modules[e.path]])
        reachable = engine.reachable() if summaries else frozenset()
        todo: list[TreeEntry] = []
        for entry in files:
            summary = summaries.get(keys[entry.path])
            valid = summary is not None and (
                "skipped" in summary
                or (
                    all(c in reachable for c in summary["commits"])
                    and summary["fp"] == engine.fingerprint(summary["commits"])
                )
            )
            if valid:
                tick()
            else:
                summaries.pop(keys[entry.path], None)
                todo.append(entry)
        fresh_summaries: dict[str, Any] = {}
        fresh_facts: dict[str, Any] = {}
        for fa in engine.attribute(todo, progress=tick):
            module = modules[fa.path]
            if fa.skipped:
                summary = {"skipped": fa.skipped}
            else:
                facts = None
                if module:
                    raw = facts_raw.get(fa.blob)
                    if raw is None:
                        raw = fresh_facts[fa.blob] = facts_raw[fa.blob] = _facts_for(
                            "\n".join(ln.text for ln in fa.lines), module
                        )
                    facts = ModuleFacts.from_dict(raw["facts"]) if raw["facts"] else None
                commits = sorted({line.commit for line in fa.lines})
                summary = _summarize(fa, module, facts, engine.commit_times(), engine.fingerprint(commits))
            summaries[keys[fa.path]] = fresh_summaries[keys[fa.path]] = summary
        if fresh_facts:
            store.save_blobs(_FACTS, fresh_facts)
        if fresh_summaries:
            store.save_blobs(_SUMMARY, fresh_summaries)
        report.warnings = dict(engine.warnings)
    _assemble(report, files, modules, keys, summaries, facts_raw, covered)
    return report


def _coverage_for(report: Report, root: Path, coverage_file: Path | None) -> dict[str, set[int]] | None:
    path = coverage_file or (root / ".coverage")
    if coverage_file is None and not path.exists():
        return None
    if not path.exists():
        raise InputError(f"coverage data file {path} does not exist")
    report.coverage_file = str(path)
    return _load_coverage(path, root)


def _assemble(
    report: Report,
    files: list[TreeEntry],
    modules: dict[str, str],
    keys: dict[str, str],
    summaries: dict[str, Any],
    facts_raw: dict[str, Any],
    covered: dict[str, set[int]] | None,
) -> None:
    graph = CallGraph()
    parsed: list[tuple[TreeEntry, str, ModuleFacts, dict[int, int], dict[str, Any]]] = []
    for entry in files:
        summary = summaries[keys[entry.path]]
        if "skipped" in summary:
            report.skipped[summary["skipped"]] += 1
            continue
        folder = entry.path.rsplit("/", 1)[0] if "/" in entry.path else "."
        counts = summary["counts"]
        for shares in (
            report.totals,
            report.packages.setdefault(folder, Shares()),
            report.modules.setdefault(entry.path, Shares()),
        ):
            for kind, n in counts.items():
                shares.add(kind, n)
            shares.edited += summary["edited"]
        report.agents.update(summary["agents"])
        report.models.update(summary["models"])
        report.evidence.update(summary["evidence"])
        module = modules[entry.path]
        if not module:
            continue
        raw = facts_raw.get(entry.oid)
        if raw is None or raw["facts"] is None:
            report.skipped["unparseable Python"] += 1
            continue
        facts = ModuleFacts.from_dict(raw["facts"])
        graph.add_module(module, facts)
        parsed.append((entry, module, facts, {int(a): int(b) for a, b in raw["cx"]}, summary))
    report.entry_points = graph.entry_points()
    reached = graph.reached_from(report.entry_points)
    for entry, module, facts, cx, summary in parsed:
        executed = covered.get(entry.path, set()) if covered is not None else None
        spans = {span.qualname: span for span in facts.spans}
        for qualname, ai_share, edit_share, gens, models, agents in summary["functions"]:
            span = spans[qualname]
            ref = FunctionRef(
                qualname=f"{module}.{qualname}",
                path=entry.path,
                start_line=span.start_line,
                end_line=span.end_line,
                ai_share=ai_share,
                human_edit_share=edit_share,
                generation_ids=tuple(gens),
                models=tuple(models),
                agents=tuple(agents),
            )
            complexity = cx.get(span.start_line)
            if complexity is None:
                complexity = _enclosing_complexity(span.start_line, span.end_line, facts, cx)
            coverage = None
            if executed is not None:
                statements = set(span.statements)
                coverage = len(statements & executed) / len(statements) if statements else 1.0
            sources = reached.get(ref.qualname, ())
            if ref.qualname in report.entry_points:
                sources = (ref.qualname, *sources)
            report.functions.append(
                FunctionReport(
                    ref=ref,
                    module=module,
                    local_qualname=qualname,
                    complexity=complexity,
                    coverage=coverage,
                    entry_kind=report.entry_points.get(ref.qualname),
                    reached_from=sources,
                    risk=risk_score(ref, complexity, coverage, bool(sources)),
                )
            )


def _enclosing_complexity(start: int, end: int, facts: ModuleFacts, cx: dict[int, int]) -> int | None:
    # complexipy folds nested functions into their parent: report the parent's value.
    best: tuple[int, int] | None = None
    for span in facts.spans:
        if span.start_line <= start and end <= span.end_line and span.start_line in cx:
            size = span.end_line - span.start_line
            if best is None or size < best[0]:
                best = (size, cx[span.start_line])
    return None if best is None else best[1]


def _select(entries: list[TreeEntry], paths: Sequence[str]) -> list[TreeEntry]:
    if not paths:
        return entries
    wanted = [p.strip("/") for p in paths]
    return [e for e in entries if any(w in ("", ".") or e.path == w or e.path.startswith(w + "/") for w in wanted)]
