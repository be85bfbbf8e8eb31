"""API checks (CW2xx): module attributes, imported names and submodules that do not exist.

``requests.fetch_json(url)``, ``json.parse(text)`` and ``from os import joinpath`` are typical
inventions. Each is resolved against what is installed, without running untrusted code:

* standard-library modules are imported — they are part of the interpreter running us, and
  importing them is the only exact answer for their C parts (``os`` re-exports ``posix``) — and
  their typeshed stubs (from ``typeshed_client``) are read too, so that names of other platforms
  and other Python versions (``os.startfile``, ``sys.getwindowsversion``, ``typing.override`` on
  3.11) count as existing: code guarded by a platform or version test is not a hallucination;
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
import dataclasses
import importlib
import re
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.machinery import EXTENSION_SUFFIXES, ModuleSpec, PathFinder
from pathlib import Path
from types import ModuleType
from typing import Any

from codewitness.checks.context import CheckContext, SourceFile, project_roots, walk_by_type
from codewitness.checks.findings import Finding

__all__ = ["ModuleIndex", "ModuleNames", "check_file", "editable_candidates", "editable_sources", "run"]

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
    later: Callable[[], tuple[frozenset[str], frozenset[str], bool] | None] | None = field(
        default=None, compare=False, repr=False
    )
    _late: list[tuple[frozenset[str], frozenset[str], bool] | None] = field(
        default_factory=list, compare=False, repr=False
    )

    def has(self, attr: str) -> bool | None:
        """True if defined, False if certainly not, None when the module is too dynamic to tell."""
        if attr in self.names or attr in self.submodules or (attr.startswith("__") and attr.endswith("__")):
            return True
        if self.module is not None and hasattr(self.module, attr):  # a module __getattr__ answers here too
            return True
        if self.later is not None:
            if not self._late:
                self._late.append(self.later())  # read once, on the first miss
            extra = self._late[0]
            if extra is not None and (attr in extra[0] or attr in extra[1]):
                return True  # another platform's or version's name
        if self.module is not None:
            return False
        return None if self.dynamic else False


class ModuleIndex:
    """Resolves module names to what they define; caches every answer for one run.

    Args:
        local_roots: folders holding the checked project's own top-level packages and modules (its root,
            ``src/``, ``lib/``). Those names are read from there first: the code under check imports the
            project's working tree, whatever copy of it may be installed.
    """

    def __init__(
        self, local_roots: Sequence[Path] = (), editable: Callable[[], Mapping[str, Path]] | None = None
    ) -> None:
        #: Where editable installs keep their top-level names (default: read from the distributions' metadata).
        self._editable = editable or _editable_sources
        self._cache: dict[str, ModuleNames | None] = {}
        self._busy: set[str] = set()
        #: Every module name asked about since the caller last cleared it (result caches depend on these).
        self.consulted: set[str] = set()
        self._specs: dict[str, ModuleSpec | None] = {}
        self._local = _top_level_in(local_roots)

    def lookup(self, name: str) -> ModuleNames | None:
        """What module ``name`` defines, or ``None`` when it cannot be found or read."""
        self.consulted.add(name)
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

    def is_local(self, top: str) -> bool:
        """Whether top-level module ``top`` is read from the checked project's own tree."""
        return top in self._local

    def exists(self, name: str) -> bool | None:
        """Whether module ``name`` can be found: True, False, or None when its parent cannot be read."""
        self.consulted.add(name)
        top = name.split(".")[0]
        if top in sys.stdlib_module_names or top in sys.builtin_module_names:
            if top in _NEVER_IMPORT:
                return None
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    importlib.import_module(name)
            except ModuleNotFoundError as exc:
                if exc.name != name or name in sys.stdlib_module_names or _typeshed_stub(name) is not None:
                    return None  # a module of another platform or version, or a missing dependency of it
                return False
            except Exception:  # codewitness: ignore[CW305] - any other failure of a stdlib import means "cannot tell"
                return None
            return True
        if self._spec(top) is None:
            return None  # not installed: the dependency family reports it
        if self._spec(name) is not None:
            return True
        # Missing for sure only when its nearest existing ancestor is read from source and makes no
        # modules dynamically; a compiled ancestor may register submodules when it loads.
        ancestor = name.rpartition(".")[0]
        while ancestor and self._spec(ancestor) is None:
            ancestor = ancestor.rpartition(".")[0]
        known = self.lookup(ancestor) if ancestor else None
        return None if known is None or known.dynamic else False

    def fingerprint(self, name: str) -> str:
        """A short text that changes when what :meth:`lookup` and :meth:`exists` say about ``name`` may change.

        Standard-library answers change with the interpreter; others with the module's files and the
        folders that hold it and its submodules (a file added or removed changes a folder's mtime).
        """
        top = name.split(".")[0]
        if top in sys.stdlib_module_names or top in sys.builtin_module_names:
            return f"stdlib {sys.version}"
        parts: list[str] = []
        current = ""
        for piece in name.split("."):
            current = f"{current}.{piece}" if current else piece
            spec = self._spec(current)
            if spec is None:
                parts.append(f"{current}:missing")
                break
            paths = [Path(p) for p in _locations(spec)]
            if spec.origin and spec.origin not in ("namespace", "built-in", "frozen"):
                paths.append(Path(spec.origin))
                paths.append(Path(spec.origin).with_suffix(".pyi"))
            if not paths and not spec.submodule_search_locations:
                parts.append(f"{current}:no-files")
            for path in paths:
                try:
                    stat = path.stat()
                    parts.append(f"{path}:{stat.st_mtime_ns}:{stat.st_size}")
                except OSError:
                    parts.append(f"{path}:absent")
        return "|".join(parts)

    # -- internals ----------------------------------------------------------------------------

    def _spec(self, name: str) -> ModuleSpec | None:
        if name not in self._specs:
            self._specs[name] = self._find_spec(name)
        return self._specs[name]

    def _find_spec(self, name: str) -> ModuleSpec | None:
        parent = name.rpartition(".")[0]
        try:
            if not parent:
                if name in self._local:
                    return _spec_at(name, self._local[name])
                found = PathFinder.find_spec(name)
                if found is None and name in self._editable():
                    return _spec_at(name, self._editable()[name])
                return found
            parent_spec = self._spec(parent)
            if parent_spec is None or parent_spec.submodule_search_locations is None:
                return None
            locations = _locations(parent_spec)
            try:
                return PathFinder.find_spec(name, locations)
            except KeyError:
                # A namespace sub-package of a namespace package never imported: importlib wants the
                # parent in sys.modules. Look in the folders ourselves.
                return _spec_in(name, locations)
        except (ImportError, ValueError, OSError, KeyError):
            return None

    def _resolve(self, name: str) -> ModuleNames | None:
        top = name.split(".")[0]
        if top in sys.stdlib_module_names or top in sys.builtin_module_names:
            return self._stdlib(name) if top not in _NEVER_IMPORT else None
        spec = self._spec(name)
        if spec is None:
            return None
        locations = _locations(spec)
        submodules = frozenset(_submodules(locations))
        sources = _source_files(spec) + _stub_package_files(name)
        if not sources:
            # A namespace package (only submodules) or a compiled module without a stub.
            return ModuleNames(name, frozenset(), submodules, dynamic=spec.origin not in (None, "namespace"))
        names: set[str] = set()
        code_dynamic = stub_decides = False
        for source in sources:
            try:
                text = source.read_text(encoding="utf-8")
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    tree = ast.parse(text)
            except (OSError, SyntaxError, ValueError, UnicodeDecodeError):
                return ModuleNames(name, frozenset(), submodules, dynamic=True)
            found, is_dynamic = self._collect(tree, name, is_package=bool(locations), text=text)
            names |= found
            if source.suffix == ".pyi":
                stub_decides = stub_decides or not is_dynamic
            else:
                code_dynamic = code_dynamic or is_dynamic
        # A stub is the module's declared API: a type checker rejects a name it lacks whatever the
        # module's __getattr__ may answer at run time, so a static stub decides.
        return ModuleNames(name, frozenset(names), submodules, code_dynamic and not stub_decides)

    def _stdlib(self, name: str) -> ModuleNames | None:
        """dir() of the imported module joined with the names its typeshed stub declares on any platform.

        The stub is read only when ``dir()`` lacks a name asked about (parsing stubs of every module used
        costs more than the rest of the lookup).
        """
        imported = self._imported(name)
        if imported is not None:
            return dataclasses.replace(imported, later=lambda: self._stub_names(name))
        stub = self._stub_names(name)
        return ModuleNames(name, stub[0], stub[1], stub[2]) if stub is not None else None

    def _stub_names(self, name: str) -> tuple[frozenset[str], frozenset[str], bool] | None:
        """Names, submodules and dynamism of the typeshed stub of standard-library module ``name``."""
        stub_path = _typeshed_stub(name)
        if stub_path is None:
            return None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                stub_text = stub_path.read_text(encoding="utf-8")
                tree = ast.parse(stub_text)
        except (OSError, SyntaxError, ValueError, UnicodeDecodeError):
            return None
        is_package = stub_path.name == "__init__.pyi"
        stub_names, dynamic = self._collect(tree, name, is_package=is_package, text=stub_text)
        stub_subs = frozenset(_submodules([str(stub_path.parent)])) if is_package else frozenset()
        return frozenset(stub_names), stub_subs, dynamic

    def _imported(self, name: str) -> ModuleNames | None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                module = importlib.import_module(name)
        except Exception:  # codewitness: ignore[CW305] - a stdlib module that fails to import cannot be described
            return None
        locations = list(getattr(module, "__path__", []) or [])
        return ModuleNames(
            name,
            frozenset(dir(module)),
            frozenset(_submodules(locations)),
            dynamic=hasattr(module, "__getattr__"),
            module=module,
        )

    def _collect(
        self, tree: ast.Module, module: str, *, is_package: bool, text: str | None = None
    ) -> tuple[set[str], bool]:
        names: set[str] = set()
        dynamic = False
        for node in _module_level(tree.body):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    names.update(_bound(target))
                    if _binds_in_module(target):
                        dynamic = True  # globals()[...] = ..., sys.modules[...] = ...
                if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets) and node.value is not None:
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
            elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) and _is_dynamic_call(node.value):
                dynamic = True
        if text is None or "global" in text or ":=" in text:  # walking a large module is the costly part
            nodes = walk_by_type(tree)
            for declared in nodes.get(ast.Global, []):
                names.update(declared.names)  # type: ignore[attr-defined]
            for walrus in nodes.get(ast.NamedExpr, []):
                names.update(_bound(walrus.target))  # type: ignore[attr-defined]
        if "__getattr__" in names:
            answers = _getattr_answers(tree)
            if answers is None:
                dynamic = True  # it answers names we cannot list: __all__ and a stub are all we know
            else:
                names |= answers
        return names, dynamic


