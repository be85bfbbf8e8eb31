"""API checks (CW2xx): module attributes, imported names and submodules that do not exist.

``requests.fetch_json(url)``, ``json.parse(text)`` and ``from os import joinpath`` are typical
inventions. Each is resolved against what is installed, without running untrusted code:

* standard-library modules are imported — they are part of the interpreter running us, and
  importing them is the only exact answer for their C parts (``os`` re-exports ``posix``);
* everything else is *read*: the module's source (and ``.pyi`` stub when there is one) is parsed
  and its top-level bindings collected, following ``from x import *`` and ``__all__``. Importing
  third-party code would execute it, and the project's own dependencies are exactly what a
  merge gate must not trust.

When the reader cannot be sure — a module ``__getattr__`` (lazy loaders), ``globals()`` tricks,
a compiled module without a stub, an unresolvable star import — the answer is "unknown" and
nothing is reported: a false alarm costs more trust than a missed one.

Example:
    >>> names = ModuleIndex().lookup("json")
    >>> names.has("loads"), names.has("parse")
    (True, False)
"""

from __future__ import annotations

import ast
import importlib
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.machinery import EXTENSION_SUFFIXES, ModuleSpec, PathFinder
from pathlib import Path
from types import ModuleType

from codewitness.checks.context import CheckContext, SourceFile
from codewitness.checks.findings import Finding

__all__ = ["ModuleIndex", "ModuleNames", "check_file", "run"]

#: Standard-library modules never imported for a lookup: importing them has visible side effects.
_NEVER_IMPORT = frozenset(
    {"antigravity", "this", "idlelib", "tkinter", "turtle", "turtledemo", "__main__", "pydoc_data"}
)


@dataclass(frozen=True)
class ModuleNames:
    """What a module is known to define.

    Attributes:
        name: the dotted module name.
        names: names bound at module level (or ``dir()`` of an imported stdlib module).
        submodules: names of modules inside the package.
        dynamic: the module may create names the reader cannot see; misses are "unknown".
        module: the imported module, for standard-library modules.
    """

    name: str
    names: frozenset[str]
    submodules: frozenset[str]
    dynamic: bool
    module: ModuleType | None = None

    def has(self, attr: str) -> bool | None:
        """True if defined, False if certainly not, None when the module is too dynamic to tell."""
        if attr in self.names or attr in self.submodules or (attr.startswith("__") and attr.endswith("__")):
            return True
        if self.module is not None:
            return hasattr(self.module, attr)  # a module __getattr__ answers here too
        return None if self.dynamic else False


