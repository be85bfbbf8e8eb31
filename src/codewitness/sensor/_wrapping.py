"""The Python 3.11 backend: selected functions are replaced by timing wrappers.

Each selected function is swapped, in the module or class namespace that holds it, for a
wrapper of the same kind (plain, ``async def``, generator, async generator; ``staticmethod`` and
``classmethod`` re-applied) that times the call and reports to its :class:`Probe`. References to
the original held in other modules' namespaces (``from shop.pricing import quote`` run before
``init()``) are swapped too. Nested functions (``<locals>``) and references kept elsewhere
(lists, closures, registries filled by decorators at import) cannot be reached this way; those
functions are counted as unreachable. Python 3.12+ uses ``_monitoring`` instead, which watches
code objects and has neither limit.

The data is the same as on 3.12: one call runs from the first instruction to the final return
or raise (for generators and coroutines, from the first resume to the end, suspensions included);
``GeneratorExit`` is a normal end, not an error.
"""

from __future__ import annotations

import ast
import functools
import importlib.abc
import inspect
import sys
import types
from collections.abc import AsyncGenerator, Callable, Generator
from typing import Any

from codewitness.sensor._imports import _NotifyingLoader
from codewitness.sensor._runtime import Probe, Sensor, bind_arguments, monotonic_ns
from codewitness.sensor._select import Found
from codewitness.sensor.aggregate import EXACT_BELOW, LAST_BUCKET, MAX_TRACKED_NS, SHIFT_BASE, SUB_BUCKET_BITS

__all__ = ["WrappingBackend", "make_wrapper"]

_clock = monotonic_ns


def make_wrapper(function: Callable[..., Any], probe: Probe) -> Callable[..., Any]:
    """A wrapper of the same kind as ``function`` that reports every call to ``probe``."""
    if inspect.isasyncgenfunction(function):
        wrapper = _async_generator_wrapper(function, probe)
    elif inspect.iscoroutinefunction(function):
        wrapper = _coroutine_wrapper(function, probe)
    elif inspect.isgeneratorfunction(function):
        wrapper = _generator_wrapper(function, probe)
    else:
        wrapper = _plain_wrapper(function, probe)
    functools.update_wrapper(wrapper, function)
    wrapper.__codewitness_probe__ = probe  # type: ignore[attr-defined]
    return wrapper


def _plain_wrapper(fn: Callable[..., Any], probe: Probe) -> Callable[..., Any]:
    """A wrapper with ``fn``'s own parameters, so a call costs no ``*args``/``**kwargs`` packing."""
    code = getattr(fn, "__code__", None)
    source = _signature_source(code) if isinstance(code, types.CodeType) else None
    if source is None:
        source = _WRAPPER_SOURCE.format(params="*args, **kwargs", call="*args, **kwargs", named=_GENERIC_NAMED)
    wrapper: Callable[..., Any] = _factory(source)(
        fn,
        probe,
        probe.stats,
        probe.failed,
        probe.sensor.internal_error,
        _clock,
        _slow_call,
        bind_arguments,
        EXACT_BELOW,
        MAX_TRACKED_NS,
        LAST_BUCKET,
        SHIFT_BASE,
        SUB_BUCKET_BITS,
    )
    wrapper.__defaults__ = getattr(fn, "__defaults__", None)
    wrapper.__kwdefaults__ = getattr(fn, "__kwdefaults__", None)
    return wrapper


@functools.lru_cache(maxsize=512)
def _factory(source: str) -> Callable[..., Callable[..., Any]]:
    """Compile one wrapper shape once; functions with the same parameters share it."""
    namespace: dict[str, Any] = {}
    exec(compile(source, "<codewitness wrapper>", "exec"), namespace)  # noqa: S102 - our own template
    factory: Callable[..., Callable[..., Any]] = namespace["__cw_make"]
    return factory