@lru_cache(maxsize=1)
def _typeshed_context() -> Any:
    """typeshed_client's search context for the bundled stdlib stubs only (no subprocess, no site-packages)."""
    import typeshed_client

    return typeshed_client.get_search_context(search_path=[], version=sys.version_info[:2])


@lru_cache(maxsize=2048)
def _typeshed_stub(name: str) -> Path | None:
    """The typeshed stub of standard-library module ``name``, when typeshed_client is installed."""
    try:
        import typeshed_client
    except ImportError:
        return None  # the check extra brings it; without it, dir() of the imported module alone decides
    try:
        path = typeshed_client.get_stub_file(name, search_context=_typeshed_context())
    except Exception:  # codewitness: ignore[CW305] - a stub lookup failure only means "no stub"
        return None
    return Path(path) if path is not None else None


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


#: A ``setattr`` target that is the module itself (``sys.modules[__name__]``, a name bound to it).
_MODULE_TARGET = re.compile(r"modules|__name__|\bmod\b|module|\bthis\b|_self\b")


def _is_dynamic_call(call: ast.Call) -> bool:
    """``globals().update(...)``, ``exec(...)``, ``setattr(<this module>, ...)``, lazy loader ``attach(...)``.

    ``setattr`` on another object (httpx sets ``__module__`` on each exported class) adds no module name.
    """
    func = call.func
    if isinstance(func, ast.Name):
        if func.id in ("setattr", "_setattr"):
            return not call.args or bool(_MODULE_TARGET.search(ast.unparse(call.args[0])))
        return func.id == "exec"
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