class ModuleIndex:
    """Resolves module names to what they define; caches every answer for one run."""

    def __init__(self) -> None:
        self._cache: dict[str, ModuleNames | None] = {}
        self._busy: set[str] = set()

    def lookup(self, name: str) -> ModuleNames | None:
        """What module ``name`` defines, or ``None`` when it cannot be found or read."""
        if name in self._cache:
            return self._cache[name]
        if name in self._busy:
            return None  # an import cycle: let the outer reader mark itself dynamic
        self._busy.add(name)
        try:
            result = self._resolve(name)
        finally:
            self._busy.discard(name)
        self._cache[name] = result
        return result

    def exists(self, name: str) -> bool | None:
        """Whether module ``name`` can be found: True, False, or None when its parent cannot be read."""
        top = name.split(".")[0]
        if top in sys.stdlib_module_names or top in sys.builtin_module_names:
            if top in _NEVER_IMPORT:
                return None
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    importlib.import_module(name)
            except ModuleNotFoundError as exc:
                return False if exc.name == name else None  # a missing dependency of it is not its absence
            except Exception:
                return None
            return True
        if self._spec(top) is None:
            return None  # not installed: the dependency family reports it
        return self._spec(name) is not None

    # -- internals ----------------------------------------------------------------------------

    def _spec(self, name: str) -> ModuleSpec | None:
        parent = name.rpartition(".")[0]
        try:
            if not parent:
                return PathFinder.find_spec(name)
            parent_spec = self._spec(parent)
            if parent_spec is None or not parent_spec.submodule_search_locations:
                return None
            return PathFinder.find_spec(name, list(parent_spec.submodule_search_locations))
        except (ImportError, ValueError, OSError):
            return None

    def _resolve(self, name: str) -> ModuleNames | None:
        top = name.split(".")[0]
        if top in sys.stdlib_module_names or top in sys.builtin_module_names:
            return self._imported(name) if top not in _NEVER_IMPORT else None
        spec = self._spec(name)
        if spec is None:
            return None
        locations = list(spec.submodule_search_locations or [])
        submodules = frozenset(_submodules(locations))
        sources = _source_files(spec)
        if not sources:
            # A namespace package (only submodules) or a compiled module without a stub.
            return ModuleNames(name, frozenset(), submodules, dynamic=spec.origin not in (None, "namespace"))
        names: set[str] = set()
        dynamic = False
        for source in sources:
            try:
                text = source.read_text(encoding="utf-8")
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    tree = ast.parse(text)
            except (OSError, SyntaxError, ValueError, UnicodeDecodeError):
                return ModuleNames(name, frozenset(), submodules, dynamic=True)
            found, is_dynamic = self._collect(tree, name, is_package=bool(locations))
            names |= found
            dynamic = dynamic or is_dynamic
        return ModuleNames(name, frozenset(names), submodules, dynamic)

    def _imported(self, name: str) -> ModuleNames | None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                module = importlib.import_module(name)
        except Exception:
            return None
        locations = list(getattr(module, "__path__", []) or [])
        return ModuleNames(
            name,
            frozenset(dir(module)),
            frozenset(_submodules(locations)),
            dynamic=hasattr(module, "__getattr__"),
            module=module,
        )

    def _collect(self, tree: ast.Module, module: str, *, is_package: bool) -> tuple[set[str], bool]:
        names: set[str] = set()
        dynamic = False
        for node in _module_level(tree.body):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    names.update(_bound(target))
                    if isinstance(target, ast.Subscript | ast.Attribute):
                        dynamic = True  # globals()[...] = ..., sys.modules[...] = ...
                if (
                    any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets)
                    and node.value is not None
                ):
                    names.update(_strings(node.value))
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    names.add(alias.asname or alias.name.split(".")[0])
            elif isinstance(node, ast.ImportFrom):
                source = _absolute(node, module, is_package)
                for alias in node.names:
                    if alias.name != "*":
                        names.add(alias.asname or alias.name)
                        continue
                    star = self.lookup(source) if source else None
                    if star is None or star.dynamic:
                        dynamic = True
                    else:
                        # Over-inclusive on purpose (private names too): a wrong "exists" costs nothing.
                        names.update(star.names | star.submodules)
            elif isinstance(node, ast.For | ast.AsyncFor):
                names.update(_bound(node.target))
            elif isinstance(node, ast.With | ast.AsyncWith):
                for item in node.items:
                    if item.optional_vars is not None:
                        names.update(_bound(item.optional_vars))
            elif (
                isinstance(node, ast.Expr)
                and isinstance(node.value, ast.Call)
                and _is_dynamic_call(node.value)
            ):
                dynamic = True
        for inner in ast.walk(tree):
            if isinstance(inner, ast.Global):
                names.update(inner.names)
            elif isinstance(inner, ast.NamedExpr):
                names.update(_bound(inner.target))
        if "__getattr__" in names:
            dynamic = True
        return names, dynamic


