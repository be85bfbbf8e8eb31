"""Wrappers: the 3.11 backend swaps a selected function it cannot recode for a wrapper.

The :class:`WrappingBackend` watches, in this order: functions of modules imported after
``init()``, rewritten at import, and functions loaded before, given their rewritten code
(both by :class:`~codewitness.sensor._rewriting.Rewriter`); failing that (the file changed, no
source, a decorator's wrapper), the function is swapped, in the module or class namespace that
holds it, for a wrapper of the same kind (plain, ``async def``, generator, async generator;
``staticmethod`` and ``classmethod`` re-applied). References to the original held in other
modules' namespaces (``from shop.pricing import quote`` run before ``init()``) are swapped too.
Nested functions (``<locals>``) and references kept elsewhere (lists, closures, registries filled
by decorators at import) cannot be reached that way; those functions are counted as unreachable.
Python 3.12+ watches such code objects through ``sys.monitoring`` instead (``_monitoring``).

The data is the same on every path: one call runs from the first instruction to the final return
or raise (for generators and coroutines, from the first resume to the end, suspensions included);
``GeneratorExit`` is a normal end, not an error. A wrapper is per-call code: it catches and counts
its own errors with a plain ``try`` and lets the host's exceptions through untouched.
"""

from __future__ import annotations

import functools
import importlib.abc
import inspect
import sys
import types
from collections.abc import AsyncGenerator, Callable, Generator
from typing import TYPE_CHECKING, Any

from codewitness.errors import InvariantViolation
from codewitness.sensor._probe import Probe, bind_arguments
from codewitness.sensor._rewriting import Rewriter
from codewitness.sensor._select import Found
from codewitness.sensor.meter import now as monotonic_ns

if TYPE_CHECKING:
    from codewitness.sensor._lifecycle import Sensor

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
        probe.meter.exit,
        probe.failed,
        probe.sensor.internal_error,
        _clock,
        _slow_call,
        bind_arguments,
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
def __cw_make(__cw_fn, __cw_probe, __cw_exit, __cw_failed, __cw_internal_error, __cw_clock, __cw_slow_call,
              __cw_bind):
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
            __cw_exit(__cw_t0)
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
            return probe.sample_arguments(bind_arguments(fn, args, kwargs))
    except Exception:
        probe.sensor.internal_error("sample")
    return None


def _slow_call(fn: Callable[..., Any], probe: Probe, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    if probe.unwatched is not None:
        return fn(*args, **kwargs)  # a reference to the wrapper kept after the function was unwatched
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
    except InvariantViolation:
        raise  # an invariant in ``raise`` mode: meant for the caller
    except Exception:
        probe.sensor.internal_error("wrapper.ok")


def _coroutine_wrapper(fn: Callable[..., Any], probe: Probe) -> Callable[..., Any]:
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        if probe.unwatched is not None:
            return await fn(*args, **kwargs)
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
        gen = fn(*args, **kwargs)
        return gen if probe.unwatched is not None else _drive(gen, fn, probe, args, kwargs)

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
        agen = fn(*args, **kwargs)
        return agen if probe.unwatched is not None else _drive_async(agen, fn, probe, args, kwargs)

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
    """Rewrites or recodes selected functions, else swaps them for wrappers; :meth:`detach_all`
    puts the originals back (see the module docstring).
    """

    name = "wrapping"

    def __init__(self, sensor: Sensor) -> None:
        self._sensor = sensor
        self._undo: list[tuple[Any, str, Any, Any]] = []
        self._fresh: dict[int, tuple[Any, Any]] = {}
        #: Rewrites modules imported from now on, and recodes functions loaded before.
        self.rewriter = Rewriter(sensor)

    def attach(self, found: Found, probe: Probe) -> bool:
        """Give ``found`` its rewritten code, else swap it in its owner's namespace (a nested
        function is reached only through the rewritten code of the function holding it)."""
        if found.target.name in self.rewriter.decorated:
            return True  # its module was rewritten at import: every definition is wrapped already
        if self.rewriter.recode(found, probe):
            return True
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

    def unwatch(self, probe: Probe) -> bool | None:
        """Stop watching ``probe``'s function (see ``Sensor`` on cheap functions); ``None`` when this
        backend does not watch it, ``False`` when it cannot stop.

        Rewritten functions: see ``Rewriter.unwatch``. Swapped ones get their names back, in every
        namespace that still holds the wrapper; a reference to the wrapper taken meanwhile calls
        straight through (the plain wrapper's ``slow`` test sends it to :func:`_slow_call`, which
        sees ``probe.unwatched``), so the normal path gains no test. Runs on the exporter thread.
        """
        held = self.rewriter.unwatch(probe.target.name)
        swapped = False
        for owner, attribute, original, raw in list(self._undo):
            wrapper = raw.__func__ if isinstance(raw, staticmethod | classmethod) else raw
            if getattr(wrapper, "__codewitness_probe__", None) is not probe:
                continue
            swapped = True
            try:
                if vars(owner).get(attribute) is raw:
                    setattr(owner, attribute, original)
            except Exception:
                self._sensor.internal_error("unwatch")
        if swapped:
            probe.slow = True
            return held is not False
        return held

    def detach_all(self) -> None:
        """Restore every swapped name that still holds our wrapper, and every function's code."""
        self.rewriter.restore()
        undo, self._undo = self._undo, []
        for owner, attribute, original, raw in reversed(undo):
            try:
                if vars(owner).get(attribute) is raw:
                    setattr(owner, attribute, original)
            except Exception:
                self._sensor.internal_error("detach")

    def loader_for(self, inner: Any, on_loaded: Callable[[types.ModuleType], Any]) -> importlib.abc.Loader | None:
        """The rewriting loader for modules imported from now on (see ``Rewriter.loader_for``)."""
        return self.rewriter.loader_for(inner, on_loaded)
