"""Function context: everything known about one function, joined.

Origin (who wrote its lines: AI share, human edits, generations, models -- from attribution at a
revision), runtime (calls, errors, latency), its recent exceptions with their inputs and its
invariant breaches (from the store), and the generations that wrote it as the ledger records them
(prompt, model, parameters). Asked by ``module.qualname`` or by ``path:line``.

Without a repository (a production store read elsewhere), the origin is what the sensor's
manifest said at runtime.

Example:
    >>> ctx = function_context(store, "shop/pricing.py:12", root=Path("."))  # doctest: +SKIP
    >>> ctx.qualname, ctx.origin.ai_share, ctx.runtime["calls"], [g.id for g in ctx.generations]  # doctest: +SKIP
    ('shop.pricing.refund', 1.0, 2, ['gen_bce685ec1a2817389667'])
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

from codewitness.errors import CodewitnessError, InputError, NotFoundError
from codewitness.model import FunctionRef, Generation
from codewitness.store.queries import BreachSummary, ExceptionSummary, FunctionRuntime, summarize

if TYPE_CHECKING:
    from codewitness.attribution.blame import Attributor
    from codewitness.attribution.cache import AttributionCache
    from codewitness.store import Store

__all__ = ["FunctionContext", "FunctionContextJson", "function_context", "parse_target"]

_FILE_LINE = re.compile(r"^(?P<path>.+):(?P<line>\d+)$")


class OriginJson(TypedDict):
    """A function's origin roll-up."""

    ai_share: float
    human_edit_share: float
    generations: list[str]
    models: list[str]
    agents: list[str]
    source: str


class GenerationJson(TypedDict):
    """A generation that wrote the function, as the ledger records it."""

    id: str
    agent: str
    model: str
    prompt_name: str | None
    prompt_version: int | None
    prompt_hash: str
    created_at: str


class FunctionContextJson(TypedDict):
    """The ``function --json`` document."""

    function: str
    path: str | None
    start_line: int | None
    end_line: int | None
    revision: str | None
    origin: OriginJson | None
    runtime: FunctionRuntime | None
    exceptions: list[ExceptionSummary]
    breaches: list[BreachSummary]
    generations: list[GenerationJson]


@dataclass(frozen=True)
class FunctionContext:
    """One function: origin x runtime x breaches x exceptions x generations.

    Attributes:
        qualname: ``module.qualname``.
        path: its file, repository-relative (``None`` when neither git nor the sensor knows it).
        start_line: first line at ``revision`` (decorators included), when known.
        end_line: last line, when known.
        revision: the commit the origin was read at (``None``: origin from the runtime records).
        origin: the roll-up of its lines' origins (``None`` when nothing is known).
        origin_source: ``"attribution"`` (blame at ``revision``) or ``"runtime"`` (the manifest
            the sensor ran with).
        runtime: its runtime summary, or ``None`` when the store has no facts for it.
        generations: the generations that wrote it which the ledger holds, in origin order.
    """

    qualname: str
    path: str | None
    start_line: int | None
    end_line: int | None
    revision: str | None
    origin: FunctionRef | None
    origin_source: str
    runtime: FunctionRuntime | None
    generations: tuple[Generation, ...]

    @property
    def exceptions(self) -> list[ExceptionSummary]:
        """Recent exceptions, newest first."""
        return self.runtime["exceptions"] if self.runtime else []

    @property
    def breaches(self) -> list[BreachSummary]:
        """Recent invariant breaches, newest first."""
        return self.runtime["breaches"] if self.runtime else []

    def to_dict(self) -> FunctionContextJson:
        """The JSON document (``codewitness function --json``)."""
        o = self.origin
        return {
            "function": self.qualname,
            "path": self.path,
            "start_line": self.start_line,
            "end_line": self.end_line,
            "revision": self.revision,
            "origin": None
            if o is None
            else {
                "ai_share": round(o.ai_share, 4),
                "human_edit_share": round(o.human_edit_share, 4),
                "generations": list(o.generation_ids),
                "models": list(o.models),
                "agents": list(o.agents),
                "source": self.origin_source,
            },
            "runtime": self.runtime,
            "exceptions": self.exceptions,
            "breaches": self.breaches,
            "generations": [
                {
                    "id": g.id,
                    "agent": g.agent,
                    "model": g.model,
                    "prompt_name": g.prompt_name,
                    "prompt_version": g.prompt_version,
                    "prompt_hash": g.prompt_hash,
                    "created_at": g.created_at.isoformat(),
                }
                for g in self.generations
            ],
        }


def parse_target(target: str) -> tuple[str, int] | str:
    """``"path:LINE"`` -> ``(path, LINE)``; anything else is a ``module.qualname``.

    Raises:
        InputError: an empty target, or line 0.
    """
    text = target.strip()
    if not text:
        raise InputError("name a function: module.qualname or path:LINE")
    found = _FILE_LINE.match(text)
    if found is None:
        if any(ch in text for ch in "*?["):
            raise InputError(f"{target}: name one function, not a pattern (`codewitness runtime -f` takes patterns)")
        return text
    line = int(found["line"])
    if line < 1:
        raise InputError(f"{target}: lines are numbered from 1")
    return found["path"], line


