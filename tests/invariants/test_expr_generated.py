"""Generated expressions against the sandbox: refused at load, or evaluated within the budget and harmless.

Expressions come from the grammar of Python expressions, weighted to the adversarial: huge
numbers, repetition, nested calls, method calls on the arguments, ``key=`` callables, dunder and
frame attributes, format strings, comprehensions over everything. Each one is either refused
when loaded (one line), or evaluated — to a value, a budget stop, a refusal of an unsafe value,
or an ordinary error — with nothing changed: every argument equal to its copy from before, no
hook of the host run, no file created, in a fresh temporary working folder.

The figures (how many expressions, and the share of each outcome)::

    EXPR_FUZZ_EXAMPLES=20000 .venv/bin/python -m pytest tests/invariants/test_expr_generated.py \\
        -p no:cacheprovider --hypothesis-show-statistics -q

prints, after Hypothesis's statistics, the exact count of every outcome and the slowest evaluation.
"""

from __future__ import annotations

import builtins
import collections
import contextlib
import os
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from host_objects import RAN, files, state, world
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from codewitness.invariants._expr import (
    FUNCTIONS,
    METHODS,
    ExpressionError,
    ExpressionLimitError,
    UnsafeValueError,
    compile_expression,
)

EXAMPLES = int(os.environ.get("EXPR_FUZZ_EXAMPLES", "400"))
#: Exact counts of the outcomes, printed after the module's tests when EXPR_FUZZ_EXAMPLES is set.
TALLY: collections.Counter[str] = collections.Counter()
SLOWEST: list[tuple[float, str]] = [(0.0, "")]


