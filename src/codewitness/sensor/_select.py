"""Which functions to instrument, and how to find them in loaded modules.

A :class:`Target` is one function by ``module`` + ``qualname`` with what the manifest says about
its origin. :func:`select_targets` combines the manifest with the ``include``/``exclude`` glob
patterns of the config: the manifest's watched functions (``Manifest.watched``) are selected, and
every function it lists, watched or not, keeps its origin and generations wherever it turns up
(an ``include`` pattern, an invariant breach of a decorated function). :func:`find_functions`
walks a loaded module and yields every function whose ``module.qualname`` is wanted, together
with the place it is stored (module or class namespace) so a backend can either swap it (3.11)
or watch its code object (3.12+).
"""

from __future__ import annotations

import fnmatch
import re
import types
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from codewitness.model import Manifest, ManifestFunction

__all__ = ["Found", "Selection", "Target", "find_functions", "origin_of", "select_targets"]


@dataclass(frozen=True)
class Target:
    """One function the sensor watches, and what is known about who wrote it."""

    module: str
    qualname: str
    origin: str
    ai_share: float = 0.0
    generation_ids: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    agents: tuple[str, ...] = ()
    path: str = ""
    start_line: int = 0

    @property
    def name(self) -> str:
        """``module.qualname`` (OpenTelemetry's ``code.function.name``)."""
        return f"{self.module}.{self.qualname}"

    def facts(self) -> dict[str, Any]:
        """What every record about this function carries: its name, origin and generations."""
        return {
            "function": self.name,
            "origin": self.origin,
            "ai_share": self.ai_share,
            "generation_ids": list(self.generation_ids),
            "models": list(self.models),
            "path": self.path,
            "line": self.start_line,
        }


def origin_of(function: ManifestFunction) -> str:
    """``ai`` when the manifest says every line is AI-written, ``mixed`` when some are."""
    return "ai" if function.ai_share >= 0.999 else ("mixed" if function.ai_share > 0 else "human")


@dataclass(frozen=True)
class Selection:
    """The manifest's functions plus the config's patterns.

    ``by_name`` are the functions watched by default (the manifest's watched ones); ``known`` every
    function the manifest lists (all with AI-written lines). ``origin`` of a function the manifest
    does not list is ``human`` when a manifest was read and ``unknown`` when none was.
    """

    by_name: dict[str, Target]
    include: tuple[str, ...]
    exclude: tuple[str, ...]
    have_manifest: bool
    known: dict[str, Target] = field(default_factory=dict)

    def wanted(self, module: str, qualname: str) -> Target | None:
        """The target for ``module.qualname``, or ``None`` when it is not selected."""
        if _is_own(module):
            return None
        name = f"{module}.{qualname}"
        if any(fnmatch.fnmatchcase(name, pattern) for pattern in self.exclude):
            return None
        target = self.by_name.get(name)
        if target is not None:
            return target
        if any(fnmatch.fnmatchcase(name, pattern) for pattern in self.include):
            listed = self.known.get(name)  # listed in the manifest but below its watch threshold
            return listed or Target(module, qualname, origin="human" if self.have_manifest else "unknown")
        return None

    def about(self, name: str) -> Target | None:
        """What is known of ``module.qualname``'s origin, watched or not (``None``: nothing, no manifest)."""
        target = self.known.get(name) or self.by_name.get(name)
        if target is not None or not self.have_manifest:
            return target
        module, _, qualname = name.rpartition(".")
        # A qualname has dots of its own (``Cart.add``): the split is only for the record's fields,
        # which carry ``module.qualname`` whole either way.
        return Target(module, qualname, origin="human")

    def may_contain(self, module: str) -> bool:
        """Whether functions of ``module`` can be selected at all (a cheap, generous test at import)."""
        if _is_own(module):
            return False
        if module in self.modules:
            return True
        dotted = module + "."
        for pattern in self.include:
            # The literal text before the first wildcard must agree with "module." as far as both go.
            head = re.split(r"[*?\[]", pattern, maxsplit=1)[0]
            if dotted.startswith(head) or head.startswith(dotted):
                return True
        return False

    @property
    def modules(self) -> frozenset[str]:
        """Modules named by the manifest."""
        return frozenset(t.module for t in self.by_name.values())


def _is_own(module: str) -> bool:
    # The sensor never watches itself, whatever the patterns say: its own calls would recurse.
    return module == "codewitness" or module.startswith("codewitness.")


