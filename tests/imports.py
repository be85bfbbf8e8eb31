"""The one reader of our modules' imports, from their source: lazy ones inside functions and
``TYPE_CHECKING`` ones included, relative ones resolved.

It reads a source tree (``src/codewitness`` or a copy of it), so a test can run the same checks on a
tree with an import added on purpose. Every import is named by the file and line it stands on.

Example:
    >>> tree = read_tree(SRC)
    >>> any(i.target == "codewitness.errors" for i in tree.imports["codewitness.config"])
    True
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

__all__ = ["SRC", "Import", "Tree", "imports_of", "reaches", "read_tree"]

#: Our package's source folder.
SRC = Path(__file__).resolve().parents[1] / "src" / "codewitness"


@dataclass(frozen=True)
class Import:
    """One import statement's target, where it stands.

    ``target`` is a module name: for ``from package import name`` it is ``package.name`` when that
    is a module of the tree, else ``package``; for modules outside the tree, the name as written.
    """

    source: str
    path: Path
    line: int
    target: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line} -> {self.target}"


@dataclass(frozen=True)
class Tree:
    """The modules of one package tree and what each imports."""

    root: Path
    #: module name -> its file
    files: dict[str, Path]
    #: module name -> its imports, in source order
    imports: dict[str, list[Import]]

    def ours(self, module: str) -> list[Import]:
        """The imports of ``module`` that name modules of this tree."""
        return [i for i in self.imports.get(module, []) if i.target in self.files]

    def cycles(self) -> list[list[Import]]:
        """Each import cycle among the tree's modules, as the imports that close it (one per
        strongly connected group of modules: the shortest cycle through its first module)."""
        found = []
        for group in _strongly_connected(self):
            if len(group) == 1 and not any(i.target == group[0] for i in self.ours(group[0])):
                continue
            found.append(self._shortest_cycle(group[0], set(group)))
        return found

    def _shortest_cycle(self, start: str, within: set[str]) -> list[Import]:
        paths: dict[str, list[Import]] = {start: []}
        frontier = [start]
        while frontier:
            following = []
            for module in frontier:
                for edge in self.ours(module):
                    if edge.target == start:
                        return [*paths[module], edge]
                    if edge.target in within and edge.target not in paths:
                        paths[edge.target] = [*paths[module], edge]
                        following.append(edge.target)
            frontier = following
        raise AssertionError(f"{start} is in no cycle")  # pragma: no cover - only called on a cycle's group


def _module_name(root: Path, path: Path) -> str:
    parts = [root.name, *path.relative_to(root).with_suffix("").parts]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def read_tree(root: Path) -> Tree:
    """Every module under ``root`` (a package folder) and its imports, wherever they stand.

    A C source is the module setup.py compiles from it (``sensor/_meter.c``: ``codewitness.sensor._meter``),
    which imports none of ours.
    """
    compiled = {_module_name(root, path): path for path in sorted(root.rglob("*.c"))}
    files = {_module_name(root, path): path for path in sorted(root.rglob("*.py"))}
    files = {**compiled, **files}
    imports = {module: list(_imports(module, path, files)) for module, path in files.items() if path.suffix == ".py"}
    imports.update((module, []) for module in compiled)
    return Tree(root, files, imports)


def _imports(module: str, path: Path, files: dict[str, Path]) -> Iterator[Import]:
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(module, path, node.lineno, alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            named = [f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in files]
            if len(named) < len(node.names):  # some names are not modules: they come from ``base``
                yield Import(module, path, node.lineno, base)
            for target in named:
                yield Import(module, path, node.lineno, target)


def _strongly_connected(tree: Tree) -> list[list[str]]:
    """Tarjan's algorithm, without recursion; groups in a stable order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    groups: list[list[str]] = []
    for root in sorted(tree.files):
        if root in index:
            continue
        work = [(root, iter(sorted({i.target for i in tree.ours(root)})))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            for target in edges:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted({i.target for i in tree.ours(target)}))))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    groups.append(sorted(group))
    return groups


@cache
def _src() -> Tree:
    return read_tree(SRC)


def imports_of(module: str) -> frozenset[str]:
    """The modules of ours that ``module`` names in any import statement, wherever it stands."""
    return frozenset(i.target for i in _src().ours(module))


def reaches(start: str, target: str) -> bool:
    """True when ``start`` imports ``target``, directly or through other modules of ours."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        for name in imports_of(todo.pop()):
            if name == target:
                return True
            if name not in seen:
                seen.add(name)
                todo.append(name)
    return False
