"""Rewriting: selected functions made to time themselves, from their module's source.

Modules imported after ``init()`` (the usual case under ``codewitness run``) are rewritten at
import (:class:`RewritingLoader`): each selected function's own body is put inside a few
statements that time it and report to its :class:`~codewitness.sensor._probe.Probe` (see
``_INLINE_SOURCE``). There is no wrapper: the function object, its signature, its frame and every
reference to it are the originals, nested functions included, and a call costs two calls to its
meter (``meter``).

A function of a module already loaded when the sensor starts is given the code its module's
source compiles to when rewritten (:meth:`Rewriter.recode`), as long as that source still
compiles to the code it runs: every reference to it reaches the timed code, nested functions made
from now on included. Where that cannot be done (the file changed, no source, a decorator's
wrapper), a backend swaps it for a wrapper (``_wrappers``) or watches its code object
(``_monitoring``, 3.12+). ``python -m codewitness.sensor._script`` rewrites a script the same way
(:meth:`Rewriter.rewrite` with ``standalone``).

The generated statements are the sensor's per-call code: they catch their own errors with a plain
``try`` and count them, and let nothing of ours reach the host but an invariant raised in
``raise`` mode.
"""

from __future__ import annotations

import ast
import contextlib
import importlib.abc
import re
import sys
import types
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from codewitness.errors import InvariantViolation
from codewitness.sensor._imports import _NotifyingLoader
from codewitness.sensor._select import Found, Target

if TYPE_CHECKING:
    from codewitness.sensor._lifecycle import Sensor
    from codewitness.sensor._probe import Probe

__all__ = ["Rewriter", "RewritingLoader"]