def _module_of(tree: frozenset[str], qualname: str) -> tuple[str, str] | None:
    """The file and module of the longest module prefix of ``qualname`` among the ``tree``'s paths."""
    from codewitness.attribution.functions import module_name

    best: tuple[str, str] | None = None
    for path in sorted(tree):
        if not path.endswith(".py"):
            continue
        module = module_name(path, tree)
        if qualname.startswith(module + ".") and (best is None or len(module) > len(best[1])):
            best = (path, module)
    return best


def _attributed(
    engine: Attributor, tree: frozenset[str], path: str, *, line: int | None = None, local: str | None = None
) -> tuple[str, FunctionRef] | None:
    """The function at ``line`` (innermost) or named ``local`` in ``path``, with its origin roll-up."""
    from codewitness.attribution.functions import edited_lines, function_spans, module_name, rollup

    result = engine.attribute_path(path)
    source = "\n".join(ln.text for ln in result.lines)
    try:
        spans = function_spans(source)
    except (SyntaxError, ValueError, RecursionError):
        return None
    if line is not None:
        if line > len(result.lines):
            raise InputError(f"{path} has {len(result.lines)} lines at {engine.rev}; line {line} is past its end")
        around = [s for s in spans if s.start_line <= line <= s.end_line]
        chosen = min(around, key=lambda s: s.end_line - s.start_line, default=None)
    else:
        chosen = next((s for s in spans if s.qualname == local), None)
    if chosen is None:
        return None
    module = module_name(path, tree)
    edited = edited_lines(result.lines, spans, engine.commit_times())
    ref = rollup(module, path, chosen, result.lines, edited)
    return ref.qualname, ref


def _runtime_ref(runtime: FunctionRuntime) -> FunctionRef:
    line = runtime["line"] or 0
    return FunctionRef(
        qualname=runtime["function"],
        path=runtime["path"] or "",
        start_line=line,
        end_line=line,
        ai_share=runtime["ai_share"],
        generation_ids=tuple(runtime["generation_ids"]),
        models=tuple(runtime["models"]),
    )


def function_context(
    store: Store,
    target: str,
    *,
    root: Path | None = None,
    rev: str = "HEAD",
    cache: AttributionCache | None = None,
) -> FunctionContext:
    """Everything known about one function.

    Args:
        store: an open store (runtime facts, the ledger).
        target: ``module.qualname`` or ``path:LINE`` (a path relative to the repository root).
        root: the repository, for the origin at ``rev``; ``None`` reads the origin from runtime records.
        rev: the revision to attribute.
        cache: an attribution cache.

    Raises:
        InputError: a bad target, or a ``path:LINE`` without a repository or outside any function.
        NotFoundError: nothing is known about the function.
        GitError: git failed.
    """
    from codewitness import ledger

    wanted = parse_target(target)
    found: tuple[str, FunctionRef] | None = None
    revision: str | None = None
    if root is not None:
        from codewitness.attribution.blame import Attributor

        with Attributor(root, rev, cache=cache) as engine:
            revision = engine.commit
            tree = frozenset(e.path for e in engine.files())
            if isinstance(wanted, tuple):
                path, line = wanted
                found = _attributed(engine, tree, path, line=line)
                if found is None:
                    raise InputError(f"line {line} of {path} is not inside a Python function at {rev}")
            else:
                located = _module_of(tree, wanted)
                if located is not None:
                    found = _attributed(engine, tree, located[0], local=wanted[len(located[1]) + 1 :])
    elif isinstance(wanted, tuple):
        raise InputError(f"{target}: a path:LINE needs the repository; run this inside it, or give module.qualname")
    qualname = found[0] if found else str(wanted)
    runtime = next(iter(summarize(store, function=qualname)), None)
    if found is None and runtime is None:
        raise NotFoundError(
            f"nothing is known about {qualname}: not a function at {rev} and no runtime facts "
            "(check the name with `codewitness report` or `codewitness runtime`)"
        )
    ref = found[1] if found else _runtime_ref(runtime) if runtime else None
    ids: dict[str, None] = dict.fromkeys(ref.generation_ids if ref else ())
    ids.update(dict.fromkeys(runtime["generation_ids"] if runtime else ()))
    generations: list[Generation] = []
    for gid in ids:
        try:
            recorded = ledger.get(store, gid)
        except CodewitnessError:
            continue  # captured elsewhere, or only in notes: the id is all there is
        if recorded.id == gid:
            generations.append(recorded)
    return FunctionContext(
        qualname=qualname,
        path=(ref.path or None) if ref else None,
        start_line=(ref.start_line or None) if ref else None,
        end_line=(ref.end_line or None) if ref else None,
        revision=revision if found else None,
        origin=ref,
        origin_source="attribution" if found else "runtime",
        runtime=runtime,
        generations=tuple(generations),
    )