def _module_level(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Statements that run at module level, including inside if/try/with/for/match blocks."""
    for node in body:
        yield node
        if isinstance(node, ast.If | ast.For | ast.AsyncFor | ast.While):
            yield from _module_level(node.body)
            yield from _module_level(node.orelse)
        elif isinstance(node, ast.With | ast.AsyncWith):
            yield from _module_level(node.body)
        elif isinstance(node, ast.Try | ast.TryStar):
            yield from _module_level(node.body)
            for handler in node.handlers:
                yield from _module_level(handler.body)
            yield from _module_level(node.orelse)
            yield from _module_level(node.finalbody)
        elif isinstance(node, ast.Match):
            for case in node.cases:
                yield from _module_level(case.body)


def _bound(target: ast.AST) -> set[str]:
    if isinstance(target, ast.Name):
        return {target.id}
    if isinstance(target, ast.Tuple | ast.List):
        return set().union(*(_bound(t) for t in target.elts)) if target.elts else set()
    if isinstance(target, ast.Starred):
        return _bound(target.value)
    return set()


def _strings(node: ast.AST) -> set[str]:
    return {n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)}


def _is_dynamic_call(call: ast.Call) -> bool:
    """``globals().update(...)``, ``exec(...)``, ``setattr(...)``, lazy loader ``attach(...)``."""
    func = call.func
    if isinstance(func, ast.Name):
        return func.id in ("exec", "setattr", "_setattr")
    if isinstance(func, ast.Attribute):
        inner = func.value
        if (
            isinstance(inner, ast.Call)
            and isinstance(inner.func, ast.Name)
            and inner.func.id in ("globals", "vars", "locals")
        ):
            return True
        return func.attr in ("attach", "attach_stub", "install")
    return False


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str | None:
    if node.level == 0:
        return node.module
    parts = module.split(".")
    base = parts if is_package else parts[:-1]
    if node.level - 1 > len(base) - 1 and node.level > 1:
        return None
    base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
    if not base:
        return None
    return ".".join(base + ([node.module] if node.module else []))


def _source_files(spec: ModuleSpec) -> list[Path]:
    """The files to read for a module: its ``.py`` and a ``.pyi`` stub beside it or beside the extension."""
    origin = spec.origin
    if not origin or origin in ("namespace", "built-in", "frozen"):
        return []
    path = Path(origin)
    found = []
    if path.suffix in (".py", ".pyi"):
        found.append(path)
        stub = path.with_suffix(".pyi")
        if path.suffix == ".py" and stub.is_file():
            found.append(stub)
        return found
    for suffix in sorted(EXTENSION_SUFFIXES, key=len, reverse=True):
        if path.name.endswith(suffix):
            stub = path.with_name(path.name[: -len(suffix)] + ".pyi")
            return [stub] if stub.is_file() else []
    return []


def _submodules(locations: list[str]) -> Iterator[str]:
    for location in locations:
        folder = Path(location)
        try:
            children = list(folder.iterdir())
        except OSError:
            continue
        for child in children:
            name = child.name
            if child.is_dir():
                if name.isidentifier() and not name.startswith("."):
                    yield name
            elif name.endswith((".py", ".pyi")):
                yield name.rsplit(".", 1)[0]
            else:
                for suffix in EXTENSION_SUFFIXES:
                    if name.endswith(suffix):
                        yield name[: -len(suffix)]
                        break


# -- using the index on a file ------------------------------------------------------------------


def _guarded_imports(f: SourceFile) -> set[int]:
    """Import nodes whose failure the code expects: optional imports and version/platform switches."""
    from codewitness.checks.deps import _optional_import_nodes

    guarded = _optional_import_nodes(f.of(ast.Try, ast.TryStar))
    for node in f.of(ast.If):
        if isinstance(node, ast.If):
            test = ast.unparse(node.test)
            if any(word in test for word in ("version_info", "platform", "PY3", "PY2", "hasattr")):
                for child in node.body + node.orelse:
                    guarded.update(
                        id(n) for n in ast.walk(child) if isinstance(n, ast.Import | ast.ImportFrom)
                    )
    return guarded


def _rebound_names(f: SourceFile) -> set[str]:
    """Names the file binds other than by import: an alias bound both ways is not trusted."""
    names: set[str] = {n.id for n in f.of(ast.Name) if not isinstance(n.ctx, ast.Load)}
    names.update(n.arg for n in f.of(ast.arg))
    names.update(n.name for n in f.of(ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
    names.update(n.name for n in f.of(ast.ExceptHandler, ast.MatchAs, ast.MatchStar) if n.name)
    for node in f.of(ast.Global, ast.Nonlocal):
        names.update(node.names)
    return names


def check_file(f: SourceFile, index: ModuleIndex) -> list[Finding]:
    """Report attributes, imported names and submodules of ``f`` that the installed modules lack."""
    tree = f.tree
    if tree is None:
        return []
    findings: list[Finding] = []
    guarded = _guarded_imports(f)
    aliases: dict[str, set[str]] = {}
    version = f"Python {sys.version_info.major}.{sys.version_info.minor}"

    def report(rule_id: str, line: int, col: int, message: str, module: str, name: str) -> None:
        if f.in_scope(line):
            findings.append(
                Finding(
                    rule_id,
                    f.rel,
                    line,
                    message,
                    column=col + 1,
                    snippet=f.line_text(line),
                    properties={"module": module, "name": name},
                )
            )

    def where(module: str) -> str:
        top = module.split(".")[0]
        return f"{version}'s {module}" if top in sys.stdlib_module_names else f"the installed {module}"

    for node in f.of(ast.Import, ast.ImportFrom):
        if isinstance(node, ast.Import) and id(node) not in guarded:
            for alias in node.names:
                if index.exists(alias.name) is False:
                    report(
                        "CW203",
                        node.lineno,
                        node.col_offset,
                        f"module {alias.name!r} does not exist",
                        alias.name,
                        alias.name,
                    )
                    continue
                bound = alias.asname or alias.name.split(".")[0]
                aliases.setdefault(bound, set()).add(alias.name if alias.asname else alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and id(node) not in guarded:
            exists = index.exists(node.module)
            if exists is False:
                report(
                    "CW203",
                    node.lineno,
                    node.col_offset,
                    f"module {node.module!r} does not exist",
                    node.module,
                    node.module,
                )
                continue
            names = index.lookup(node.module) if exists else None
            if names is None:
                continue
            for alias in node.names:
                if alias.name == "*":
                    continue
                sub = f"{node.module}.{alias.name}"
                if alias.name in names.submodules:
                    aliases.setdefault(alias.asname or alias.name, set()).add(sub)
                elif names.has(alias.name) is False:
                    report(
                        "CW202",
                        node.lineno,
                        node.col_offset,
                        f"{where(node.module)} has no {alias.name!r}",
                        node.module,
                        alias.name,
                    )

    rebound = _rebound_names(f)
    modules = {
        name: next(iter(mods)) for name, mods in aliases.items() if len(mods) == 1 and name not in rebound
    }
    if not modules:
        return findings
    stored = {(ast.unparse(n.value), n.attr) for n in f.of(ast.Attribute) if not isinstance(n.ctx, ast.Load)}
    inner: set[int] = set()
    for node in f.of(ast.Attribute):
        if id(node) in inner:
            continue
        chain: list[ast.Attribute] = []
        cur: ast.expr = node
        while isinstance(cur, ast.Attribute):
            chain.append(cur)
            cur = cur.value
        inner.update(id(c) for c in chain)
        if not isinstance(cur, ast.Name) or cur.id not in modules:
            continue
        module = modules[cur.id]
        shown = module  # what the user wrote (os.path), not the real module (posixpath)
        for attr_node in reversed(chain):
            if (ast.unparse(attr_node.value), attr_node.attr) in stored:
                break
            names = index.lookup(module)
            if names is None:
                break
            known = names.has(attr_node.attr)
            if known is False:
                report(
                    "CW201",
                    attr_node.lineno,
                    attr_node.col_offset,
                    f"{where(shown)} has no attribute {attr_node.attr!r}",
                    shown,
                    attr_node.attr,
                )
                break
            value = getattr(names.module, attr_node.attr, None) if names.module is not None else None
            if isinstance(value, ModuleType):
                module = value.__name__  # os.path is posixpath
                shown = f"{shown}.{attr_node.attr}"
            elif known and attr_node.attr in names.submodules:
                module = f"{module}.{attr_node.attr}"
                shown = f"{shown}.{attr_node.attr}"
            else:
                break
    return findings


def run(ctx: CheckContext) -> list[Finding]:
    """Check every in-scope Python file."""
    index = ModuleIndex()
    findings: list[Finding] = []
    for f in ctx.python_files():
        findings.extend(check_file(f, index))
    return findings