class Rewriter:
    """Rewrites the selected functions of modules as they are imported, and recodes those of
    modules loaded before ``init()``; :meth:`restore` gives recoded functions their code back.

    Functions rewritten at import stay so after the sensor stops (the definitions are gone); they
    keep counting into the closed sensor's probes, which nobody reads any more.
    """

    def __init__(self, sensor: Sensor) -> None:
        self._sensor = sensor
        #: ``module.qualname`` of every function that got our decorator at import.
        self.decorated: set[str] = set()
        #: Per module loaded before ``init()``: its selected functions' code as loaded and as
        #: rewritten, and the index of their globals, by qualname (see :meth:`recode`).
        self._recoded: dict[str, dict[str, tuple[types.CodeType, types.CodeType, int]]] = {}
        #: Per module loaded before ``init()``: every selected function by the index of its globals
        #: (its target and parameter names), those defined twice included (see :meth:`_bind_nested`).
        self._selected: dict[str, dict[int, tuple[Target, tuple[str, ...]]]] = {}
        self._old_code: list[tuple[types.FunctionType, types.CodeType]] = []
        #: Per module: qualnames of the functions :meth:`recode` gave their rewritten code.
        self._recoded_names: dict[str, set[str]] = {}
        #: Per module: the probes of its recoded functions, for the marker decorator that the
        #: rewritten code of an enclosing function applies to the nested ones it makes.
        self._recoded_probes: dict[str, dict[str, Probe]] = {}
        #: Per function (``module.qualname``): the globals its rewritten code reads its meter from
        #: (namespace and index), and the function objects known to run that code (see :meth:`unwatch`).
        self._bound: dict[str, list[tuple[dict[str, Any], int]]] = {}
        self._functions: dict[str, list[types.FunctionType]] = {}
        #: Per module rewritten at import: its loader and a digest of the source rewritten, to find
        #: the code its functions had before (:meth:`unwatch`); and that code once looked up.
        self._sources: dict[str, tuple[Any, int]] = {}
        self._originals: dict[str, dict[str, types.CodeType]] = {}
        #: Functions rewritten to run in another namespace (``python -m``): their globals are not reachable.
        self._standalone: set[str] = set()

    def recode(self, found: Found, probe: Probe) -> bool:
        """Give a function loaded before ``init()`` the code its module's source compiles to when
        rewritten (as at import): every reference to the function object -- route tables,
        closures, other modules' imports -- then reaches the timed code, at the rewritten cost,
        with no wrapper. Only when the source still compiles to the code the function runs (the
        file did not change since the import) and the rewritten code has the same free variables.
        """
        function, module, qualname = found.function, found.target.module, found.target.qualname
        try:
            entry = self._module_codes(module).get(qualname)
            if entry is None:
                return False
            loaded, rewritten, index = entry
            recoded = self._recoded_names.setdefault(module, set())
            if function is None:
                # A nested function: reached when the function holding it has its rewritten code
                # (found first: enclosing functions come before the ones they hold).
                if not any(qualname.startswith(f"{outer}.<locals>.") for outer in recoded):
                    return False
                namespace = vars(sys.modules[module])
            elif not _runs(function, loaded) or rewritten.co_freevars != loaded.co_freevars:
                return False  # not a plain function, or its file changed since it was loaded
            else:
                namespace = function.__globals__
            probes = self._recoded_probes.setdefault(module, {})
            if function is not None:
                self._bind_nested(module, rewritten, namespace, probes)
            self._bind(namespace, index, probe, found.target.name)
            namespace[_VIOLATION] = InvariantViolation
            probes[qualname] = probe
            namespace[_DECORATOR] = _marker_for(probes, self._functions, module)
            if function is not None:
                self._old_code.append((function, function.__code__))
                function.__code__ = rewritten
                function.__codewitness_probe__ = probe  # type: ignore[attr-defined]
                recoded.add(qualname)
                self._functions.setdefault(found.target.name, []).append(function)
            return True
        except Exception:
            self._sensor.internal_error("recode")
            return False

    def _bind(self, namespace: dict[str, Any], index: int, probe: Probe, name: str) -> None:
        """Bind the ``index``-th rewritten function's globals in ``namespace`` to ``probe``'s meter."""
        probe_name, enter_name, exit_name, fail_name = _global_names(index)
        namespace[probe_name] = probe
        namespace[enter_name], namespace[exit_name] = probe.meter.enter, probe.meter.exit
        namespace[fail_name] = probe.meter.fail
        bound = self._bound.setdefault(name, [])
        if not any(ns is namespace and at == index for ns, at in bound):
            bound.append((namespace, index))

    def _bind_nested(
        self, module: str, rewritten: types.CodeType, namespace: dict[str, Any], probes: dict[str, Probe]
    ) -> None:
        """Bind the globals of every selected function nested in ``rewritten`` before it runs.

        Its nested functions are made from their rewritten code when it runs, and that code reads
        its meter from module globals. A nested function defined twice (``def key(...)`` in both
        arms of an ``if``) is never recoded on its own (which of its code objects a function runs
        is not known): its probe is made and bound here. Without it, the first call of the
        enclosing function raised ``NameError`` in the host. One recoded on its own is bound right
        after this (the sensor finds a function before those it holds); should the enclosing
        function run in between, on another thread, its calls count into a probe nobody reads.
        """
        from codewitness.sensor._probe import Probe as _Probe

        selected = self._selected.get(module, {})
        own = self._recoded.get(module, {})
        for index in sorted(_nested_indexes(rewritten)):
            entry = selected.get(index)
            if entry is None:
                continue
            target, params = entry
            if target.qualname not in own:
                nested_probe = self._sensor.probe_for(target, params)
                self._bind(namespace, index, nested_probe, target.name)
                probes[target.qualname] = nested_probe
            elif _global_names(index)[0] not in namespace:
                placeholder = _Probe(target, self._sensor)  # not the sensor's: nobody reads its counts
                probe_name, enter_name, exit_name, fail_name = _global_names(index)
                namespace[probe_name] = placeholder
                namespace[enter_name], namespace[exit_name] = placeholder.meter.enter, placeholder.meter.exit
                namespace[fail_name] = placeholder.meter.fail

    def _module_codes(self, name: str) -> dict[str, tuple[types.CodeType, types.CodeType, int]]:
        """What :meth:`recode` needs of module ``name``, worked out once; empty when its source
        cannot be had or rewritten."""
        codes = self._recoded.get(name)
        if codes is not None:
            return codes
        codes = self._recoded[name] = {}
        spec = getattr(sys.modules.get(name), "__spec__", None)
        loader: Any = getattr(spec, "loader", None)
        filename = getattr(spec, "origin", None)
        source = loader.get_source(name) if callable(getattr(loader, "get_source", None)) else None
        transformed = self._transform(name, source, filename) if source and filename else None
        if transformed is None:
            return codes
        tree, selected = transformed
        loaded = _codes_by_qualname(compile(source, filename, "exec", dont_inherit=True))  # type: ignore[arg-type]
        rewritten = _codes_by_qualname(compile(tree, filename, "exec", dont_inherit=True))  # type: ignore[arg-type]
        self._selected[name] = {index: (target, params) for index, target, params in selected.values()}
        for qualname, (index, _, _) in selected.items():
            if qualname in loaded and qualname in rewritten:
                codes[qualname] = (loaded[qualname], rewritten[qualname], index)
        return codes

    def restore(self) -> None:
        """Give every recoded function the code it had."""
        old_code, self._old_code = self._old_code, []
        for function, code in reversed(old_code):
            with contextlib.suppress(Exception):
                function.__code__ = code

    def unwatch(self, name: str) -> bool | None:
        """Stop timing the rewritten function ``name`` (``module.qualname``): ``None`` when it is not
        one of ours, ``False`` when it cannot be reached (a script run by ``python -m``).

        Its function objects get back the code they had before the rewrite when that code is known
        (recoded functions; modules rewritten at import whose source is unchanged, from the
        bytecode cache): calls then cost nothing. Whatever still runs the rewritten code (closures
        of nested functions, a copy of the function, a call in progress) reads the meter's
        ``enter`` from its module's globals at each call; that becomes a no-op returning ``None``,
        for which ``exit`` does nothing. A call already in progress keeps its start and is counted
        when it returns. Runs on the exporter thread; never raises.
        """
        bound = self._bound.get(name)
        if bound is None:
            return None
        if name in self._standalone:
            return False
        for namespace, index in bound:
            _, enter_name, _, fail_name = _global_names(index)
            namespace[enter_name] = _OFF_ENTER
            namespace[fail_name] = _off_fail
        for function in self._functions.get(name, ()):
            try:
                original = self._original(function.__module__, function.__code__)
                if original is not None:
                    function.__code__ = original
            except Exception:
                self._sensor.internal_error("unwatch")
        return True

    def _original(self, module: str, rewritten: types.CodeType) -> types.CodeType | None:
        """The code a rewritten function had before, when known and interchangeable with ``rewritten``."""
        codes = self._originals.get(module)
        if codes is None:
            codes = self._originals[module] = self._codes_before(module)
        original = codes.get(rewritten.co_qualname)
        if (
            original is None
            or original.co_freevars != rewritten.co_freevars
            or original.co_firstlineno != rewritten.co_firstlineno
        ):
            return None
        return original

    def _codes_before(self, module: str) -> dict[str, types.CodeType]:
        """Module ``module``'s function code objects as its unrewritten source compiles them, by qualname."""
        recoded = self._recoded.get(module)
        if recoded:
            return {qualname: loaded for qualname, (loaded, _, _) in recoded.items()}
        known = self._sources.get(module)
        if known is None:
            return {}
        loader, digest = known
        source = loader.get_source(module)
        if source is None or hash(source) != digest:
            return {}  # the file changed since the import: its code now is not what was rewritten
        # From the bytecode cache when it is fresh (as an uninstrumented import would read it).
        code = loader.get_code(module)
        return _codes_by_qualname(code) if isinstance(code, types.CodeType) else {}

    def loader_for(self, inner: Any, on_loaded: Callable[[types.ModuleType], Any]) -> importlib.abc.Loader | None:
        """A loader that rewrites the module's source, when the real loader can give the source."""
        if not callable(getattr(inner, "get_source", None)):
            return None
        return RewritingLoader(inner, on_loaded, self)

    def rewrite(
        self, module: types.ModuleType, source: str, filename: str, standalone: bool = False, loader: Any = None
    ) -> types.CodeType | None:
        """The module's code with every selected function timing itself; ``None`` if none is selected.

        Each selected function's body is wrapped, in the source tree, in the few statements of
        :data:`_INLINE_SOURCE`, and its probe is made now and bound to a module global the body
        reads. Nothing stands between callers and the function: no wrapper frame, the function
        object, signature and ``sys._getframe`` are the originals, and references taken before the
        definition finished (route tables, registries filled by decorators) reach the timed code.
        The function also gets an innermost marker decorator that sets ``__codewitness_probe__``.

        ``standalone``: the code will run in a namespace other than ``module``'s (``python -m``
        runs a module's code in ``__main__``), so it binds those globals itself, in a first
        statement (after the docstring and ``__future__`` imports) on the line of the one it precedes.

        ``loader``: the module's own loader, which can give its unrewritten code back (:meth:`unwatch`).
        """
        transformed = self._transform(module.__name__, source, filename)
        if transformed is None:
            return None
        tree, selected = transformed
        namespace = vars(module)
        probes: dict[str, Probe] = {}
        for qualname, (index, target, params) in selected.items():
            probe = self._sensor.probe_for(target, params)
            probe_name, enter_name, exit_name, fail_name = _global_names(index)
            probes[qualname] = namespace[probe_name] = probe
            namespace[enter_name], namespace[exit_name] = probe.meter.enter, probe.meter.exit
            namespace[fail_name] = probe.meter.fail
        namespace[_VIOLATION] = InvariantViolation
        namespace[_DECORATOR] = _marker_for(probes, self._functions, module.__name__)
        for index, target, _ in selected.values():
            self._bound.setdefault(target.name, []).append((namespace, index))
            if standalone:
                self._standalone.add(target.name)
        if standalone:
            _bind_first(tree, {name: value for name, value in namespace.items() if name.startswith("__c")})
        code: types.CodeType = compile(tree, filename, "exec", dont_inherit=True)
        if loader is not None and not standalone:
            self._sources[module.__name__] = (loader, hash(source))
        self.decorated.update(f"{module.__name__}.{qualname}" for qualname in selected)
        return code

    def _transform(
        self, module: str, source: str, filename: str
    ) -> tuple[ast.Module, dict[str, tuple[int, Target, tuple[str, ...]]]] | None:
        """The module's tree with every selected function rewritten, and for each its index,
        target and parameter names; ``None`` when none is selected."""
        tree = ast.parse(source, filename)
        marker = _Instrument(module, self._sensor.selection)
        marker.visit(tree)
        if not marker.probes:
            return None
        ast.fix_missing_locations(tree)
        return tree, marker.probes