def _binds_in_module(target: ast.expr) -> bool:
    """An assignment target that may bind a module name: ``globals()[...]``, ``vars()[...]``, ``sys.modules[...]``,
    an attribute of this module (``sys.modules[__name__].x``). Assigning to another object's attribute or item
    (``_hypothesis_globals.in_initialization -= 1``, ``registry["x"] = ...``) binds nothing here."""
    if isinstance(target, ast.Subscript):
        base = target.value
        if isinstance(base, ast.Call) and isinstance(base.func, ast.Name):
            return base.func.id in ("globals", "vars", "locals")
        return "modules" in ast.unparse(base)
    if isinstance(target, ast.Attribute):
        return bool(_MODULE_TARGET.search(ast.unparse(target.value)))
    return False


def _literal_strings(tree: ast.Module) -> dict[str, set[str]]:
    """Module-level names bound to a literal collection of strings (dict keys, list/tuple/set items)."""
    found: dict[str, set[str]] = {}
    for node in tree.body:
        target: ast.expr | None = None
        value: ast.expr | None = None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign):
            target, value = node.target, node.value
        if not isinstance(target, ast.Name) or value is None:
            continue
        items = value.keys if isinstance(value, ast.Dict) else getattr(value, "elts", None)
        if isinstance(value, ast.Dict | ast.List | ast.Tuple | ast.Set) and items is not None:
            strings = {i.value for i in items if isinstance(i, ast.Constant) and isinstance(i.value, str)}
            if len(strings) == len(items):
                found[target.id] = strings
    return found


