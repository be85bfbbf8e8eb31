"""ensure / require / returns: counting, capture, modes, and what they refuse at decoration time."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import pydantic
import pytest

import codewitness
from codewitness import invariants
from codewitness.errors import InvariantViolation


@dataclass
class Item:
    price: int
    qty: int = 1


@pytest.fixture(autouse=True)
def _record_mode() -> Iterator[None]:
    before = invariants.default_mode()
    invariants.set_default_mode("record")
    yield
    invariants.set_default_mode(before)


def stats_of(rule_name: str) -> invariants.RuleStats:
    return next(s for s in invariants.stats() if s.rule.name == rule_name)


def test_a_breach_is_captured_with_its_input_and_the_host_gets_its_result() -> None:
    @codewitness.ensure(lambda result, items: result >= sum(i.price * i.qty for i in items), name="covers_items")
    def total(items: list[Item], discount: float = 0.0) -> float:
        gross = sum(i.price * i.qty for i in items)
        return gross - gross * discount if gross > 100 else gross  # the AI bug: discount on big carts

    assert total([Item(10, 2)]) == 20
    assert total([Item(200)], discount=0.1) == 180.0, "record mode returns the normal result"
    state = stats_of("covers_items")
    assert (state.passed, state.breached, state.errors) == (1, 1, 0)
    breach = state.recent[-1]
    assert breach["rule"] == "covers_items"
    assert breach["function"].endswith("total")
    assert breach["arguments"]["discount"] == 0.1
    assert breach["arguments"]["items"] == [{"__type__": f"{Item.__module__}.Item", "price": 200, "qty": 1}]
    assert breach["result"] == 180.0
    assert breach["expression"] == "result >= sum((i.price * i.qty for i in items))"


def test_raise_mode_raises_a_clear_error() -> None:
    @codewitness.ensure(lambda result: result >= 0, name="not_negative", mode="raise")
    def refund(amount: int) -> int:
        return -amount

    with pytest.raises(InvariantViolation) as info:
        refund(5)
    message = str(info.value)
    assert "not_negative" in message and "refund(amount=5)" in message and "result=-5" in message


def test_the_process_default_mode_applies_to_rules_without_one() -> None:
    @codewitness.require(lambda n: n > 0, name="positive_n")
    def f(n: int) -> int:
        return n

    assert f(-1) == -1
    invariants.set_default_mode("raise")
    with pytest.raises(InvariantViolation, match="positive_n"):
        f(-1)
    assert stats_of("positive_n").breached == 2


def test_warn_mode_logs(caplog: pytest.LogCaptureFixture) -> None:
    @codewitness.ensure(lambda result: result != "", name="non_empty", mode="warn")
    def name_of(x: str) -> str:
        return x.strip()

    with caplog.at_level(logging.WARNING, logger="codewitness.invariants"):
        assert name_of("   ") == ""
    assert "non_empty" in caplog.text


def test_a_failing_predicate_is_a_rule_error_not_a_breach() -> None:
    @codewitness.ensure(lambda result: result["missing"] > 0, name="bad_predicate", mode="raise")
    def f() -> dict[str, int]:
        return {}

    assert f() == {}
    state = stats_of("bad_predicate")
    assert (state.passed, state.breached, state.errors) == (0, 0, 1)


def test_predicates_must_name_real_parameters() -> None:
    with pytest.raises(TypeError, match="asks for 'itemz'"):

        @codewitness.ensure(lambda result, itemz: True)
        def f(items: list[int]) -> int:
            return 0

    with pytest.raises(TypeError, match="asks for 'result'"):

        @codewitness.require(lambda result: True)
        def g(x: int) -> int:
            return x


def test_async_functions_are_checked() -> None:
    @codewitness.ensure(lambda result, n: result == n * 2, name="doubles", mode="raise")
    async def double(n: int) -> int:
        return n * 2 if n < 10 else n

    assert asyncio.run(double(3)) == 6
    with pytest.raises(InvariantViolation):
        asyncio.run(double(11))


def test_generators_are_refused() -> None:
    with pytest.raises(TypeError, match="generator"):

        @codewitness.ensure(lambda result: True)
        def gen() -> object:
            yield 1


def test_decorators_keep_the_function_identity() -> None:
    @codewitness.ensure(lambda result: True)
    @codewitness.require(lambda x: True)
    def documented(x: int) -> int:
        """Docs."""
        return x

    assert documented.__name__ == "documented" and documented.__doc__ == "Docs."
    assert [r.kind for r in documented.__codewitness_rules__] == ["require", "ensure"]  # type: ignore[attr-defined]


class Invoice(pydantic.BaseModel):
    total: int
    currency: str


def test_returns_validates_models_types_and_typing_forms() -> None:
    @codewitness.returns(Invoice, name="invoice_shape")
    def invoice(ok: bool) -> object:
        return {"total": 5, "currency": "EUR"} if ok else {"total": "five"}

    @codewitness.returns(int, name="int_result")
    def count(x: object) -> object:
        return x

    @codewitness.returns(list[int], name="ints", mode="raise")
    def ids(x: object) -> object:
        return x

    invoice(True)
    invoice(False)
    state = stats_of("invoice_shape")
    assert (state.passed, state.breached) == (1, 1)
    assert "total" in state.recent[-1]["detail"]
    count(3)
    count("3")
    assert stats_of("int_result").recent[-1]["detail"] == "expected int, got str"
    assert ids([1, 2]) == [1, 2]
    with pytest.raises(InvariantViolation, match="ints"):
        ids([1, "2"])


def test_secrets_in_inputs_are_redacted() -> None:
    @codewitness.ensure(lambda result: result, name="login_ok")
    def login(user: str, password: str) -> bool:
        return False

    login("dana", "hunter2")
    arguments = stats_of("login_ok").recent[-1]["arguments"]
    assert arguments["user"] == "dana"
    assert "hunter2" not in str(arguments)


def test_returns_without_pydantic_names_the_package_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    # Before: 'needs the "invariants" extra: pip install "codewitness[invariants]"', an extra that does not exist.
    import codewitness
    from codewitness.errors import MissingExtraError

    monkeypatch.setitem(sys.modules, "pydantic", None)  # what an environment without Pydantic imports
    with pytest.raises(MissingExtraError) as info:

        @codewitness.returns(list[int])
        def ids() -> list[int]:
            return [1]

        ids()
    assert str(info.value).endswith("-m pip install pydantic")
    assert "codewitness[" not in str(info.value)