#: What an unwatched rewritten function calls for ``enter``: a builtin that takes no argument and
#: returns ``None`` (the meter's ``exit(None)`` then does nothing), cheaper to call than a Python
#: function. Clearing a dictionary that is always empty changes nothing, on any thread.
_OFF_ENTER = {}.clear


def _off_fail(token: Any, exc: BaseException) -> None:
    """What an unwatched rewritten function that re-raises calls for ``fail``: nothing is counted."""
    return None


#: The globals of standalone rewritten code (see ``Rewriter.rewrite``), by key.
_BINDINGS: dict[str, dict[str, Any]] = {}


def _bind_first(tree: ast.Module, names: dict[str, Any]) -> None:
    """Make ``tree`` start by binding ``names`` in whatever globals it runs with."""
    key = f"{len(_BINDINGS)}:{id(names)}"
    _BINDINGS[key] = names
    source = f"globals().update(__import__({__name__!r}, fromlist=['_BINDINGS'])._BINDINGS[{key!r}])"
    statement = ast.parse(source).body[0]
    first = 0
    if tree.body and _is_docstring(tree.body[0]):
        first = 1
    while first < len(tree.body) and isinstance(tree.body[first], ast.ImportFrom):
        if tree.body[first].module != "__future__":  # type: ignore[attr-defined]
            break
        first += 1
    if first < len(tree.body):
        _place([statement], tree.body[first])
    tree.body.insert(first, statement)