def _getattr_answers(tree: ast.Module) -> set[str] | None:
    """The names a module-level ``__getattr__`` answers, when it answers a fixed set.

    It does when every use of its parameter selects from fixed names — ``name == "x"``, ``name in ("x",
    "y")``, ``name in MAPPING`` or ``MAPPING[name]`` / ``MAPPING.get(name)`` for a module-level literal
    (``__all__`` too) — and it ends by raising ``AttributeError``. Deprecation shims (click, itsdangerous,
    markupsafe, pluggy) and lazy loaders with a table have this shape. Anything else (``import_module(name)``,
    ``getattr(other, name)``) answers names we cannot list: ``None``.
    """
    func = next(
        (n for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == "__getattr__"),
        None,
    )
    if func is None or not func.args.args:
        return None
    param = func.args.args[0].arg
    literals = _literal_strings(tree)
    answers: set[str] = set()
    accounted: set[int] = set()

    def uses(node: ast.AST) -> list[int]:
        return [id(n) for n in ast.walk(node) if isinstance(n, ast.Name) and n.id == param]

    def is_param(node: ast.AST) -> bool:
        return isinstance(node, ast.Name) and node.id == param

    def selected(node: ast.expr) -> set[str] | None:
        """The names an ``if`` test on the parameter selects, or None when it is not such a test."""
        if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.Or):
            parts = [selected(v) for v in node.values]
            return set().union(*parts) if all(p is not None for p in parts) else None  # type: ignore[arg-type]
        if not isinstance(node, ast.Compare) or len(node.ops) != 1:
            return None
        left, op, right = node.left, node.ops[0], node.comparators[0]
        if isinstance(op, ast.Eq):
            other = right if is_param(left) else left if is_param(right) else None
            if isinstance(other, ast.Constant) and isinstance(other.value, str):
                return {other.value}
            return None
        if isinstance(op, ast.In) and is_param(left):
            if isinstance(right, ast.Name) and right.id in literals:
                return literals[right.id]
            elts = getattr(right, "elts", None)
            if isinstance(right, ast.Tuple | ast.List | ast.Set) and elts is not None:
                strings = {e.value for e in elts if isinstance(e, ast.Constant) and isinstance(e.value, str)}
                return strings if len(strings) == len(elts) else None
        return None

    for node in ast.walk(func):
        if isinstance(node, ast.If):
            chosen = selected(node.test)
            if chosen is not None:
                answers |= chosen
                accounted.update(uses(node.test))
                for stmt in node.body:
                    accounted.update(uses(stmt))  # inside a branch for fixed names
        elif isinstance(node, ast.Subscript) and is_param(node.slice):
            if isinstance(node.value, ast.Name) and node.value.id in literals:
                answers |= literals[node.value.id]
                accounted.update(uses(node.slice))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id in literals
            and node.args
            and is_param(node.args[0])
        ):
            answers |= literals[node.func.value.id]
            accounted.update(uses(node.args[0]))
        elif isinstance(node, ast.Raise) and node.exc is not None and "AttributeError" in ast.unparse(node.exc):
            accounted.update(uses(node.exc))
    last = func.body[-1]
    ends_closed = isinstance(last, ast.Raise) and last.exc is not None and "AttributeError" in ast.unparse(last.exc)
    if isinstance(last, ast.Try):  # try: return MAPPING[name] except KeyError: raise AttributeError(name)
        ends_closed = all(
            h.body and isinstance(h.body[-1], ast.Raise) and "AttributeError" in ast.unparse(h.body[-1])
            for h in last.handlers
        ) and bool(last.handlers)
        gated = any(
            isinstance(n, ast.Subscript)
            and is_param(n.slice)
            and isinstance(n.value, ast.Name)
            and n.value.id in literals
            for stmt in last.body
            for n in ast.walk(stmt)
        )
        if ends_closed and gated:  # the table lookup fails first for any other name: the rest only sees its keys
            for stmt in last.body:
                accounted.update(uses(stmt))
    if not ends_closed or set(uses(func)) - accounted - {id(a) for a in ast.walk(func.args)}:
        return None
    return answers


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


