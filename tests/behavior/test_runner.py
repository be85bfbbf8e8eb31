"""The runner process: calls of every shape of function (positional-only, *args, keyword-only,
**kwargs, async, a classmethod), prints that do not disturb its answers, results without an exact
form compared by type and address-free repr, and inputs that do not fit the parameters."""

from __future__ import annotations

from pathlib import Path

import pytest

from codewitness.behavior.compare import Rules
from codewitness.behavior.replay import Case, judge, run_side
from codewitness.behavior.sides import Limits, working_tree
from codewitness.sensor.exact import encode_arguments

MODULE = """import asyncio
import threading


def positional(a, b, /, *rest, scale=1, **named):
    print("noise on stdout", a)  # must not mix with the runner's answers
    return (a + b + sum(rest)) * scale, sorted(named)


async def later(x):
    await asyncio.sleep(0)
    return x * 2


class Account:
    rate = 3

    @classmethod
    def fee(cls, amount):
        return amount * cls.rate

    @staticmethod
    def half(amount):
        return amount / 2


class Handle:
    def __init__(self):
        self.lock = threading.Lock()  # no exact form: the result is opaque


def opaque(n):
    return Handle()


def counter(n):
    return (i for i in range(n))
"""


def _case(function: str, **arguments: object) -> Case:
    encoded = encode_arguments(arguments)
    return Case(f"{function}-{sorted(arguments)}", function, "h", encoded)


def test_every_shape_of_call_and_result(tmp_path: Path) -> None:
    (tmp_path / "shapes.py").write_text(MODULE)
    cases = [
        _case("shapes.positional", a=1, b=2, rest=(3, 4), scale=10, named={"z": 1, "y": 2}),
        _case("shapes.later", x=21),
        _case("shapes.Account.half", amount=3),
        _case("shapes.opaque", n=1),
        _case("shapes.counter", n=3),
        _case("shapes.positional", a=1, c=2),
    ]
    runs = run_side(working_tree(tmp_path), cases, Limits(timeout=20, import_timeout=60), 2)
    got = {case.function + str(i): runs[case.id] for i, case in enumerate(cases)}
    assert got["shapes.positional0"][0] == {"ok": {"$": "tuple", "items": [100, ["y", "z"]]}}
    assert got["shapes.later1"][0] == {"ok": 42}
    assert got["shapes.Account.half2"][0] == {"ok": 1.5}
    opaque = got["shapes.opaque3"][0]["ok"]
    assert opaque["$"] == "opaque" and opaque["type"] == "shapes:Handle" and " at 0x" not in opaque["repr"]
    assert got["shapes.counter4"][0]["ok"]["type"] == "builtins:generator"
    assert got["shapes.positional5"][0] == {
        "error": "the inputs do not fit the function's parameters here (TypeError: no parameter 'c' here)"
    }
    rules = Rules()
    for case in cases[3:5]:  # the same opaque result twice: deterministic, not flaky
        assert judge(case, None, runs[case.id], rules, "", "here").verdict == "equal"


def test_a_classmethod_gets_its_class_from_the_recorded_inputs(tmp_path: Path) -> None:
    (tmp_path / "shapes.py").write_text(MODULE)
    case = Case("c", "shapes.Account.fee", "h", {"cls": {"$": "type", "type": "shapes:Account"}, "amount": 5})
    runs = run_side(working_tree(tmp_path), [case], Limits(timeout=20, import_timeout=60), 1)
    assert runs["c"] == [{"ok": 15}]


def test_a_module_found_outside_the_checkout_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An installed copy of the project must not stand in for the revision being replayed."""
    checkout, installed = tmp_path / "checkout", tmp_path / "site"
    checkout.mkdir()
    installed.mkdir()
    (installed / "elsewhere.py").write_text("def f(x):\n    return x\n")
    monkeypatch.setenv("PYTHONPATH", str(installed))
    case = Case("e", "elsewhere.f", "h", {"x": 1})
    runs = run_side(working_tree(checkout), [case], Limits(timeout=20, import_timeout=60), 1)
    (outcome,) = runs["e"]
    assert outcome == {"error": f"elsewhere was imported from {installed / 'elsewhere.py'}, not from the checkout"}