def _runs(function: Any, code: types.CodeType) -> bool:
    """Whether ``function`` is a plain function running ``code`` (equal code: same instructions,
    constants, names and line table)."""
    return isinstance(function, types.FunctionType) and function.__code__ == code


_ENTER = re.compile(r"__cw_in(\d+)__")


def _nested_indexes(code: types.CodeType) -> set[int]:
    """The indexes of the rewritten functions nested in ``code`` (at any depth), read from the
    meter globals their code names."""
    found: set[int] = set()
    stack = [c for c in code.co_consts if isinstance(c, types.CodeType)]
    while stack:
        nested = stack.pop()
        for name in nested.co_names:
            matched = _ENTER.fullmatch(name)
            if matched:
                found.add(int(matched.group(1)))
        stack.extend(c for c in nested.co_consts if isinstance(c, types.CodeType))
    return found


def _codes_by_qualname(module_code: types.CodeType) -> dict[str, types.CodeType]:
    """The function code objects inside a module's code, by qualname; a qualname defined more
    than once (under an ``if``) is left out, since which one a function runs is not known."""
    found: dict[str, types.CodeType] = {}
    twice: set[str] = set()
    stack = [module_code]
    while stack:
        for const in stack.pop().co_consts:
            if isinstance(const, types.CodeType):
                if const.co_qualname in found:
                    twice.add(const.co_qualname)
                found[const.co_qualname] = const
                stack.append(const)
    return {q: c for q, c in found.items() if q not in twice}


