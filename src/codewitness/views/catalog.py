"""The code as the dashboard lists it: every function (attributed or seen at runtime) and the file tree.

* :func:`function_catalog` -- functions from the attribution report of the repository (origin,
  AI share, human edits, generations, risk) joined with their runtime summaries (calls, errors,
  p95, breaches); a function seen only at runtime is listed with the origin the sensor's manifest
  gave it. Filterable by origin and scope, sortable, one page at a time.
* :func:`code_tree` -- the repository's folders and files with line counts by origin, folders
  summed over what they hold, in tree order.
* :class:`ReportMemo` -- the attribution report of a repository, built once per commit.

Example:
    >>> memo = ReportMemo(Path("."))  # doctest: +SKIP
    >>> page = function_catalog(store, memo.report(store), origin="ai+mixed", sort="errors", limit=20)  # doctest: +SKIP
    >>> page.items[0]["function"], page.total  # doctest: +SKIP
    ('shop.pricing.total', 3)
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TypedDict, get_args

from codewitness.errors import CodewitnessError, UsageError
from codewitness.views.paging import Page, check_window

if TYPE_CHECKING:
    from codewitness.attribution.report import Report
    from codewitness.store import Store
    from codewitness.store.events import FunctionTotals

__all__ = [
    "CATALOG_SORTS",
    "ORIGIN_FILTERS",
    "FunctionEntry",
    "ReportMemo",
    "TreeNode",
    "catalog_entries",
    "code_tree",
    "function_catalog",
    "origin_of_share",
    "with_latency",
]

CatalogSort = Literal["origin", "name", "calls", "errors", "p95", "breaches", "risk"]
CATALOG_SORTS: tuple[CatalogSort, ...] = get_args(CatalogSort)
#: ``origin=`` filters: one origin, or ``ai+mixed`` for everything an agent wrote.
ORIGIN_FILTERS = ("ai", "mixed", "human", "unknown", "ai+mixed")


class FunctionEntry(TypedDict):
    """One function in the catalog (``calls`` and the rest are 0 when it never ran in scope)."""

    function: str
    path: str | None
    start_line: int | None
    end_line: int | None
    origin: str
    ai_share: float
    human_edit_share: float
    generations: list[str]
    models: list[str]
    risk: float
    calls: int
    errors: int
    error_rate: float
    p95_ms: float
    breaches: int
    last_seen: str | None
    services: list[str]


def origin_of_share(ai_share: float, *, known: bool = True) -> str:
    """A function's origin from its AI share: ``ai`` (all), ``mixed`` (some), ``human`` (none)."""
    if not known:
        return "unknown"
    if ai_share >= 1.0:
        return "ai"
    return "mixed" if ai_share > 0 else "human"


def _matches_origin(origin: str, wanted: str | None) -> bool:
    if wanted is None:
        return True
    return origin in ("ai", "mixed") if wanted == "ai+mixed" else origin == wanted


_ORIGIN_RANK = {"ai": 0, "mixed": 1, "human": 2, "unknown": 3}
_ORDER: dict[str, Callable[[FunctionEntry], tuple[float | str, ...]]] = {
    "origin": lambda e: (_ORIGIN_RANK.get(e["origin"], 4), -e["calls"], e["function"]),
    "name": lambda e: (e["function"],),
    "calls": lambda e: (-e["calls"], e["function"]),
    "errors": lambda e: (-e["errors"], -e["error_rate"], e["function"]),
    "p95": lambda e: (-e["p95_ms"], e["function"]),
    "breaches": lambda e: (-e["breaches"], e["function"]),
    "risk": lambda e: (-e["risk"], e["function"]),
}