# The fast path, written once; {params} and {call} are the wrapped function's own parameters.
# Names of ours start with __cw_ so they cannot collide with the function's parameter names.
_WRAPPER_SOURCE = """
def __cw_make(__cw_fn, __cw_probe, __cw_stats, __cw_failed, __cw_internal_error, __cw_clock, __cw_slow_call,
              __cw_bind, __cw_exact, __cw_max, __cw_last, __cw_shift_base, __cw_bits):
    def wrapper({params}):
        if __cw_probe.slow:
            __cw_args, __cw_kwargs = {named}
            return __cw_slow_call(__cw_fn, __cw_probe, __cw_args, __cw_kwargs)
        __cw_t0 = __cw_clock()
        try:
            __cw_result = __cw_fn({call})
        except BaseException as __cw_exc:
            try:
                __cw_args, __cw_kwargs = {named}
                __cw_ns = __cw_clock() - __cw_t0
                __cw_failed(__cw_ns, __cw_exc, lambda: __cw_bind(__cw_fn, __cw_args, __cw_kwargs))
            except Exception:
                __cw_internal_error("wrapper.failed")
            raise
        try:
            # FunctionStats.ok, inlined: this runs on every call.
            __cw_ns = __cw_clock() - __cw_t0
            if __cw_ns < __cw_exact:
                __cw_stats.buckets[__cw_ns] += 1
            elif __cw_ns < __cw_max:
                __cw_s = __cw_ns.bit_length() - __cw_shift_base
                __cw_stats.buckets[(__cw_s << __cw_bits) + (__cw_ns >> __cw_s)] += 1
            else:
                __cw_stats.buckets[__cw_last] += 1
        except Exception:
            __cw_internal_error("wrapper.ok")
        return __cw_result
    return wrapper
"""
_GENERIC_NAMED = "(args, kwargs)"


def _signature_source(code: types.CodeType) -> str | None:
    """The wrapper source for a function with this code object's parameters."""
    names = code.co_varnames
    npos, nposonly, nkw = code.co_argcount, code.co_posonlyargcount, code.co_kwonlyargcount
    positional = list(names[:npos])
    keyword_only = list(names[npos : npos + nkw])
    rest = npos + nkw
    varargs = names[rest] if code.co_flags & inspect.CO_VARARGS else None
    varkw = names[rest + (1 if varargs else 0)] if code.co_flags & inspect.CO_VARKEYWORDS else None
    if any(name.startswith("__cw_") for name in (*positional, *keyword_only, varargs or "", varkw or "")):
        return None
    params: list[str] = []
    for index, name in enumerate(positional):
        # Placeholder defaults; the function's real ones are copied onto the wrapper.
        params.append(f"{name}=None")
        if nposonly and index == nposonly - 1:
            params.append("/")
    if varargs:
        params.append(f"*{varargs}")
    elif keyword_only:
        params.append("*")
    params.extend(f"{name}=None" for name in keyword_only)
    if varkw:
        params.append(f"**{varkw}")
    call = [*positional, *([f"*{varargs}"] if varargs else []), *(f"{k}={k}" for k in keyword_only)]
    if varkw:
        call.append(f"**{varkw}")
    args_tuple = "(" + "".join(f"{n}, " for n in positional) + (f"*{varargs}," if varargs else "") + ")"
    kwargs_dict = "{" + ", ".join(f"{k!r}: {k}" for k in keyword_only) + (f", **{varkw}" if varkw else "") + "}"
    if kwargs_dict.startswith("{, "):
        kwargs_dict = "{" + kwargs_dict[3:]
    return _WRAPPER_SOURCE.format(
        params=", ".join(params), call=", ".join(call), named=f"({args_tuple}, {kwargs_dict})"
    )


