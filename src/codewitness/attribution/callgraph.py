"""A static call graph of a Python code base, its entry points, and what each entry point reaches.

Best effort, from the source alone (the AST for definitions and imports; each function's own
lines for the calls it writes). **Found:** calls by bare name (local, nested, module-level,
imported with ``import``/``from ... import``, including aliases and relative imports),
``self.m()``/``cls.m()`` inside a class, ``module.f()`` through an imported module, class
construction (``Cart()`` reaches ``Cart.__init__``), and — when nothing else resolves — a method
name that only one function in the code base has. **Entry points:** web routes (decorators
``route``/``get``/``post``/``put``/``patch``/``delete``/``head``/``options``/``websocket``/
``api_route`` of Flask, FastAPI, Starlette, or such a decorator applied by hand as
``app.get("/x")(f)``; functions registered with Django ``path``/``re_path``, Starlette ``Route``,
Flask ``add_url_rule``, FastAPI ``add_api_route``), CLI commands (``command``/``group``/``callback``
of Click and Typer, as decorators or ``app.command("x")(f)``), module-level ``main`` functions, and
functions called under ``if __name__ == "__main__":``. **Missed:** calls through variables,
``getattr``, callbacks passed as values (other than route registration), dynamic imports,
inherited methods called on instances of subclasses, calls into code outside the analysed
files; a call written inside a string counts as a call.

Example:
    >>> graph = CallGraph()
    >>> source = "def a():\\n    b()\\ndef b():\\n    pass\\n"
    >>> facts = module_facts(source + "if __name__ == '__main__':\\n    a()\\n")
    >>> graph.add_module("app", facts)
    >>> graph.reached_from()["app.b"]
    ('app.a',)
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable

from codewitness.attribution.functions import FunctionSpan, ModuleFacts, module_facts

__all__ = ["CallGraph", "module_facts"]

_ROUTE = re.compile(r"\.(route|get|post|put|patch|delete|head|options|websocket|api_route)\(")
_CLI = re.compile(r"(^|\.)(command|group|callback)(\(|$)")


class CallGraph:
    """Functions keyed ``module.qualname``, their call edges, and entry points."""

    def __init__(self) -> None:
        self.modules: dict[str, ModuleFacts] = {}
        self.functions: dict[str, FunctionSpan] = {}
        self._by_name: dict[str, list[str]] = {}
        self._nested: dict[str, list[str]] = {}  # function -> functions defined directly inside it

    def add_module(self, module: str, facts: ModuleFacts) -> None:
        """Add one module's functions."""
        self.modules[module] = facts
        for span in facts.spans:
            key = f"{module}.{span.qualname}"
            self.functions[key] = span
            self._by_name.setdefault(span.name, []).append(key)
            parent, sep, _ = key.rpartition(".<locals>.")
            if sep:
                self._nested.setdefault(parent, []).append(key)

    def _resolve(self, module: str, scope: str, name: str) -> str | None:
        facts = self.modules[module]
        head, _, rest = name.partition(".")
        candidates: list[str] = []
        if head in ("self", "cls") and rest and "." not in rest:
            owner = scope.rsplit(".", 1)[0] if "." in scope else ""
            candidates.append(f"{module}.{owner}.{rest}")
        elif not rest:
            parts = scope.split(".") if scope else []
            # Innermost first: nested function of this one, then of each enclosing function.
            while parts:
                candidates.append(f"{module}.{'.'.join(parts)}.<locals>.{name}")
                parts.pop()
            candidates += [f"{module}.{name}", f"{module}.{name}.__init__"]
            target = facts.imports.get(name)
            if target:
                candidates += [target, f"{target}.__init__"]
        else:
            target = facts.imports.get(head)
            base = target if target else f"{module}.{head}"
            candidates += [f"{base}.{rest}", f"{base}.{rest}.__init__"]
        for candidate in candidates:
            if candidate in self.functions:
                return candidate
        last = name.rsplit(".", 1)[-1]
        owners = self._by_name.get(last, [])
        if rest and len(owners) == 1:
            return owners[0]
        return None

    def edges(self) -> dict[str, set[str]]:
        """Caller -> callees, over the analysed functions."""
        out: dict[str, set[str]] = {}
        for module, facts in self.modules.items():
            for span in facts.spans:
                key = f"{module}.{span.qualname}"
                targets = out.setdefault(key, set())
                for call in span.calls:
                    callee = self._resolve(module, span.qualname, call)
                    if callee and callee != key:
                        targets.add(callee)
                # A function's nested functions run when it runs (decorated closures, callbacks).
                targets.update(self._nested.get(key, ()))
        return out

    def entry_points(self) -> dict[str, str]:
        """Entry point key -> kind (``route``, ``cli``, ``main``)."""
        found: dict[str, str] = {}
        for module, facts in self.modules.items():
            for span in facts.spans:
                key = f"{module}.{span.qualname}"
                if any(_ROUTE.search(d) for d in span.decorators):
                    found[key] = "route"
                elif any(_CLI.search(d) for d in span.decorators):
                    found[key] = "cli"
                elif span.qualname == "main":
                    found[key] = "main"
            for name, kind in facts.registered:
                target = self._resolve(module, "", name)
                if target:
                    found.setdefault(target, kind)
            for name in facts.main_calls:
                target = self._resolve(module, "", name)
                if target:
                    found.setdefault(target, "main")
        return found

    def reached_from(self, entries: Iterable[str] | None = None) -> dict[str, tuple[str, ...]]:
        """For every function reachable from an entry point: the entry points that reach it."""
        graph = self.edges()
        points = sorted(self.entry_points() if entries is None else entries)
        reach: dict[str, list[str]] = {}
        for entry in points:
            seen = {entry}
            queue = deque([entry])
            while queue:
                current = queue.popleft()
                for callee in graph.get(current, ()):
                    if callee not in seen:
                        seen.add(callee)
                        queue.append(callee)
            for key in seen:
                if key != entry:
                    reach.setdefault(key, []).append(entry)
        return {k: tuple(v) for k, v in reach.items()}