def function_catalog(
    store: Store,
    report: Report | None,
    *,
    since: datetime | None = None,
    origin: str | None = None,
    service: str | None = None,
    revision: str | None = None,
    search: str | None = None,
    sort: str = "origin",
    limit: int = 50,
    offset: int = 0,
) -> Page[FunctionEntry]:
    """Every known function, filtered, sorted, one page.

    Args:
        store: an open store (runtime facts).
        report: the repository's attribution report, or ``None`` (runtime facts only).
        since: runtime facts since then.
        origin: one of :data:`ORIGIN_FILTERS`.
        service: runtime facts of this service only.
        revision: runtime facts of this revision only.
        search: only functions whose name or path contains this text.
        sort: one of :data:`CATALOG_SORTS`.
        limit: page size.
        offset: where the page starts.

    Raises:
        UsageError: an unknown ``origin`` or ``sort``, or a bad page window.
    """
    if origin is not None and origin not in ORIGIN_FILTERS:
        raise UsageError(f"origin is one of {', '.join(ORIGIN_FILTERS)}; not {origin!r}")
    if sort not in CATALOG_SORTS:
        raise UsageError(f"sort is one of {', '.join(CATALOG_SORTS)}; not {sort!r}")
    check_window(limit, offset)
    entries = catalog_entries(store, report, since=since, service=service, revision=revision)
    needle = (search or "").strip().lower()
    chosen = [
        e
        for e in entries
        if _matches_origin(e["origin"], origin)
        and (not needle or needle in e["function"].lower() or needle in (e["path"] or "").lower())
    ]
    if sort == "p95":
        with_latency(store, chosen, since=since, service=service, revision=revision)  # all of them, to order
    chosen.sort(key=_ORDER[sort])
    page = Page.of(chosen, limit=limit, offset=offset)
    if sort != "p95":
        with_latency(store, list(page.items), since=since, service=service, revision=revision)
    return page


def catalog_entries(
    store: Store,
    report: Report | None,
    *,
    since: datetime | None = None,
    service: str | None = None,
    revision: str | None = None,
    totals: list[FunctionTotals] | None = None,
) -> list[FunctionEntry]:
    """Every known function, unfiltered and unsorted: the attributed ones joined with their runtime.

    Calls, errors and breaches are summed by the database; ``p95_ms`` is left at 0 here (it needs
    each function's histograms): :func:`with_latency` fills it for the entries shown. ``totals``:
    :func:`~codewitness.store.events.function_totals` for this scope, when the caller has them.
    """
    from codewitness.store.events import Scope, breach_counts, breach_rows, function_totals

    entries: dict[str, FunctionEntry] = {}
    if report is not None:
        for f in report.functions:
            r = f.ref
            entries[r.qualname] = _entry(
                r.qualname,
                path=r.path,
                start_line=r.start_line,
                end_line=r.end_line,
                origin=origin_of_share(r.ai_share),
                ai_share=r.ai_share,
                human_edit_share=r.human_edit_share,
                generations=list(r.generation_ids),
                models=list(r.models),
                risk=f.risk,
            )
    scope = Scope(since=since, service=service, revision=revision)
    for t in function_totals(store, scope) if totals is None else totals:
        entry = entries.get(t["function"])
        if entry is None:
            entry = entries[t["function"]] = _entry(
                t["function"],
                path=t["path"],
                start_line=t["line"],
                end_line=None,
                origin=t["origin"],
                ai_share=t["ai_share"],
                human_edit_share=0.0,
                generations=t["generation_ids"],
                models=t["models"],
                risk=0.0,
            )
        entry["calls"] = t["calls"]
        entry["errors"] = t["errors"]
        entry["error_rate"] = round(t["errors"] / t["calls"], 6) if t["calls"] else 0.0
        entry["last_seen"] = t["last_seen"]
        entry["services"] = t["services"]
    for name, n in breach_counts(store, scope).items():
        entry = entries.get(name)
        if entry is None:
            # A guarded function the sensor does not time is known by its breaches alone.
            (row,), _ = breach_rows(
                store, Scope(function=name, since=since, service=service, revision=revision), limit=1
            )
            entry = entries[name] = _entry(
                name,
                path=None,
                start_line=None,
                end_line=None,
                origin=row["origin"],
                ai_share=1.0 if row["origin"] == "ai" else 0.0,
                human_edit_share=0.0,
                generations=[],
                models=[],
                risk=0.0,
            )
            entry["services"] = [row["service"]]
            entry["last_seen"] = row["time"]
        entry["breaches"] = n
    return list(entries.values())


