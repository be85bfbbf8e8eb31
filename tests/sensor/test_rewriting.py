"""Functions rewritten at import time themselves: same behaviour, no wrapper frame, same data.

Modules imported after ``init()`` get their selected functions rewritten in the source tree
(``_rewriting._Instrument``), with the 3.11 backend and with 3.12's ``auto``.
"""

from __future__ import annotations

import asyncio
import importlib
import sys
import textwrap
import types
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codewitness.config import SensorSection
from codewitness.sensor._rewriting import Rewriter

TRICKY = '''
import sys

COUNTER = 0


def caller_name():
    return sys._getframe(1).f_code.co_name


def returns_in_finally(x):
    try:
        if x:
            return "early"
    finally:
        pass
    return "late"


def nested_scopes(n):
    def inner(k):
        return k * 2

    square = lambda v: v * v
    doubled = [square(i) for i in range(n)]

    class Local:
        def method(self):
            return "m"

    return inner(n) + sum(doubled), Local().method()


def uses_global():
    global COUNTER
    COUNTER += 1
    return COUNTER


def shadows(locals, sys=None):
    return locals


def gen_with_return(n):
    yield from range(n)
    return "finished"


async def agen(n):
    for i in range(n):
        yield i
    return


async def coro(x):
    return x * 3


class Base:
    def hello(self):
        return "base"


class Child(Base):
    def hello(self):
        """Docstring stays."""
        return "child+" + super().hello()

    @staticmethod
    def static(a):
        return a

    @classmethod
    def named(cls):
        return cls.__name__


if COUNTER == 0:
    def twice():
        return 1
else:
    def twice():
        return 2


def raises_after_rebinding(value):
    value = value + 1
    raise KeyError(value)


def empty_body():
    """Only a docstring."""


def reraises_the_callers(note):
    note = note + "!"
    raise


def handles_its_own(key):
    try:
        return {}[key]
    except KeyError:
        return "handled"


def counts_down(n):
    while n:
        yield n
        n -= 1
'''

RAISE_LINE = TRICKY.splitlines().index("    raise KeyError(value)") + 1


def exercise(module: Any) -> list[Any]:
    gen = module.gen_with_return(2)
    items = [next(gen), next(gen)]
    with pytest.raises(StopIteration) as stop:
        next(gen)

    async def collect() -> list[int]:
        return [i async for i in module.agen(3)]

    return [
        module.caller_name(),
        module.returns_in_finally(1),
        module.returns_in_finally(0),
        module.nested_scopes(3),
        module.uses_global(),
        module.uses_global(),
        module.shadows("mine"),
        items,
        stop.value.value,
        asyncio.run(collect()),
        asyncio.run(module.coro(2)),
        module.Child().hello(),
        module.Child.hello.__doc__,
        module.Child.static(5),
        module.Child().named(),
        module.twice(),
        module.empty_body(),
    ]


#: The backends that rewrite modules imported after ``init()``.
REWRITING = ["wrapping", "auto"] if sys.version_info >= (3, 12) else ["wrapping"]


@pytest.mark.parametrize("backend", REWRITING)
def test_rewritten_functions_behave_like_the_originals_and_are_counted(
    start: Any, app: Any, memory: Any, backend: str
) -> None:
    plain = importlib.import_module(app.write("tricky_plain", TRICKY))
    expected = exercise(plain)
    name = app.write("tricky", TRICKY)
    sensor = start(app, memory, backend, manifest=app.manifest(()), include=[f"{name}.*"])
    module = importlib.import_module(name)
    got = exercise(module)
    # The same answers, with the caller's own frame one level up: no wrapper stands between.
    assert got == expected and got[0] == "exercise"
    assert module.caller_name.__code__.co_name == "caller_name"
    assert module.caller_name.__codewitness_probe__ is sensor.probes[f"{name}.caller_name"]
    sensor.flush()
    for function, calls in {
        "caller_name": 1,
        "returns_in_finally": 2,
        "nested_scopes": 1,
        "nested_scopes.<locals>.inner": 1,
        "nested_scopes.<locals>.Local.method": 1,
        "uses_global": 2,
        "gen_with_return": 1,
        "agen": 1,
        "coro": 1,
        "Child.hello": 1,
        "Base.hello": 1,
        "Child.static": 1,
        "Child.named": 1,
        "twice": 1,
        "empty_body": 1,
    }.items():
        assert memory.calls(f"{name}.{function}") == calls, function
    # Lambdas and comprehensions belong to the function holding them.
    assert not [p for p in sensor.probes if "<lambda>" in p or "comp>" in p or "<genexpr>" in p]