def select_targets(manifest: Manifest | None, include: Sequence[str] = (), exclude: Sequence[str] = ()) -> Selection:
    """Build the selection from a manifest (may be ``None``) and glob patterns on ``module.qualname``."""
    known: dict[str, Target] = {}
    for f in manifest.functions if manifest else ():
        known[f.name] = Target(
            module=f.module,
            qualname=f.qualname,
            origin=origin_of(f),
            ai_share=f.ai_share,
            generation_ids=f.generation_ids,
            models=f.models,
            agents=f.agents,
            path=f.path,
            start_line=f.start_line,
        )
    by_name = {f.name: known[f.name] for f in manifest.watched} if manifest else {}
    return Selection(by_name, tuple(include), tuple(exclude), have_manifest=manifest is not None, known=known)


@dataclass(frozen=True, slots=True)
class Found:
    """A selected function in a loaded module.

    ``owner`` is the module or class whose namespace holds it under ``attribute``; ``kind`` says
    how it is stored there (``function``, ``staticmethod`` or ``classmethod``). Nested functions
    (``<locals>``) have no owner: only their code object can be watched.
    """

    target: Target
    function: types.FunctionType | None
    code: types.CodeType
    owner: Any
    attribute: str
    kind: str


def find_functions(module: types.ModuleType, selection: Selection) -> Iterator[Found]:
    """Every selected function defined in ``module`` (classes walked, nested code included)."""
    name = getattr(module, "__name__", None)
    if not isinstance(name, str):
        return
    seen: set[int] = set()
    yield from _walk_namespace(module, vars(module), name, "", selection, seen, _from_file(module))


def _from_file(module: types.ModuleType) -> bool:
    """Whether ``module`` was loaded from a file (not built by ``exec`` of a string)."""
    file = getattr(module, "__file__", None)
    return isinstance(file, str) and not file.startswith("<")


def _generated(code: types.CodeType, from_file: bool) -> bool:
    """Code made at run time from a string (``dataclass``'s ``__init__``/``__eq__``, ``namedtuple``'s
    ``__new__``, attrs): nobody wrote it in the module's file, so it is no app function of its own."""
    return from_file and code.co_filename.startswith("<")


def _walk_namespace(
    owner: Any,
    namespace: dict[str, Any],
    module: str,
    prefix: str,
    selection: Selection,
    seen: set[int],
    from_file: bool,
) -> Iterator[Found]:
    for attribute, raw in list(namespace.items()):
        kind = "function"
        value = raw
        if isinstance(raw, staticmethod | classmethod):
            kind = type(raw).__name__
            value = raw.__func__
        if isinstance(value, types.FunctionType):
            if value.__module__ != module or id(value) in seen or not value.__qualname__.startswith(prefix):
                continue
            seen.add(id(value))
            code = _genuine_code(value)
            if _generated(code, from_file):
                continue
            target = selection.wanted(module, value.__qualname__)
            if target is not None:
                yield Found(target, value, code, owner, attribute, kind)
            yield from _nested(code, module, selection, seen)
        elif isinstance(value, type) and value.__module__ == module and id(value) not in seen:
            if not value.__qualname__.startswith(prefix):
                continue
            seen.add(id(value))
            yield from _walk_namespace(
                value, dict(vars(value)), module, value.__qualname__ + ".", selection, seen, from_file
            )


def _genuine_code(function: types.FunctionType) -> types.CodeType:
    """The code object that really is ``function``'s body.

    A ``functools.wraps`` decorator leaves a wrapper whose ``__qualname__`` is the original's but
    whose code is the decorator's (shared by every function it decorates); follow ``__wrapped__``
    to the function whose code carries the same qualified name.
    """
    current: Any = function
    for _ in range(8):
        if isinstance(current, types.FunctionType) and current.__code__.co_qualname == current.__qualname__:
            return current.__code__
        current = getattr(current, "__wrapped__", None)
        if current is None:
            break
    return function.__code__


def _nested(code: types.CodeType, module: str, selection: Selection, seen: set[int]) -> Iterator[Found]:
    """Functions defined inside ``code``; lambdas and comprehensions (``<lambda>``, ``<genexpr>``) are
    parts of the function that holds them, not functions of their own, and are left out."""
    for const in code.co_consts:
        if isinstance(const, types.CodeType) and id(const) not in seen:
            seen.add(id(const))
            target = None if const.co_name.startswith("<") else selection.wanted(module, const.co_qualname)
            if target is not None:
                yield Found(target, None, const, None, const.co_name, "nested")
            yield from _nested(const, module, selection, seen)