def _spec_in(name: str, locations: list[str]) -> ModuleSpec | None:
    """Find module ``name`` (its last part) in ``locations`` by looking at files, without importing."""
    leaf = name.rpartition(".")[2]
    for location in locations:
        folder = Path(location) / leaf
        if folder.is_dir():
            return _spec_at(name, folder)
        if (folder.parent / f"{leaf}.py").is_file():
            return _spec_at(name, folder.parent / f"{leaf}.py")
    return None


def _top_level_in(roots: Sequence[Path]) -> dict[str, Path]:
    """Top-level packages (folders with ``__init__.py``) and modules directly in ``roots``, first root first."""
    found: dict[str, Path] = {}
    for root in roots:
        try:
            children = sorted(root.iterdir())
        except OSError:
            continue
        for child in children:
            name = child.name
            if child.is_dir() and name.isidentifier() and (child / "__init__.py").is_file():
                found.setdefault(name, child)
            elif name.endswith(".py") and name[:-3].isidentifier() and child.is_file():
                found.setdefault(name[:-3], child)
    return found


def _spec_at(name: str, path: Path) -> ModuleSpec | None:
    """A spec for module ``name`` read from ``path`` (a package folder or a ``.py`` file), without importing."""
    from importlib.util import spec_from_file_location

    if path.is_dir():
        init = path / "__init__.py"
        if init.is_file():
            return spec_from_file_location(name, init, submodule_search_locations=[str(path)])
        spec = ModuleSpec(name, None, origin="namespace", is_package=True)
        spec.submodule_search_locations = [str(path)]
        return spec
    return spec_from_file_location(name, path) if path.is_file() else None


@lru_cache(maxsize=1)
def _editable_sources() -> dict[str, Path]:
    """Top-level names of distributions installed in editable mode, and where their source is.

    setuptools' editable finder (``__editable___<dist>_finder.py``) maps each top-level name to its folder;
    it is read as text (a dict literal), never imported. For other backends the distribution's
    ``direct_url.json`` (``dir_info.editable``) gives the project folder, and its top-level names
    (``top_level.txt``, else the names in ``RECORD``) are looked for there and under ``src/``. Editable
    installs whose ``.pth`` adds a folder to ``sys.path`` need none of this: the path finder sees them.
    """
    return editable_sources(editable_candidates())