@pytest.fixture(scope="module", autouse=True)
def _print_tally(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if "EXPR_FUZZ_EXAMPLES" not in os.environ or reporter is None or capture is None:
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line(f"\ngenerated expressions: {sum(TALLY.values())}")
        for key, count in sorted(TALLY.items()):
            reporter.write_line(f"  {key}: {count}")
        elapsed, text = SLOWEST[0]
        reporter.write_line(f"  slowest evaluation: {elapsed * 1000:.1f} ms, {text[:200]!r}")


NAMES = sorted(world(Path(tempfile.mkdtemp())).keys())
LOOP_NAMES = ["v", "w"]
CONSTANTS = [
    "0",
    "1",
    "-1",
    "7",
    "2.5",
    "1e308",
    "'x'",
    "''",
    "'ab' * 50000",
    "b'ab'",
    "None",
    "True",
    "...",
    "9**999",
    "10**100",
    "2**64",
    "[0] * 1000",
    "(1, 2)",
    "[1, [2, 3]]",
    "{'a': 1}",
    "{1, 2}",
    "'{0.__class__}'",
    "'%s%s'",
    "'%0*d'",
    "range(10**9)",
    "range(10**6)",
    "[0] * 100000",
    "'x' * 100000",
    "10**4",
    "9**999",
    "x.__class__",
    "__import__('os')",
]
BINARY = ["+", "-", "*", "/", "//", "%", "**", "<<", ">>", "&", "|", "^", "@"]
COMPARE = ["==", "!=", "<", "<=", ">", ">=", "is", "is not", "in", "not in"]
CALLABLE = [
    *FUNCTIONS,
    *FUNCTIONS,
    *FUNCTIONS,
    "open",
    "getattr",
    "setattr",
    "format",
    "pow",
    "eval",
    "exec",
    "type",
    "vars",
    "iter",
    "next",
    "map",
    "print",
    "divmod",
    "callback",
]
KEYWORDS = ["key", "default", "start", "reverse", "ndigits", "base", "rel_tol", "x"]
METHOD_NAMES = [
    *METHODS,
    *METHODS,
    "pop",
    "append",
    "clear",
    "update",
    "setdefault",
    "write_text",
    "read_text",
    "format",
    "join",
    "mro",
    "save",
    "mark_paid",
    "label",
    "total",
    "send",
    "throw",
    "__reduce__",
]
ATTRIBUTES = [
    "price",
    "qty",
    "total",
    "items",
    "coupon",
    "limit",
    "doubled",
    "save",
    "amount",
    "customer",
    "x",
    "value",
    "name",
    "year",
    "numerator",
    "parent",
    "answer",
    "stored",
    "cached",
    "n",
    "a",
    "return_value",
    "missing",
    "gi_frame",
    "f_globals",
    "__class__",
    "__dict__",
    "__globals__",
    "_private",
    "real",
]

leaves = st.one_of(
    st.sampled_from(NAMES),
    st.sampled_from(CONSTANTS),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.text(alphabet="ab{}%0.", max_size=6).map(repr),
)


def _call(name: str, args: list[str], keywords: list[tuple[str, str]]) -> str:
    return f"{name}({', '.join([*args, *(f'{k}={v}' for k, v in keywords)])})"


def _extend(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    target = st.sampled_from(["v", "w", "v, w", "(v, w)"])
    inner = st.one_of(st.sampled_from(LOOP_NAMES), children)  # inside a comprehension: its names, or anything
    return st.one_of(
        # operators and comparisons on anything (the host's objects included)
        st.builds(lambda a, op, b: f"({a} {op} {b})", children, st.sampled_from(BINARY), children),
        st.builds(lambda a, op, b: f"({a} {op} {b})", children, st.sampled_from(COMPARE), children),
        st.builds(lambda a, b, c: f"({a} < {b} <= {c})", children, children, children),
        st.builds(lambda a, op, b: f"({a} {op} {b})", children, st.sampled_from(["and", "or"]), children),
        st.builds(lambda op, a: f"({op}{a})", st.sampled_from(["-", "+", "~", "not "]), children),
        st.builds(lambda a, b, c: f"({a} if {b} else {c})", children, children, children),
        # calls: the allowed functions (mostly) and others, with any keyword (key= among them)
        st.builds(
            _call,
            st.sampled_from(CALLABLE),
            st.lists(children, max_size=3),
            st.lists(st.tuples(st.sampled_from(KEYWORDS), children), max_size=2),
        ),
        st.builds(
            lambda a, m, args: f"({a}).{m}({', '.join(args)})",
            children,
            st.sampled_from(METHOD_NAMES),
            st.lists(children, max_size=2),
        ),
        st.builds(lambda a, attr: f"({a}).{attr}", children, st.sampled_from(ATTRIBUTES)),
        st.builds(lambda a, b: f"({a})[{b}]", children, children),
        st.builds(lambda a, b, c: f"({a})[{b}:{c}]", children, children, children),
        # loops over anything
        st.builds(lambda e, t, it, c: f"[{e} for {t} in {it} if {c}]", inner, target, children, inner),
        st.builds(
            lambda f, e, t, it: f"{f}({e} for {t} in {it})",
            st.sampled_from(["sum", "any", "all", "max", "min", "sorted", "list", "set", "dict", "tuple", "len"]),
            inner,
            target,
            children,
        ),
        st.builds(lambda k, e, it: f"{{{k}: {e} for v in {it}}}", inner, inner, children),
        st.builds(lambda e, a, b: f"[{e} for v in {a} for w in {b}]", inner, children, children),
        # work that grows: repetition, powers, concatenation, nested loops
        st.builds(lambda a, b, c: f"sum([{a}] * {b}, {c})", children, children, children),
        st.builds(lambda a, b, c: f"(({a}) ** ({b})) ** ({c})", children, children, children),
        st.builds(lambda a, b, c: f"({a}) * ({b}) * ({c})", children, children, children),
        st.builds(lambda a, b: f"[{a} for v in range({b}) for w in range({b})]", inner, children),
        st.builds(lambda a: f"str({a}) * 100000 * 10000", children),
        # displays
        st.builds(lambda a, b: f"[{a}, {b}]", children, children),
        st.builds(lambda a, b: f"{{{a}, {b}}}", children, children),
        st.builds(lambda a, b: f"{{{a}: {b}}}", children, children),
        # what the grammar must refuse
        st.builds(lambda a: f"(lambda: {a})()", children),
        st.builds(lambda a: f"(w := {a})", children),
        st.builds(lambda a: f"f'{{{a}}}'", children),
        st.builds(lambda a: f"[*{a}]", children),
        st.builds(lambda a, b: f"({a})(*{b})", children, children),
    )


expressions = st.recursive(leaves, _extend, max_leaves=10)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
@given(expressions)
def test_a_generated_expression_is_refused_at_load_or_evaluated_harmlessly(text: str) -> None:
    try:
        rule = compile_expression(text)
    except ExpressionError as exc:
        message = str(exc)
        assert message and "\n" not in message and message == message.strip()
        event("refused at load")
        TALLY["expressions (harmless test): refused at load"] += 1
        return
    RAN.clear()
    with tempfile.TemporaryDirectory() as folder, contextlib.chdir(folder):
        root = Path(folder)
        variables = world(root)
        before, present = state(variables), files(root)
        started = time.perf_counter()
        try:
            rule.evaluate(variables)
        except ExpressionLimitError:
            outcome = "budget exceeded"
        except UnsafeValueError:
            outcome = "refused at run time (unsafe value)"
        except Exception as exc:  # an ordinary error of the rule on these values: counted as a rule error
            outcome = f"evaluation error ({type(exc).__name__})"
        else:
            outcome = "evaluated to a value"
        elapsed = time.perf_counter() - started
        assert RAN == [], f"{text!r} ran the host's code: {RAN}"
        assert state(variables) == before, f"{text!r} changed an argument"
        assert list(variables["gen"]) == [1, 2, 3], f"{text!r} consumed a generator"
        assert files(root) == present, f"{text!r} created or changed a file"
    event(outcome)
    event(next(f"evaluation time < {limit}" for limit, bound in _TIMES if elapsed < bound))
    TALLY[f"expressions (harmless test): {outcome.split(' (')[0] if 'error' in outcome else outcome}"] += 1
    SLOWEST[0] = max(SLOWEST[0], (elapsed, text))


_TIMES = [("1 ms", 0.001), ("10 ms", 0.01), ("100 ms", 0.1), ("1 s", 1.0), ("10 s (too slow)", 10.0), ("inf", 1e9)]


# -- the sandbox computes what Python computes ----------------------------------------------------

PLAIN = {
    "a": 7,
    "b": -3,
    "f": 2.5,
    "s": "Hello World",
    "xs": [3, 1, 2, 3],
    "t": (1, "x", None),
    "d": {"a": 1, "b": 2},
    "flag": True,
    "none": None,
    "words": ["b", "a", "c"],
    "pairs": [(1, "x"), (2, "y")],
}
#: The real built-ins the sandbox's functions stand for, for the reference evaluation.
BUILTINS = {name: getattr(builtins, name) for name in FUNCTIONS if name != "isclose"}
plain_leaves = st.one_of(
    st.sampled_from(sorted(PLAIN)),
    st.sampled_from(["0", "1", "2", "-1", "3.5", "'a'", "''", "None", "True", "False", "[]", "()", "[1, 2]"]),
    st.integers(min_value=-50, max_value=50).map(str),
)


def _plain_extend(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    inner = st.one_of(st.just("v"), children)
    return st.one_of(
        st.builds(lambda a, op, b: f"({a} {op} {b})", children, st.sampled_from(BINARY[:-1]), children),
        st.builds(lambda a, op, b: f"({a} {op} {b})", children, st.sampled_from(COMPARE), children),
        st.builds(lambda a, b, c: f"({a} < {b} == {c})", children, children, children),
        st.builds(lambda a, op, b: f"({a} {op} {b})", children, st.sampled_from(["and", "or"]), children),
        st.builds(lambda op, a: f"({op}{a})", st.sampled_from(["-", "+", "not "]), children),
        st.builds(lambda a, b, c: f"({a} if {b} else {c})", children, children, children),
        st.builds(
            _call,
            st.sampled_from(sorted(set(FUNCTIONS) - {"isclose", "isinstance"})),
            st.lists(children, max_size=2),
            st.lists(st.tuples(st.sampled_from(["default", "start", "reverse", "ndigits"]), children), max_size=1),
        ),
        st.builds(lambda a, ts: f"isinstance({a}, {ts})", children, st.sampled_from(["int", "str", "(list, tuple)"])),
        st.builds(
            lambda a, m, args: f"({a}).{m}({', '.join(args)})",
            children,
            st.sampled_from(sorted(METHODS)),
            st.lists(children, max_size=2),
        ),
        st.builds(lambda a, b: f"({a})[{b}]", children, children),
        st.builds(lambda a, b, c: f"({a})[{b}:{c}]", children, children, children),
        st.builds(lambda e, it, c: f"[{e} for v in {it} if {c}]", inner, children, inner),
        st.builds(
            lambda f, e, it: f"{f}({e} for v in {it})",
            st.sampled_from(["sum", "any", "all", "max", "sorted"]),
            inner,
            children,
        ),
        st.builds(lambda k, e, it: f"{{{k}: {e} for v in {it}}}", inner, inner, children),
        st.builds(lambda e, it: f"{{{e} for v in {it}}}", inner, children),
        st.builds(lambda it: f"[v + w for v, w in {it}]", children),
        st.builds(lambda a, b: f"[{a}, {b}]", children, children),
        st.builds(lambda a, b: f"{{{a}: {b}}}", children, children),
    )


def _same(x: object, y: object) -> bool:
    return type(x) is type(y) and (x == y or repr(x) == repr(y))


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.recursive(plain_leaves, _plain_extend, max_leaves=8))
def test_on_plain_values_the_sandbox_computes_what_python_computes(text: str) -> None:
    try:
        rule = compile_expression(text)
    except ExpressionError:
        event("refused at load")
        TALLY["expressions (same-as-Python test): refused at load"] += 1
        return
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)  # Python's own hint ("perhaps you missed a comma?")
            reference = compile(text, "<reference>", "eval")
        expected: object = eval(reference, {"__builtins__": {}, **BUILTINS, **PLAIN})
    except Exception as exc:
        expected = exc
    try:
        got: object = rule.evaluate(dict(PLAIN))
    except ExpressionLimitError:
        event("budget exceeded (Python computed it)")
        TALLY["expressions (same-as-Python test): budget exceeded"] += 1
        return
    except Exception as exc:
        got = exc
    if isinstance(got, UnsafeValueError) and "formatting" in str(got):
        event("refused at run time: % formatting")
        TALLY["expressions (same-as-Python test): refused at run time"] += 1
        return
    if isinstance(expected, Exception):
        assert isinstance(got, Exception), f"{text!r}: Python raised {expected!r}, the sandbox gave {got!r}"
        assert type(got) is type(expected) or isinstance(got, type(expected)), f"{text!r}: {expected!r} != {got!r}"
        event(f"both raised {type(expected).__name__}")
        TALLY["expressions (same-as-Python test): same exception type as Python"] += 1
    else:
        assert not isinstance(got, Exception), f"{text!r}: Python gave {expected!r}, the sandbox raised {got!r}"
        assert _same(got, expected), f"{text!r}: Python gave {expected!r}, the sandbox {got!r}"
        event("same value")
        TALLY["expressions (same-as-Python test): same value as Python"] += 1