def _prepare_sample(fn: Callable[..., Any], probe: Probe, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    try:
        if probe.want_sample():
            return probe.snapshot_arguments(bind_arguments(fn, args, kwargs))
    except Exception:
        probe.sensor.internal_error("sample")
    return None


def _slow_call(fn: Callable[..., Any], probe: Probe, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    sampled = _prepare_sample(fn, probe, args, kwargs)
    t0 = _clock()
    try:
        result = fn(*args, **kwargs)
    except BaseException as exc:
        _failed(probe, t0, exc, fn, args, kwargs)
        raise
    _returned(probe, t0, fn, args, kwargs, result, sampled)
    return result


def _failed(
    probe: Probe,
    t0: int,
    exc: BaseException,
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> None:
    """Report a call that raised (the caller re-raises); never raises itself."""
    try:
        probe.failed(_clock() - t0, exc, lambda: bind_arguments(fn, args, kwargs))
    except Exception:
        probe.sensor.internal_error("wrapper.failed")


def _returned(
    probe: Probe,
    t0: int,
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    result: Any,
    sampled: Any,
) -> None:
    """Report a call that returned (the slow path when checks or sampling need it); never raises."""
    ns = _clock() - t0
    try:
        if probe.slow:
            probe.finish(ns, lambda: bind_arguments(fn, args, kwargs), result, sampled)
        else:
            probe.stats.ok(ns)
    except Exception:
        probe.sensor.internal_error("wrapper.ok")


def _coroutine_wrapper(fn: Callable[..., Any], probe: Probe) -> Callable[..., Any]:
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        sampled = _prepare_sample(fn, probe, args, kwargs) if probe.slow else None
        t0 = _clock()
        try:
            result = await fn(*args, **kwargs)
        except BaseException as exc:
            _failed(probe, t0, exc, fn, args, kwargs)
            raise
        _returned(probe, t0, fn, args, kwargs, result, sampled)
        return result

    return wrapper


def _generator_wrapper(fn: Callable[..., Any], probe: Probe) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        # Create the generator now so that a bad call raises here, as it would unwrapped.
        return _drive(fn(*args, **kwargs), fn, probe, args, kwargs)

    return wrapper


def _drive(
    gen: Generator[Any, Any, Any],
    fn: Callable[..., Any],
    probe: Probe,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Generator[Any, Any, Any]:
    t0 = _clock()  # runs at the first next(), like the generator's own first instruction
    try:
        result = yield from gen
    except BaseException as exc:
        _failed(probe, t0, exc, fn, args, kwargs)
        raise
    _returned(probe, t0, fn, args, kwargs, result, None)
    return result


def _async_generator_wrapper(fn: Callable[..., Any], probe: Probe) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return _drive_async(fn(*args, **kwargs), fn, probe, args, kwargs)

    return wrapper


async def _drive_async(
    agen: AsyncGenerator[Any, Any],
    fn: Callable[..., Any],
    probe: Probe,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> AsyncGenerator[Any, Any]:
    t0 = _clock()
    try:
        value = await agen.__anext__()
        while True:
            try:
                sent = yield value
            except GeneratorExit:
                await agen.aclose()
                raise
            except BaseException as thrown:
                value = await agen.athrow(thrown)
            else:
                value = await agen.asend(sent)
    except StopAsyncIteration:
        pass
    except BaseException as exc:
        _failed(probe, t0, exc, fn, args, kwargs)
        raise
    _returned(probe, t0, fn, args, kwargs, None, None)


class WrappingBackend:
    """Swaps selected functions for wrappers; :meth:`detach_all` puts the originals back.

    Modules imported after ``init()`` are rewritten at import instead (see :class:`RewritingLoader`):
    the selected functions get a decorator of ours as their innermost one, so whatever other
    decorators register at definition time (web routes, task queues) is already the wrapper.
    Those wrappers stay after :meth:`detach_all` (the definitions are gone); they keep counting
    into the closed sensor's probes, which nobody reads any more.
    """

    name = "wrapping"

    def __init__(self, sensor: Sensor) -> None:
        self._sensor = sensor
        self._undo: list[tuple[Any, str, Any, Any]] = []
        self._fresh: dict[int, tuple[Any, Any]] = {}
        #: ``module.qualname`` of every function that got our decorator at import.
        self.decorated: set[str] = set()

    def attach(self, found: Found, probe: Probe) -> bool:
        """Swap ``found`` in its owner's namespace; nested functions cannot be reached."""
        if found.target.name in self.decorated:
            return True  # its module was rewritten at import: every definition is wrapped already
        if found.owner is None or found.function is None:
            return False
        wrapper = make_wrapper(found.function, probe)
        raw: Any = wrapper
        if found.kind == "staticmethod":
            raw = staticmethod(wrapper)
        elif found.kind == "classmethod":
            raw = classmethod(wrapper)
        namespace = vars(found.owner)
        original = namespace.get(found.attribute)
        setattr(found.owner, found.attribute, raw)
        self._undo.append((found.owner, found.attribute, original, raw))
        if found.kind == "function":
            self._fresh[id(found.function)] = (found.function, wrapper)
        return True

    def settle(self) -> None:
        """Swap references to the originals that other modules imported before ``init()``."""
        fresh, self._fresh = self._fresh, {}
        if not fresh:
            return
        for module in list(sys.modules.values()):
            namespace = getattr(module, "__dict__", None)
            if not isinstance(module, types.ModuleType) or not isinstance(namespace, dict):
                continue
            for key, value in list(namespace.items()):
                hit = fresh.get(id(value))
                if hit is not None and hit[0] is value:
                    namespace[key] = hit[1]
                    self._undo.append((module, key, value, hit[1]))

    def detach_all(self) -> None:
        """Restore every swapped name that still holds our wrapper."""
        undo, self._undo = self._undo, []
        for owner, attribute, original, raw in reversed(undo):
            try:
                if vars(owner).get(attribute) is raw:
                    setattr(owner, attribute, original)
            except Exception:
                self._sensor.internal_error("detach")

    # -- rewriting at import --------------------------------------------------------------------

    def loader_for(self, inner: Any, on_loaded: Callable[[types.ModuleType], Any]) -> importlib.abc.Loader | None:
        """A loader that rewrites the module's source, when the real loader can give the source."""
        if not callable(getattr(inner, "get_source", None)):
            return None
        return RewritingLoader(inner, on_loaded, self)

    def rewrite(self, module: types.ModuleType, source: str, filename: str) -> types.CodeType | None:
        """The module's code with our decorator on every selected function; ``None`` if none is."""
        tree = ast.parse(source, filename)
        marker = _Decorate(module.__name__, self._sensor.selection)
        marker.visit(tree)
        if not marker.names:
            return None
        ast.fix_missing_locations(tree)
        vars(module)[_DECORATOR] = self._decorator_for(module.__name__)
        code: types.CodeType = compile(tree, filename, "exec", dont_inherit=True)
        self.decorated.update(marker.names)
        return code

    def _decorator_for(self, module: str) -> Callable[[str], Callable[[Any], Any]]:
        sensor = self._sensor

        def probe_for(qualname: str) -> Callable[[Any], Any]:
            def decorate(function: Any) -> Any:
                try:
                    target = sensor.selection.wanted(module, qualname)
                    if target is None or not isinstance(function, types.FunctionType):
                        return function
                    return make_wrapper(function, sensor.probe_for(target))
                except Exception:
                    sensor.internal_error("rewrite")
                    return function

            return decorate

        return probe_for


#: The name our decorator has inside a rewritten module.
_DECORATOR = "__codewitness_probe_for__"


class _Decorate(ast.NodeTransformer):
    """Adds ``@__codewitness_probe_for__("<qualname>")`` innermost on each selected function."""

    def __init__(self, module: str, selection: Any) -> None:
        self.module = module
        self.selection = selection
        self.prefix: list[str] = []
        self.names: list[str] = []

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        self.prefix.append(node.name)
        self.generic_visit(node)
        self.prefix.pop()
        return node

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> ast.AST:
        qualname = ".".join([*self.prefix, node.name])
        if self.selection.wanted(self.module, qualname) is not None:
            call = ast.Call(func=ast.Name(_DECORATOR, ast.Load()), args=[ast.Constant(qualname)], keywords=[])
            node.decorator_list.append(ast.copy_location(call, node))
            self.names.append(f"{self.module}.{qualname}")
        self.prefix.extend([node.name, "<locals>"])
        self.generic_visit(node)
        del self.prefix[-2:]
        return node

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function


class RewritingLoader(_NotifyingLoader):
    """Executes a module from its rewritten source (no bytecode cache is read or written)."""

    def __init__(self, inner: Any, on_loaded: Callable[[types.ModuleType], Any], backend: WrappingBackend) -> None:
        super().__init__(inner, on_loaded)
        self._backend = backend

    def _execute(self, module: types.ModuleType) -> None:
        code = None
        try:
            source = self._inner.get_source(module.__name__)
            filename = getattr(module.__spec__, "origin", None) or getattr(module, "__file__", None) or "<unknown>"
            if source is not None:
                code = self._backend.rewrite(module, source, filename)
        except Exception:
            # A module we cannot rewrite still loads, the ordinary way, and is swapped afterwards.
            self._backend._sensor.internal_error("rewrite")
            code = None
        if code is None:
            self._inner.exec_module(module)
        else:
            exec(code, vars(module))  # noqa: S102 - the module's own code, with our decorators added