def editable_candidates() -> list[tuple[str, str, str]]:
    """What the installed distributions say about editable installs, in the order they decide:
    ``(top-level name, "finder", its folder)`` from setuptools' finders, then ``(name, "project", project folder)``
    from ``direct_url.json``. Reading it means reading every distribution's metadata; :func:`editable_sources`
    turns it into folders with a few file-system checks, so a caller may keep it while the distributions stay."""
    import json
    from importlib.metadata import distributions
    from urllib.parse import unquote, urlparse

    found: list[tuple[str, str, str]] = []
    for entry in sys.path:
        folder = Path(entry or ".")
        try:
            finders = sorted(folder.glob("__editable___*_finder.py"))
        except OSError:
            continue
        for finder in finders:
            found.extend((k, "finder", str(v)) for k, v in _finder_mapping(finder).items())
    for dist in distributions():
        try:
            direct = json.loads(dist.read_text("direct_url.json") or "{}")
        except (ValueError, OSError):
            continue
        if not isinstance(direct, dict) or not (direct.get("dir_info") or {}).get("editable"):
            continue
        url = urlparse(str(direct.get("url", "")))
        if url.scheme != "file":
            continue
        project = Path(unquote(url.path))
        tops = (dist.read_text("top_level.txt") or "").split()
        for file in dist.files or ():
            first = file.parts[0] if file.parts else ""
            tops.append(first[:-3] if first.endswith(".py") else first if len(file.parts) > 1 else "")
        for top in dict.fromkeys(t for t in tops if t.isidentifier() and not t.startswith("__")):
            found.append((top, "project", str(project)))
    return found


def editable_sources(candidates: Iterable[Sequence[str]]) -> dict[str, Path]:
    """Top-level name -> source folder or file, from :func:`editable_candidates` (the first that decides wins;
    a project's package is looked for under ``src/``, then at its top)."""
    found: dict[str, Path] = {}
    for top, kind, where in candidates:
        if top in found:
            continue
        if kind == "finder":
            found[top] = Path(where)
            continue
        for base in (Path(where) / "src", Path(where)):
            if (base / top).is_dir() or (base / f"{top}.py").is_file():
                found[top] = base / top if (base / top).is_dir() else base / f"{top}.py"
                break
    return found


