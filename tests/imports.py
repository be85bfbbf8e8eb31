"""Which of our modules a module imports, read from its source (lazy and ``TYPE_CHECKING`` imports included)."""

from __future__ import annotations

import ast
import importlib.util
from functools import cache
from pathlib import Path


def _source(module: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(module)
    except ModuleNotFoundError:  # a name inside a module, not a module
        return None
    return Path(spec.origin) if spec is not None and spec.origin and spec.origin.endswith(".py") else None


@cache
def imports_of(module: str) -> frozenset[str]:
    """The ``codewitness`` modules ``module`` names in any import statement, wherever it stands."""
    path = _source(module)
    if path is None:
        return frozenset()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            found.add(base)
            for alias in node.names:  # `from pkg import module` names a module too
                if _source(f"{base}.{alias.name}") is not None:
                    found.add(f"{base}.{alias.name}")
    return frozenset(name for name in found if name.startswith("codewitness"))


def reaches(start: str, target: str) -> bool:
    """True when ``start`` imports ``target``, directly or through other modules of ours."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        module = todo.pop()
        for name in imports_of(module):
            if name == target:
                return True
            if name not in seen:
                seen.add(name)
                todo.append(name)
    return False