def test_a_raise_in_a_rewritten_function_is_captured_at_its_own_line(start: Any, app: Any, memory: Any) -> None:
    name = app.write("tricky", TRICKY)
    sensor = start(app, memory, "wrapping", manifest=app.manifest(()), include=[f"{name}.*"])
    module = importlib.import_module(name)
    with pytest.raises(KeyError) as raised:
        module.raises_after_rebinding(1)
    # The traceback the host sees is the original one: the raise line, no frame of ours.
    last = raised.traceback[-1]
    assert (last.name, last.lineno + 1) == ("raises_after_rebinding", RAISE_LINE)
    sensor.flush()
    (exc,) = memory.of("exception", f"{name}.raises_after_rebinding")
    assert exc["type"] == "KeyError"
    assert (exc["stack"][-1]["line"], exc["stack"][-1]["function"]) == (RAISE_LINE, "raises_after_rebinding")
    # Without checks or samples the arguments are read when the exception leaves: the value now.
    assert exc["arguments"] == {"value": 2}


def test_checks_added_after_import_take_the_slow_path_with_the_entry_arguments(
    start: Any, app: Any, memory: Any
) -> None:
    name = app.write("tricky", TRICKY)
    sensor = start(app, memory, "wrapping", manifest=app.manifest(()), include=[f"{name}.*"])
    module = importlib.import_module(name)
    assert module.returns_in_finally(1) == "early"
    seen: list[tuple[dict[str, Any], Any]] = []
    sensor.add_check(f"{name}.returns_in_finally", lambda args, result: seen.append((dict(args), result)))
    sensor.add_check(f"{name}.raises_after_rebinding", lambda args, result: seen.append((dict(args), result)))
    assert module.returns_in_finally(0) == "late"
    with pytest.raises(KeyError):
        module.raises_after_rebinding(5)
    assert seen == [({"x": 0}, "late")]  # checks run after successful calls only
    sensor.flush()
    assert memory.calls(f"{name}.returns_in_finally") == 2
    (exc,) = memory.of("exception", f"{name}.raises_after_rebinding")
    assert exc["arguments"] == {"value": 5}  # named at entry, before the rebinding


@pytest.mark.parametrize("speedups", [True, False], ids=["compiled-meter", "python-meter"])
def test_each_call_is_counted_once_and_each_exception_leaving_it_once(
    start: Any, app: Any, memory: Any, speedups: bool
) -> None:
    name = app.write("tricky", TRICKY)
    settings = SensorSection(speedups=speedups)
    sensor = start(app, memory, "wrapping", manifest=app.manifest(()), include=[f"{name}.*"], settings=settings)
    module = importlib.import_module(name)
    with pytest.raises(KeyError):
        module.raises_after_rebinding(1)
    try:
        raise OSError("the caller's own")
    except OSError:
        # Called while their caller handles an exception: these return normally...
        assert module.handles_its_own("k") == "handled"
        assert list(module.counts_down(2)) == [2, 1]
        started = module.counts_down(3)
        next(started)
        started.close()  # a generator closed on purpose ends normally
        # ...and this one re-raises the caller's exception with a bare ``raise``.
        with pytest.raises(OSError, match="the caller's own"):
            module.reraises_the_callers("n")
    sensor.flush()
    errors = {a["function"].rsplit(".", 1)[1]: a["errors"] for a in memory.of("aggregate")}
    assert errors == {
        "raises_after_rebinding": {"KeyError": 1},
        "handles_its_own": {},
        "counts_down": {},
        "reraises_the_callers": {"OSError": 1},
    }
    assert memory.calls(f"{name}.counts_down") == 2
    captured = {e["function"].rsplit(".", 1)[1]: (e["type"], e["arguments"]) for e in memory.of("exception")}
    # The arguments come from the function's own frame, whichever meter runs.
    assert captured == {
        "raises_after_rebinding": ("KeyError", {"value": 2}),
        "reraises_the_callers": ("OSError", {"note": "n!"}),
    }
    assert not sensor.internal_errors


