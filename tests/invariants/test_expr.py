"""Safe expressions: what is allowed, what is refused at compile time, and the budgets."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from codewitness.invariants._expr import (
    _KEYWORDS,
    FUNCTIONS,
    METHODS,
    ExpressionError,
    ExpressionLimitError,
    compile_expression,
)


@dataclass
class Item:
    price: int
    qty: int = 1


@pytest.mark.parametrize(
    ("text", "variables", "expected"),
    [
        ("result >= 0", {"result": 3}, True),
        ("result >= sum(i.price * i.qty for i in items)", {"result": 10, "items": [Item(3, 2), Item(4)]}, True),
        ("result >= sum(i.price * i.qty for i in items)", {"result": 9, "items": [Item(3, 2), Item(4)]}, False),
        ("0 <= discount < 1 and isinstance(total, int)", {"discount": 0.1, "total": 3}, True),
        ("len({x % 3 for x in xs}) == 3", {"xs": [1, 2, 3, 4]}, True),
        ("all(v > 0 for k, v in d.items() if k != 'skip')", {"d": {"a": 1, "skip": -1}}, True),
        ("result['status'] in ('ok', 'retry')", {"result": {"status": "ok"}}, True),
        ("email.lower().endswith('@example.com')", {"email": "A@Example.com"}, True),
        ("isclose(result, 0.3)", {"result": 0.1 + 0.2}, True),
        ("x if x is not None else -1", {"x": None}, -1),
        ("xs[1:3] == [2, 3]", {"xs": [1, 2, 3, 4]}, True),
        ("{k: v * 2 for k, v in d.items()} == {'a': 2}", {"d": {"a": 1}}, True),
        ("round(result, 2) == result", {"result": 1.235}, False),
        ("max(a, b) - min(a, b) <= 2 ** 10", {"a": 5, "b": 2}, True),
    ],
)
def test_allowed_expressions_evaluate(text: str, variables: dict[str, object], expected: object) -> None:
    assert compile_expression(text).evaluate(variables) == expected


def test_free_names_are_reported_for_start_up_checks() -> None:
    rule = compile_expression("result >= sum(i.price for i in items) and total > limit")
    assert rule.names == {"result", "items", "total", "limit"}


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os').system('true')",
        "result.__class__",
        "result.__class__.__mro__[1].__subclasses__()",
        "().__class__.__bases__[0]",
        "_secret",
        "open('/etc/passwd').read()",
        "eval('1')",
        "exec('x = 1')",
        "getattr(result, '__dict__')",
        "(lambda: 1)()",
        "[x for x in iter(xs)]",
        "(y := 1)",
        "f'{result}'",
        "result.delete()",
        "gen.gi_frame.f_globals",
        "result()",
        "items.get('a')('b')",
        "await x",
        "yield 1",
        "x = 1",
        "1 +",
        "",
        "   ",
        "x" * 5000,
    ],
)
def test_unsafe_or_broken_expressions_are_refused_at_compile_time(text: str) -> None:
    with pytest.raises(ExpressionError) as info:
        compile_expression(text)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("text", "variables"),
    [
        ("'x' * 10 ** 9", {}),
        ("[0] * n", {"n": 10**8}),
        ("2 ** 100000", {}),
        ("1 << 100000", {}),
        ("sum(1 for a in xs for b in xs for c in xs)", {"xs": list(range(1000))}),
        ("len([[a, b] for a in xs for b in xs])", {"xs": list(range(2000))}),
    ],
)
def test_huge_work_stops_at_the_budget(text: str, variables: dict[str, object]) -> None:
    with pytest.raises(ExpressionLimitError):
        compile_expression(text).evaluate(variables)


def test_unbound_names_are_name_errors() -> None:
    with pytest.raises(NameError, match="total"):
        compile_expression("total > 0").evaluate({})


def test_comprehension_variables_do_not_leak() -> None:
    rule = compile_expression("[i for i in xs] == xs and i == 'outer'")
    assert rule.evaluate({"xs": [1, 2], "i": "outer"}) is True


small = st.integers(-1000, 1000)


@given(small, small, small)
def test_arithmetic_agrees_with_python(a: int, b: int, c: int) -> None:
    text = "(a + b) * c - a // (b or 1) + a % (c or 7) if a < b <= c or not a else -a ** 2"
    expected = (a + b) * c - a // (b or 1) + a % (c or 7) if a < b <= c or not a else -(a**2)
    assert compile_expression(text).evaluate({"a": a, "b": b, "c": c}) == expected


#: What evaluating an allowed expression may raise on plain values: the budget, a refused value,
#: an unbound name, and what the allowed operations themselves raise. Anything else is a defect.
_ORDINARY = (ExpressionLimitError, ArithmeticError, LookupError, TypeError, ValueError, NameError, AttributeError)


@given(st.text(max_size=60))
def test_any_text_compiles_or_is_refused_cleanly(text: str) -> None:
    try:
        rule = compile_expression(text)
    except ExpressionError as exc:
        assert str(exc) and "\n" not in str(exc)  # a one-line message
        return
    with contextlib.suppress(_ORDINARY):
        rule.evaluate({name: 1 for name in rule.names}, max_steps=10_000)
    # Any other exception (an internal AssertionError, a RecursionError, SystemError...) fails here.


def test_no_builtins_are_in_reach() -> None:
    with pytest.raises(NameError):
        compile_expression("open").evaluate({})
    with pytest.raises(NameError):
        compile_expression("[print for x in xs]").evaluate({"xs": [1]})


def test_every_function_and_method_is_documented() -> None:
    docs = (Path(__file__).parents[2] / "docs" / "invariants.md").read_text()
    section = docs[docs.index("### What an expression may say") : docs.index("### What it may do")]
    missing = [name for name in [*FUNCTIONS, *METHODS] if f"{name}" not in section.replace("`", " ").split()]
    missing += [f"{name}= of {f}" for f, names in _KEYWORDS.items() for name in names if f"`{name}`" not in section]
    assert not missing, f"undocumented in docs/invariants.md: {missing}"