def _marker_for(
    probes: dict[str, Probe], functions: dict[str, list[types.FunctionType]], module: str
) -> Callable[[str], Callable[[Any], Any]]:
    """The innermost decorator of rewritten functions: marks the function with its probe, and
    notes it in ``functions`` (by ``module.qualname``) unless it is a nested one, which is made
    again on every call of the function holding it."""

    def probe_for(qualname: str) -> Callable[[Any], Any]:
        def mark(function: Any) -> Any:
            # A mark is a convenience: the function works without it (a read-only object refuses it).
            with contextlib.suppress(Exception):
                function.__codewitness_probe__ = probes[qualname]
                if "<locals>" not in qualname and isinstance(function, types.FunctionType):
                    functions.setdefault(f"{module}.{qualname}", []).append(function)
            return function

        return mark

    return probe_for


#: Names a rewritten module gets: the marker decorator, the exception checks let through, and per
#: selected function ``__cw_p<N>__`` (its probe), ``__cw_in<N>__``, ``__cw_out<N>__`` and
#: ``__cw_fail<N>__`` (its meter's ``enter``, ``exit`` and ``fail``).
_DECORATOR = "__codewitness_probe_for__"
_VIOLATION = "__cw_violation__"


def _global_names(index: int) -> tuple[str, str, str, str]:
    """The module globals of the ``index``-th rewritten function: probe, meter enter, exit, fail."""
    return f"__cw_p{index}__", f"__cw_in{index}__", f"__cw_out{index}__", f"__cw_fail{index}__"


# What a selected function runs around its own statements (they replace ``pass``); every
# ``return X`` of the function becomes ``return (__cw_r__ := X)``. The names are dunder-shaped
# so that class bodies do not mangle them. A call that only needs counting costs two calls to
# the meter (compiled when built: see ``meter``); checks and samples take the meter's slow path,
# decided per call since checks may be added while the program runs. The meter's ``exit`` also
# tells an exception leaving the function from a return (the exception is then the one handled
# in the ``finally``, and its traceback starts at this frame), counts it, and hands the first few
# of each type per interval to ``Probe.raised``: one handler on the way out. Nothing of ours
# reaches the host but an invariant raised in ``raise`` mode.
_PROLOGUE = """
def _():
    __cw_t0__ = ENTER()
    try:
        pass
"""
_EPILOGUE = f"""\
    finally:
        try:
            EXIT(__cw_t0__)
        except {_VIOLATION}:
            raise
        except Exception:
            PROBE.sensor.internal_error("rewritten.exit")
"""
_INLINE_SOURCE = _PROLOGUE + _EPILOGUE

# For a function with a bare ``raise`` outside its own ``except`` blocks, which re-raises the
# exception its caller is handling: that exception does not record this frame in its traceback,
# so ``exit`` cannot tell it from a return. The function catches what leaves it and has the
# meter's ``fail`` count it (then ``exit(None)`` does nothing); this costs a second handler on the
# way out.
_RERAISING_SOURCE = (
    _PROLOGUE
    + """\
    except BaseException as __cw_e__:
        try:
            __cw_t0__ = FAIL(__cw_t0__, __cw_e__)
        except Exception:
            PROBE.sensor.internal_error("rewritten.fail")
        raise
"""
    + _EPILOGUE
)


def _inline_statements(index: int, reraising: bool = False) -> list[ast.stmt]:
    """Fresh copies of the prologue and the ``try`` of the template for one function."""
    probe, enter, exit_, fail = _global_names(index)
    source = _RERAISING_SOURCE if reraising else _INLINE_SOURCE
    source = source.replace("PROBE", probe).replace("ENTER", enter).replace("EXIT", exit_).replace("FAIL", fail)
    body = ast.parse(source).body[0].body  # type: ignore[attr-defined]
    return list(body)


def _reraises_callers(node: ast.AST, in_handler: bool = False) -> bool:
    """Whether a function body has a bare ``raise`` outside its own ``except`` blocks (nested
    functions and classes are their own)."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            continue
        if isinstance(child, ast.Raise) and child.exc is None and not in_handler:
            return True
        if _reraises_callers(child, in_handler or isinstance(child, ast.ExceptHandler)):
            return True
    return False


class _Returns(ast.NodeTransformer):
    """``return X`` -> ``return (__cw_r__ := X)`` in one function's own scope (not nested ones)."""

    def visit_Return(self, node: ast.Return) -> ast.AST:
        if node.value is not None:
            target = ast.Name("__cw_r__", ast.Store())
            node.value = ast.copy_location(ast.NamedExpr(target=target, value=node.value), node.value)
        return node

    def _skip(self, node: ast.AST) -> ast.AST:
        return node

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = visit_ClassDef = _skip