# -- a property: rewriting never changes what a function returns, raises or does --------------------

_LEAVES = st.sampled_from(
    ["return x", "return x * 2", "return", "acc.append(x)", "x = x - 1", "raise ValueError(x)", "raise", "pass"]
)


def _blocks(depth: int) -> st.SearchStrategy[list[str]]:
    if depth == 0:
        return st.lists(_LEAVES, min_size=1, max_size=3)
    inner = _blocks(depth - 1)
    compound = st.one_of(
        st.tuples(st.just("if x > 1:"), inner, st.just("else:"), inner),
        st.tuples(st.just("for i in range(x):"), inner),
        st.tuples(st.just("try:"), inner, st.just("finally:"), st.just(["acc.append('f')"])),
        st.tuples(st.just("try:"), inner, st.just("except ValueError:"), st.just(["acc.append('e')", "return -1"])),
        st.tuples(st.just("def helper(y):"), st.just(["return y + 100"]), st.just("x = helper(x)")),
    )
    return st.lists(st.one_of(_LEAVES.map(lambda s: [s]), compound.map(_flatten)), min_size=1, max_size=3).map(
        lambda parts: [line for part in parts for line in part]
    )


def _flatten(part: tuple[Any, ...]) -> list[str]:
    lines: list[str] = []
    for piece in part:
        if isinstance(piece, str):
            lines.append(piece)
        else:
            lines.extend("    " + line for line in piece)
    return lines


def _run(function: Any, x: int, handling: bool) -> tuple[Any, list[Any]]:
    """What ``function(x)`` returns or raises, called while its caller handles a KeyError (which a
    bare ``raise`` re-raises) or not (a bare ``raise`` then raises RuntimeError)."""
    acc: list[Any] = []
    function.__globals__["acc"] = acc
    try:
        if not handling:
            return ("ok", function(x)), acc
        try:
            raise KeyError("the caller's")
        except KeyError:
            return ("ok", function(x)), acc
    except (ValueError, KeyError, RuntimeError) as exc:
        return ("raised", type(exc).__name__, exc.args), acc


@pytest.mark.parametrize("speedups", [True, False], ids=["compiled-meter", "python-meter"])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=_blocks(2), x=st.integers(-1, 3), handling=st.booleans())
def test_rewriting_preserves_behaviour(
    start: Any, app: Any, memory: Any, speedups: bool, body: list[str], x: int, handling: bool
) -> None:
    sensor = codewitness_sensor(start, app, memory, speedups)
    source = "def subject(x):\n" + textwrap.indent("\n".join(body), "    ") + "\n"
    plain: dict[str, Any] = {}
    exec(compile(source, "<plain>", "exec"), plain)
    module = types.ModuleType("hypo_subject")
    code = Rewriter(sensor).rewrite(module, source, "<rewritten>")
    assert code is not None
    exec(code, vars(module))
    expected = _run(plain["subject"], x, handling)
    assert _run(module.subject, x, handling) == expected
    probe = sensor.probes["hypo_subject.subject"]
    assert sum(probe.meter.take().values()) == 1  # the rewritten run, counted once
    errors, _ = probe.meter.take_errors()  # and what left it, once
    assert {e.__name__: n for e, n in errors} == ({expected[0][1]: 1} if expected[0][0] == "raised" else {})
    assert not sensor.internal_errors


_SENSOR: dict[str, Any] = {}


def codewitness_sensor(start: Any, app: Any, memory: Any, speedups: bool = True) -> Any:
    """One sensor per run of the property (hypothesis calls the test body many times with one ``app``)."""
    if _SENSOR.get("app") is not app:
        sensor = start(
            app,
            memory,
            "wrapping",
            manifest=app.manifest(()),
            include=["hypo_subject.*"],
            settings=SensorSection(speedups=speedups),
        )
        _SENSOR.update(app=app, sensor=sensor)
    return _SENSOR["sensor"]