def _entry(
    function: str,
    *,
    path: str | None,
    start_line: int | None,
    end_line: int | None,
    origin: str,
    ai_share: float,
    human_edit_share: float,
    generations: list[str],
    models: list[str],
    risk: float,
) -> FunctionEntry:
    return {
        "function": function,
        "path": path,
        "start_line": start_line,
        "end_line": end_line,
        "origin": origin,
        "ai_share": round(ai_share, 4),
        "human_edit_share": round(human_edit_share, 4),
        "generations": generations,
        "models": models,
        "risk": round(risk, 4),
        "calls": 0,
        "errors": 0,
        "error_rate": 0.0,
        "p95_ms": 0.0,
        "breaches": 0,
        "last_seen": None,
        "services": [],
    }


def with_latency(
    store: Store,
    entries: list[FunctionEntry],
    *,
    since: datetime | None = None,
    service: str | None = None,
    revision: str | None = None,
) -> None:
    """Fill ``p95_ms`` of ``entries`` (those that ran) from their merged histograms."""
    from codewitness.store.events import Scope, latency_quantiles

    ran = [e["function"] for e in entries if e["calls"]]
    if not ran:
        return
    quantiles = latency_quantiles(store, Scope(since=since, service=service, revision=revision), ran)
    for e in entries:
        if e["function"] in quantiles:
            e["p95_ms"] = quantiles[e["function"]][0]


class TreeNode(TypedDict):
    """A folder or file of the tree, with its non-blank lines by origin (a folder: summed)."""

    path: str
    name: str
    kind: str
    depth: int
    lines: int
    ai: int
    mixed: int
    human: int
    unknown: int
    ai_share: float


def _node(path: str, kind: str) -> TreeNode:
    name = path.rsplit("/", 1)[-1] if path else "."
    depth = path.count("/") + (1 if path else 0)
    return {
        "path": path,
        "name": name,
        "kind": kind,
        "depth": depth,
        "lines": 0,
        "ai": 0,
        "mixed": 0,
        "human": 0,
        "unknown": 0,
        "ai_share": 0.0,
    }


def code_tree(report: Report) -> list[TreeNode]:
    """Folders and files in tree order (a folder before what it holds), the root first as ``"."``."""
    nodes: dict[str, TreeNode] = {"": _node("", "dir")}
    for path, shares in report.modules.items():
        parts = path.split("/")
        chain = ["/".join(parts[:i]) for i in range(1, len(parts))]
        for folder in chain:
            nodes.setdefault(folder, _node(folder, "dir"))
        node = nodes[path] = _node(path, "file")
        for target in (node, nodes[""], *(nodes[f] for f in chain)):
            target["lines"] += shares.lines
            target["ai"] += shares.ai
            target["mixed"] += shares.mixed
            target["human"] += shares.human
            target["unknown"] += shares.unknown
    for node in nodes.values():
        node["ai_share"] = round((node["ai"] + node["mixed"]) / node["lines"], 4) if node["lines"] else 0.0

    def key(path: str) -> tuple[tuple[int, str], ...]:
        # Folders before files at each level, then by name.
        parts = path.split("/") if path else []
        return tuple(
            (0 if i < len(parts) - 1 or nodes[path]["kind"] == "dir" else 1, part) for i, part in enumerate(parts)
        )

    return [nodes[p] for p in sorted(nodes, key=key)]


class ReportMemo:
    """The attribution report of one repository, built once per commit it is asked at.

    Thread-safe; building goes through the store's attribution cache, so a new commit re-reads
    only the files it changed.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()
        self._reports: dict[str, Report] = {}

    def commit(self, rev: str = "HEAD") -> str | None:
        """The commit ``rev`` names, or ``None`` (no commits yet, not a repository)."""
        from codewitness._git import resolve

        try:
            return resolve(self.root, rev)
        except CodewitnessError:
            return None

    def report(self, store: Store, rev: str = "HEAD") -> Report | None:
        """The report at ``rev``, or ``None`` when the repository has no such commit."""
        from codewitness.attribution.report import build_report
        from codewitness.attribution.storecache import store_cache

        commit = self.commit(rev)
        if commit is None:
            return None
        with self._lock:
            found = self._reports.get(commit)
            if found is None:
                found = build_report(self.root, commit, cache=store_cache(store))
                if len(self._reports) >= 32:
                    self._reports.pop(next(iter(self._reports)))
                self._reports[commit] = found
        return found