def _finder_mapping(path: Path) -> dict[str, Path]:
    """The ``MAPPING`` dict literal of a setuptools editable finder (read, not run)."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError, UnicodeDecodeError):
        return {}
    for node in tree.body:
        target: ast.expr | None = None
        value: ast.expr | None = None
        if isinstance(node, ast.AnnAssign):
            target, value = node.target, node.value
        elif isinstance(node, ast.Assign):
            target, value = node.targets[0], node.value
        if isinstance(target, ast.Name) and target.id == "MAPPING" and isinstance(value, ast.Dict):
            return {
                str(k.value): Path(str(v.value))
                for k, v in zip(value.keys, value.values, strict=True)
                if isinstance(k, ast.Constant) and isinstance(v, ast.Constant)
            }
    return {}


def _locations(spec: ModuleSpec) -> list[str]:
    """A package's folders.

    A namespace package's path object recomputes itself from ``sys.modules`` when iterated, which
    fails for a package that was never imported; its recorded folders are used then.
    """
    found = spec.submodule_search_locations
    if found is None:
        return []
    try:
        return list(found)
    except (KeyError, AttributeError, ImportError):
        return [str(p) for p in getattr(found, "_path", [])]


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


def _stub_package_files(name: str) -> list[Path]:
    """The ``.pyi`` of module ``name`` in a stub-only package (PEP 561 ``<top>-stubs``) on ``sys.path``."""
    top, _, rest = name.partition(".")
    inner = rest.split(".") if rest else []
    for folder in _stub_folders().get(top, []):
        base = folder.joinpath(*inner)
        for candidate in (
            (base / "__init__.pyi", base.with_name(base.name + ".pyi")) if inner else (base / "__init__.pyi",)
        ):
            if candidate.is_file():
                return [candidate]
    return []


@lru_cache(maxsize=1)
def _stub_folders() -> dict[str, list[Path]]:
    found: dict[str, list[Path]] = {}
    for entry in sys.path:
        try:
            folders = list(Path(entry or ".").glob("*-stubs"))
        except OSError:
            continue
        for folder in folders:
            if folder.is_dir():
                found.setdefault(folder.name[: -len("-stubs")], []).append(folder)
    return found


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


#: An ``if`` test that selects code by platform, interpreter or version, or probes for a name.
_GUARD_TEST = re.compile(
    r"platform|version|implementation|pypy|cpython|jython|\bPY\d|PYPY|hasattr|getattr|os\.name|win32|"
    r"windows|WINDOWS|\bWIN|darwin|linux|\bIS_[A-Z]|_AVAILABLE|HAS_|\bhas_|\.compiled\b",
    re.IGNORECASE,
)
#: Handlers that mean "this module may be missing here". ``except Exception`` counts for imports
#: (a common way to make a dependency optional) but not for attributes: AI code often wraps a call
#: to an invented function in ``try/except Exception``, and that must still be reported.
_IMPORT_MAY_FAIL = frozenset({"ImportError", "ModuleNotFoundError", "Exception", "BaseException"})
_ATTRIBUTE_MAY_FAIL = frozenset({"AttributeError"})


def _handles(handler_types: list[ast.expr | None], names: frozenset[str], *, bare: bool) -> bool:
    for htype in handler_types:
        if htype is None:
            if bare:
                return True
            continue
        for n in ast.walk(htype):
            if isinstance(n, ast.Name | ast.Attribute) and (n.id if isinstance(n, ast.Name) else n.attr) in names:
                return True
    return False


def _test_text(f: SourceFile, test: ast.expr) -> str:
    """The source lines of an ``if`` test (cheaper than unparsing it)."""
    end = test.end_lineno or test.lineno
    return " ".join(f.line_text(n) for n in range(test.lineno, end + 1))


def _guarded_nodes(f: SourceFile) -> tuple[_Guard, _Guard]:
    """Nodes whose failure the code expects: ``(imports that may fail, attributes that may be missing)``.

    Both: code under an ``if`` that tests the platform, interpreter, version or ``hasattr`` (also the
    rest of a body after ``if <such test>: return``). Imports also: a ``try`` handling ImportError or
    broader, ``with suppress(ImportError)``. Attributes also: a ``try`` handling AttributeError,
    ``with suppress(AttributeError)``.
    """
    both: list[list[ast.stmt] | ast.expr] = []
    imports: list[list[ast.stmt]] = []
    attributes: list[list[ast.stmt]] = []
    for node in f.of(ast.If, ast.IfExp):
        if _GUARD_TEST.search(_test_text(f, node.test)):
            both += [node.body, node.orelse]
    for node in f.of(ast.Try, ast.TryStar):
        types = [h.type for h in node.handlers]
        if _handles(types, _IMPORT_MAY_FAIL, bare=True):
            imports.append(node.body)
        if _handles(types, _ATTRIBUTE_MAY_FAIL, bare=False):
            attributes.append(node.body)
    tree = f.tree
    bodies = [tree.body] if tree is not None else []
    bodies += [n.body for n in f.of(ast.FunctionDef, ast.AsyncFunctionDef)]
    for body in bodies:
        for index, stmt in enumerate(body):
            if (
                isinstance(stmt, ast.If)
                and stmt.body
                and isinstance(stmt.body[-1], ast.Return | ast.Raise)
                and _GUARD_TEST.search(_test_text(f, stmt.test))
            ):
                both.append(body[index + 1 :])
                break
    for node in f.of(ast.With, ast.AsyncWith):
        for item in node.items:
            ctx = item.context_expr
            if isinstance(ctx, ast.Call) and ast.unparse(ctx.func).endswith("suppress"):
                args: list[ast.expr | None] = list(ctx.args)
                if _handles(args, _IMPORT_MAY_FAIL, bare=False):
                    imports.append(node.body)
                if _handles(args, _ATTRIBUTE_MAY_FAIL, bare=False):
                    attributes.append(node.body)

    def spans(blocks: list[list[ast.stmt]] | list[list[ast.stmt] | ast.expr]) -> list[_Span]:
        # A block is contiguous source: a node is inside it when its start lies in the block's extent
        # (cheaper than walking every guarded block to collect its nodes).
        found: list[_Span] = []
        for block in blocks:
            roots = block if isinstance(block, list) else [block]
            if roots:
                first, last = roots[0], roots[-1]
                end = (last.end_lineno or last.lineno, last.end_col_offset or 0)
                found.append(((first.lineno, first.col_offset), end))
        return found

    shared = spans(both)
    return _Guard(shared + spans(imports)), _Guard(shared + spans(attributes))


_Span = tuple[tuple[int, int], tuple[int, int]]


class _Guard:
    """Source extents of guarded blocks; ``node in guard`` when the node starts inside one."""

    def __init__(self, spans: list[_Span]) -> None:
        self.spans = spans

    def __contains__(self, node: ast.AST) -> bool:
        where = (getattr(node, "lineno", 0), getattr(node, "col_offset", 0))
        return any(start <= where < end for start, end in self.spans)


def _rebound_names(f: SourceFile) -> set[str]:
    """Names the file binds other than by import: an alias bound both ways is not trusted."""
    names: set[str] = {n.id for n in f.of(ast.Name) if not isinstance(n.ctx, ast.Load)}
    names.update(n.arg for n in f.of(ast.arg))
    names.update(n.name for n in f.of(ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
    names.update(n.name for n in f.of(ast.ExceptHandler, ast.MatchAs, ast.MatchStar) if n.name)
    for node in f.of(ast.Global, ast.Nonlocal):
        names.update(node.names)
    return names


def check_file(f: SourceFile, index: ModuleIndex, undecided: list[tuple[str, int]] | None = None) -> list[Finding]:
    """Report attributes, imported names and submodules of ``f`` that the installed modules lack.

    Args:
        f: the file.
        index: resolves modules.
        undecided: gets ``(module, line)`` for each in-scope name nothing could decide (the module makes
            names the reader cannot list, and has no stub), when given.
    """
    tree = f.tree
    if tree is None:
        return []
    findings: list[Finding] = []
    guarded, attribute_guarded = _guarded_nodes(f)
    aliases: dict[str, set[str]] = {}
    version = f"Python {sys.version_info.major}.{sys.version_info.minor}"

    stub = f.rel.endswith(".pyi")

    def report(rule_id: str, node: ast.expr | ast.stmt, message: str, module: str, name: str) -> None:
        line = node.lineno
        if stub and name.startswith("_"):
            return  # stubs name stub-only helpers of other stubs (typeshed's _EnumTypeWrapper), never run
        if f.in_scope(line):
            props = {"module": module, "name": name}
            findings.append(
                Finding(
                    rule_id,
                    f.rel,
                    line,
                    message,
                    column=node.col_offset + 1,
                    snippet=f.line_text(line),
                    properties=props,
                )
            )

    def where(module: str) -> str:
        top = module.split(".")[0]
        if top in sys.stdlib_module_names:
            return f"{version}'s {module}"
        return f"the project's {module}" if index.is_local(top) else f"the installed {module}"

    for node in f.of(ast.Import, ast.ImportFrom):
        if isinstance(node, ast.Import) and node not in guarded:
            for alias in node.names:
                if index.exists(alias.name) is False:
                    report("CW203", node, f"module {alias.name!r} does not exist", alias.name, alias.name)
                    continue
                bound = alias.asname or alias.name.split(".")[0]
                aliases.setdefault(bound, set()).add(alias.name if alias.asname else alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and node not in guarded:
            exists = index.exists(node.module)
            if exists is False:
                report("CW203", node, f"module {node.module!r} does not exist", node.module, node.module)
                continue
            names = index.lookup(node.module) if exists else None
            if names is None:
                continue
            for alias in node.names:
                if alias.name == "*":
                    continue
                sub = f"{node.module}.{alias.name}"
                known = names.has(alias.name)
                if alias.name in names.submodules:
                    aliases.setdefault(alias.asname or alias.name, set()).add(sub)
                elif known is False:
                    report("CW202", node, f"{where(node.module)} has no {alias.name!r}", node.module, alias.name)
                elif known is None and undecided is not None and f.in_scope(node.lineno):
                    undecided.append((node.module, node.lineno))

    rebound = _rebound_names(f)
    modules = {name: next(iter(mods)) for name, mods in aliases.items() if len(mods) == 1 and name not in rebound}
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
        if node in attribute_guarded:
            continue
        for attr_node in reversed(chain):
            if (ast.unparse(attr_node.value), attr_node.attr) in stored:
                break
            names = index.lookup(module)
            if names is None:
                break
            known = names.has(attr_node.attr)
            if known is False:
                report("CW201", attr_node, f"{where(shown)} has no attribute {attr_node.attr!r}", shown, attr_node.attr)
                break
            if known is None:
                if undecided is not None and f.in_scope(attr_node.lineno):
                    undecided.append((module, attr_node.lineno))
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
    index = ModuleIndex(project_roots(ctx.root))
    findings: list[Finding] = []
    for f in ctx.python_files():
        findings.extend(check_file(f, index))
    return findings
