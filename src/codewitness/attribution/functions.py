"""Functions as the unit people reason about: AST spans and the roll-up of their lines' origins.

:func:`function_spans` finds every function of a Python source — module functions, methods,
nested functions, ``async def`` — with the span from its first decorator to its last line and
the ``__qualname__`` Python gives it (``Cart.total``, ``outer.<locals>.inner``).
:func:`rollup` turns the origins of those lines into a :class:`~codewitness.model.FunctionRef`.
:func:`edited_lines` is the one definition of a human edit of AI code; the report counts it the
same way for functions, modules, packages and the repository. :func:`cognitive_complexity` is
the one reading of complexipy, for the risk ranking and the complexity check.

Shares count non-blank lines only: a blank line says nothing about who wrote the code.

Example:
    >>> [s.qualname for s in function_spans("class A:\\n    def f(self):\\n        def g(): pass\\n")]
    ['A.f', 'A.f.<locals>.g']
"""

from __future__ import annotations

import ast
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from codewitness.attribution.blame import LineAttribution
from codewitness.errors import MissingExtraError
from codewitness.model import FunctionRef

__all__ = [
    "Complexity",
    "FunctionSpan",
    "ModuleFacts",
    "cognitive_complexity",
    "edited_lines",
    "function_spans",
    "module_facts",
    "module_name",
    "rollup",
]


@dataclass(frozen=True)
class FunctionSpan:
    """Where one function is in its file, and the static facts the report needs.

    Attributes:
        qualname: the function's ``__qualname__``.
        start_line: first line, decorators included.
        def_line: the ``def`` line.
        end_line: last line.
        is_async: an ``async def``.
        decorators: decorator expressions as source text (``app.get("/x")``).
        calls: names this function calls, as written (``helper``, ``self.save``, ``db.query``).
        statements: line numbers of the statements in the span (for test coverage).
    """

    qualname: str
    start_line: int
    def_line: int
    end_line: int
    is_async: bool = False
    decorators: tuple[str, ...] = ()
    calls: tuple[str, ...] = ()
    statements: tuple[int, ...] = ()

    @property
    def name(self) -> str:
        """The bare function name."""
        return self.qualname.rsplit(".", 1)[-1]


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    if isinstance(node, ast.Call):
        return _dotted(node.func)
    return None


@dataclass
class _Acc:
    """A function being collected."""

    qualname: str
    node: ast.FunctionDef | ast.AsyncFunctionDef
    start: int
    calls: dict[str, None]
    statements: set[int]


_Frame = tuple[ast.AST, str, tuple[_Acc, ...], bool]  # node, qualname prefix, enclosing functions, in main