def _parameter_names(args: ast.arguments) -> tuple[str, ...]:
    names = [a.arg for a in (*args.posonlyargs, *args.args)]
    if args.vararg is not None:
        names.append(args.vararg.arg)
    names.extend(a.arg for a in args.kwonlyargs)
    if args.kwarg is not None:
        names.append(args.kwarg.arg)
    return tuple(names)


def _place(nodes: list[ast.stmt], where: ast.AST) -> None:
    """Give injected statements the ``def`` line, so tracebacks and coverage never see new lines."""
    line, column = where.lineno, where.col_offset  # type: ignore[attr-defined]
    for stmt in nodes:
        for child in ast.walk(stmt):
            if "lineno" in child._attributes:
                # Ending on the ``def`` line too: CPython reports some instructions by their end line.
                child.lineno = child.end_lineno = line  # type: ignore[attr-defined]
                child.col_offset = child.end_col_offset = column  # type: ignore[attr-defined]


class _Instrument(ast.NodeTransformer):
    """Rewrites each selected function of one module so that it times itself (see ``rewrite``)."""

    def __init__(self, module: str, selection: Any) -> None:
        self.module = module
        self.selection = selection
        self.prefix: list[str] = []
        #: qualname -> (the index of its module globals, its target, its parameter names)
        self.probes: dict[str, tuple[int, Target, tuple[str, ...]]] = {}

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        self.prefix.append(node.name)
        self.generic_visit(node)
        self.prefix.pop()
        return node

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> ast.AST:
        qualname = ".".join([*self.prefix, node.name])
        self.prefix.extend([node.name, "<locals>"])
        self.generic_visit(node)  # nested functions first: they are rewritten on their own
        del self.prefix[-2:]
        target = self.selection.wanted(self.module, qualname)
        if target is None:
            return node
        known = self.probes.get(qualname)  # a function defined twice (under an ``if``) shares a probe
        index = known[0] if known else len(self.probes)
        self.probes[qualname] = (index, target, _parameter_names(node.args))
        body = list(node.body)
        doc = [body.pop(0)] if body and _is_docstring(body[0]) else []
        reraising = _reraises_callers(node)
        for stmt in body:
            _Returns().visit(stmt)
        injected = _inline_statements(index, reraising)
        _place(injected, node)
        injected[-1].body = body or [ast.copy_location(ast.Pass(), node)]  # type: ignore[attr-defined]
        node.body = [*doc, *injected]
        call = ast.Call(func=ast.Name(_DECORATOR, ast.Load()), args=[ast.Constant(qualname)], keywords=[])
        node.decorator_list.append(ast.copy_location(call, node))
        return node

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function


def _is_docstring(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str)


class RewritingLoader(_NotifyingLoader):
    """Executes a module from its rewritten source (no bytecode cache is read or written)."""

    def __init__(self, inner: Any, on_loaded: Callable[[types.ModuleType], Any], rewriter: Rewriter) -> None:
        super().__init__(inner, on_loaded)
        self._rewriter = rewriter

    def _execute(self, module: types.ModuleType) -> None:
        code = None
        try:
            source = self._inner.get_source(module.__name__)
            filename = getattr(module.__spec__, "origin", None) or getattr(module, "__file__", None) or "<unknown>"
            if source is not None:
                code = self._rewriter.rewrite(module, source, filename, loader=self._inner)
        except Exception:
            # A module we cannot rewrite still loads, the ordinary way, and is swapped afterwards.
            self._rewriter._sensor.internal_error("rewrite")
            code = None
        if code is None:
            self._inner.exec_module(module)
        else:
            exec(code, vars(module))  # noqa: S102 - the module's own code, with our decorators added

    def get_code(self, fullname: str) -> types.CodeType | None:
        """The module's code, rewritten, for those that run it themselves: ``python -m`` (runpy)
        runs the main module's code in ``__main__``, which no loader executes."""
        try:
            source = self._inner.get_source(fullname)
            if source is not None:
                filename = self._inner.get_filename(fullname) if hasattr(self._inner, "get_filename") else fullname
                code = self._rewriter.rewrite(types.ModuleType(fullname), source, filename, standalone=True)
                if code is not None:
                    return code
        except Exception:
            self._rewriter._sensor.internal_error("rewrite")
        inner: types.CodeType | None = self._inner.get_code(fullname)
        return inner