class _Walker:
    """One iterative pass over a module's AST: functions, calls, imports and entry hooks.

    One hand-rolled pass (not three ``ast.walk`` passes) because the report parses every Python
    file of a repository; iterative so deeply nested expressions cannot exhaust the stack.
    A call belongs to the innermost function around it; a statement to every enclosing function.
    """

    def __init__(self, package: list[str]) -> None:
        self.package = package
        self.done: list[_Acc] = []
        self.imports: dict[str, str] = {}
        self.main_calls: dict[str, None] = {}
        self.registered: dict[str, str] = {}  # name -> entry kind

    def _import(self, node: ast.Import | ast.ImportFrom) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                head = alias.name.split(".")[0]
                self.imports[alias.asname or head] = alias.name if alias.asname else head
            return
        base = node.module or ""
        if node.level:
            package = self.package
            anchor = package[: len(package) - node.level + 1] if node.level > 1 else package
            base = ".".join([*anchor, base] if base else anchor)
        for alias in node.names:
            self.imports[alias.asname or alias.name] = f"{base}.{alias.name}" if base else alias.name

    def _call(self, node: ast.Call, funcs: tuple[_Acc, ...], in_main: bool) -> None:
        name = _dotted(node.func)
        if not name:
            return
        if funcs:
            funcs[-1].calls[name] = None
        elif in_main:
            self.main_calls[name] = None
        if name.rsplit(".", 1)[-1] in _REGISTRARS:
            extra = [k.value for k in node.keywords if k.arg in ("view", "view_func", "endpoint")]
            for arg in [*node.args, *extra]:
                target = _dotted(arg) if isinstance(arg, ast.Name | ast.Attribute) else None
                if target:
                    self.registered.setdefault(target, "route")

    def run(self, tree: ast.Module) -> None:
        # Statements only: expressions are walked at module and class level (small) and under
        # ``if __name__ == "__main__":``; calls inside functions are found by :meth:`scan_calls`.
        stack: list[_Frame] = [(stmt, "", (), False) for stmt in reversed(tree.body)]
        while stack:
            node, scope, funcs, in_main = stack.pop()
            assert isinstance(node, ast.stmt)
            for acc in funcs:
                acc.statements.add(node.lineno)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                qualname = scope + node.name
                start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                acc = _Acc(qualname, node, start, {}, set())
                self.done.append(acc)
                inner = (*funcs, acc)
                stack.extend((stmt, f"{qualname}.<locals>.", inner, in_main) for stmt in reversed(node.body))
            elif isinstance(node, ast.ClassDef):
                stack.extend((stmt, f"{scope}{node.name}.", funcs, in_main) for stmt in reversed(node.body))
            elif isinstance(node, ast.Import | ast.ImportFrom):
                self._import(node)
            elif funcs:
                for field in ("body", "orelse", "finalbody", "handlers", "cases"):
                    for child in reversed(getattr(node, field, None) or ()):
                        if isinstance(child, ast.ExceptHandler | ast.match_case):
                            stack.extend((stmt, scope, funcs, in_main) for stmt in reversed(child.body))
                        elif isinstance(child, ast.stmt):
                            stack.append((child, scope, funcs, in_main))
            else:
                main = in_main or (not scope and isinstance(node, ast.If) and _is_main_guard(node))
                for child in ast.walk(node):
                    if isinstance(child, ast.Call):
                        self._call(child, funcs, main)
                    elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and (
                        child is not node
                    ):
                        stack.append((child, scope, funcs, main))
                    elif isinstance(child, ast.Import | ast.ImportFrom):
                        self._import(child)

    def scan_calls(self, lines: list[str]) -> None:
        """Give each function the calls written on its own lines (nested functions excluded)."""
        owner: list[_Acc | None] = [None] * (len(lines) + 2)
        for acc in sorted(self.done, key=lambda a: (a.node.lineno, -(a.node.end_lineno or 0))):
            end = min(acc.node.end_lineno or acc.node.lineno, len(lines))
            owner[acc.node.lineno : end + 1] = [acc] * (end + 1 - acc.node.lineno)
        for number, text in enumerate(lines, 1):
            if ")(" in text:
                for match in _REGISTER_CALL.finditer(text):
                    kind = "cli" if match.group(1) in ("command", "callback", "group") else "route"
                    self.registered.setdefault(match.group(2), kind)
            current = owner[number]
            if current is None or "(" not in text:
                continue
            code = text.split("#", 1)[0] if "#" in text else text
            for match in _CALL.finditer(code):
                if match.group(1) not in _NOT_CALLS:
                    current.calls[match.group(2)] = None


#: A call as written: an optional keyword before it, then a dotted name and "(".
_CALL = re.compile(
    r"(?:\b(def|class|lambda|await|return|not|in|and|or|if|elif|while|for|with|yield|assert)\s+)?"
    r"(?<![\w.])([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)\s*\("
)
_NOT_CALLS = frozenset({"def", "class"})
#: A decorator applied by hand: ``app.command("blame")(blame)``, ``app.get("/x")(show)``.
_REGISTER_CALL = re.compile(
    r"\.(command|callback|group|route|get|post|put|patch|delete|api_route|websocket)\([^()]*\)"
    r"\(\s*([A-Za-z_][\w.]*)\s*\)"
)


def function_spans(source: str) -> list[FunctionSpan]:
    """Every function in ``source``, outer before inner, in source order.

    Raises:
        SyntaxError: the source is not valid Python (callers skip and count such files).
    """
    return list(module_facts(source).spans)


#: Calls that register a function as a web route by reference (Django ``path``, Starlette
#: ``Route``, Flask ``add_url_rule``, FastAPI ``add_api_route``).
_REGISTRARS = frozenset({"path", "re_path", "url", "Route", "WebSocketRoute", "add_url_rule", "add_api_route"})


@dataclass(frozen=True)
class ModuleFacts:
    """What one Python module tells the report: its functions, imports and entry hooks.

    Attributes:
        spans: every function (see :func:`function_spans`).
        imports: local name -> dotted target (``np`` -> ``numpy``, ``helper`` -> ``pkg.util.helper``).
        main_calls: names called at module level under ``if __name__ == "__main__":``.
        registered: names handed to registering calls, with the entry kind: ``route`` for
            ``path("x/", views.show)``, ``app.get("/x")(show)``; ``cli`` for ``app.command("x")(run)``.
    """

    spans: tuple[FunctionSpan, ...]
    imports: dict[str, str]
    main_calls: tuple[str, ...] = ()
    registered: tuple[tuple[str, str], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (for the cache)."""
        return {
            "spans": [
                {
                    "q": s.qualname,
                    "s": s.start_line,
                    "d": s.def_line,
                    "e": s.end_line,
                    "a": s.is_async,
                    "dec": list(s.decorators),
                    "c": list(s.calls),
                    "st": list(s.statements),
                }
                for s in self.spans
            ],
            "imports": self.imports,
            "main": list(self.main_calls),
            "reg": [list(pair) for pair in self.registered],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModuleFacts:
        """Inverse of :meth:`to_dict`."""
        spans = tuple(
            FunctionSpan(
                qualname=d["q"],
                start_line=d["s"],
                def_line=d["d"],
                end_line=d["e"],
                is_async=d["a"],
                decorators=tuple(d["dec"]),
                calls=tuple(d["c"]),
                statements=tuple(d["st"]),
            )
            for d in data["spans"]
        )
        return cls(
            spans=spans,
            imports=dict(data["imports"]),
            main_calls=tuple(data["main"]),
            registered=tuple((name, kind) for name, kind in data["reg"]),
        )


def _is_main_guard(node: ast.stmt) -> bool:
    if not isinstance(node, ast.If) or not isinstance(node.test, ast.Compare):
        return False
    names = [node.test.left, *node.test.comparators]
    return any(isinstance(n, ast.Name) and n.id == "__name__" for n in names) and any(
        isinstance(n, ast.Constant) and n.value == "__main__" for n in names
    )


def module_facts(source: str, module: str = "", *, tree: ast.Module | None = None) -> ModuleFacts:
    """Parse ``source`` once and return its :class:`ModuleFacts`.

    Args:
        source: the module text.
        module: its dotted name, to resolve relative imports (``from . import x``).
        tree: ``source`` already parsed, when the caller has it (it is only read).

    Raises:
        SyntaxError: the source is not valid Python.
    """
    if tree is None:
        tree = ast.parse(source)
    walker = _Walker(module.split(".")[:-1])
    walker.run(tree)
    walker.scan_calls(source.split("\n"))
    spans = [
        FunctionSpan(
            qualname=acc.qualname,
            start_line=acc.start,
            def_line=acc.node.lineno,
            end_line=acc.node.end_lineno or acc.node.lineno,
            is_async=isinstance(acc.node, ast.AsyncFunctionDef),
            decorators=tuple(ast.unparse(d) for d in acc.node.decorator_list),
            calls=tuple(acc.calls),
            statements=tuple(sorted(acc.statements)),
        )
        for acc in walker.done
    ]
    return ModuleFacts(
        spans=tuple(sorted(spans, key=lambda s: (s.start_line, -s.end_line))),
        imports=walker.imports,
        main_calls=tuple(walker.main_calls),
        registered=tuple(walker.registered.items()),
    )


def module_name(path: str, tree_paths: Collection[str]) -> str:
    """The importable module name of ``path``, found from the ``__init__.py`` files around it.

    ``src/shop/pricing.py`` with ``src/shop/__init__.py`` present is ``shop.pricing``; a file
    outside any package is named by its stem.
    """
    parts = path.split("/")
    stem = parts[-1].rsplit(".", 1)[0]
    names = [] if stem == "__init__" else [stem]
    folders = parts[:-1]
    while folders and "/".join([*folders, "__init__.py"]) in tree_paths:
        names.insert(0, folders[-1])
        folders = folders[:-1]
    return ".".join(names) or stem


def edited_lines(
    lines: Sequence[LineAttribution],
    spans: Sequence[FunctionSpan],
    commit_times: Mapping[str, int] | None = None,
) -> frozenset[int]:
    """The lines of one file a person changed after an agent wrote the code around them.

    This is the one definition of a human edit, used at every level (function, module,
    package, repository). A non-blank line is human-edited when its origin is ``mixed`` (an AI
    line a person changed before committing it), or it is ``human`` and its commit is newer, by
    author time, than the oldest AI line (``ai`` or ``mixed``) of its *unit*: the innermost
    function around it, or, for lines outside every function, the file's code outside functions.
    A file whose functions are not known (not Python, or unparseable) is one unit.

    Args:
        lines: every line of the file, in order.
        spans: the file's functions (:func:`function_spans`); empty when not known.
        commit_times: author time per commit id.

    Returns:
        1-based numbers of the human-edited lines.
    """
    times = commit_times or {}
    unit = [-1] * (len(lines) + 1)
    # Outer functions first, so an inner function's lines end up owned by the inner one.
    for index, span in sorted(enumerate(spans), key=lambda pair: (pair[1].start_line, -pair[1].end_line)):
        for number in range(max(span.start_line, 1), min(span.end_line, len(lines)) + 1):
            unit[number] = index
    oldest_ai: dict[int, int] = {}
    for number, line in enumerate(lines, 1):
        if line.origin.kind in ("ai", "mixed") and line.text.strip():
            when = times.get(line.commit, 0)
            owner = unit[number]
            if owner not in oldest_ai or when < oldest_ai[owner]:
                oldest_ai[owner] = when
    edited = set()
    for number, line in enumerate(lines, 1):
        if not line.text.strip():
            continue
        kind = line.origin.kind
        anchor = oldest_ai.get(unit[number])
        if kind == "mixed" or (kind == "human" and anchor is not None and times.get(line.commit, 0) > anchor):
            edited.add(number)
    return frozenset(edited)


def rollup(
    module: str,
    path: str,
    span: FunctionSpan,
    lines: Sequence[LineAttribution],
    edited: Collection[int] = frozenset(),
) -> FunctionRef:
    """The origin roll-up of one function.

    ``ai_share`` is the share of the function's non-blank lines that an agent wrote (``ai`` or
    ``mixed``). ``human_edit_share`` is the share of them a person changed after an agent wrote
    the code (:func:`edited_lines`, computed once per file and passed as ``edited``).

    Args:
        module: the module name (:func:`module_name`).
        path: the repository-relative file path.
        span: the function.
        lines: every line of the file, in order.
        edited: the file's human-edited line numbers (:func:`edited_lines`).
    """
    last = min(span.end_line, len(lines))
    body = [(n, lines[n - 1]) for n in range(max(span.start_line, 1), last + 1) if lines[n - 1].text.strip()]
    ai = [ln for _, ln in body if ln.origin.kind in ("ai", "mixed")]
    generations: dict[str, None] = {}
    models: dict[str, None] = {}
    agents: dict[str, None] = {}
    for ln in ai:
        generations.update(dict.fromkeys(ln.origin.generation_ids))
        if ln.origin.model:
            models[ln.origin.model] = None
        if ln.origin.agent:
            agents[ln.origin.agent] = None
    changed = sum(1 for number, _ in body if number in edited)
    total = len(body)
    return FunctionRef(
        qualname=f"{module}.{span.qualname}",
        path=path,
        start_line=span.start_line,
        end_line=span.end_line,
        ai_share=len(ai) / total if total else 0.0,
        human_edit_share=changed / total if total else 0.0,
        generation_ids=tuple(generations),
        models=tuple(models),
        agents=tuple(agents),
    )


@dataclass(frozen=True)
class Complexity:
    """The cognitive complexity of one function, as complexipy measures it.

    complexipy folds a nested function into its parent, and names a method ``Class::method``.
    """

    name: str
    first: int
    last: int
    complexity: int


def cognitive_complexity(source: str) -> tuple[Complexity, ...]:
    """The cognitive complexity of every function and method in ``source``; nothing when it does not parse.

    Raises:
        MissingExtraError: complexipy is not installed.
    """
    try:
        import complexipy
    except ImportError:  # pragma: no cover - complexipy is a core dependency
        raise MissingExtraError("check", "cognitive complexity (complexipy)") from None
    try:
        result = complexipy.code_complexity(source)
    except Exception:  # complexipy raises its own errors on code it cannot parse
        return ()
    return tuple(
        Complexity(str(f.name), int(f.line_start), int(f.line_end), int(f.complexity)) for f in result.functions
    )
