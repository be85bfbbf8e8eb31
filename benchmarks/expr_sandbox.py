"""Cost of evaluating typical configured invariants in the expression sandbox, as ratios in one run.

Each rule is evaluated by :mod:`codewitness.invariants._expr` (parsed once, then ``evaluate`` per call, as the
sensor does) and, for reference, by a plain Python lambda doing the same work with no checks at
all. The ratio ``sandbox / lambda`` is what the sandbox's checks cost on this machine, this Python.

Run::

    .venv/bin/python benchmarks/expr_sandbox.py [--calls 50000] [--repeats 5]

It prints nanoseconds per evaluation (best of the repeats) for both, and the ratio.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from codewitness.invariants._expr import compile_expression


@dataclass
class Item:
    price: int
    qty: int


class Order:
    def __init__(self, total: int, items: list[Item]) -> None:
        self.total = total
        self.items = items


ITEMS = [Item(3, 2), Item(5, 1), Item(7, 3), Item(2, 4), Item(9, 1)]

#: (rule, variables, the same rule as a lambda over the same variables)
RULES: list[tuple[str, Mapping[str, Any], Callable[..., Any]]] = [
    ("result >= 0", {"result": 42}, lambda result: result >= 0),
    (
        "0 <= discount < 1 and isinstance(total, int)",
        {"discount": 0.1, "total": 30},
        lambda discount, total: 0 <= discount < 1 and isinstance(total, int),
    ),
    (
        "result['status'] in ('ok', 'retry')",
        {"result": {"status": "ok", "id": 7}},
        lambda result: result["status"] in ("ok", "retry"),
    ),
    (
        "email.lower().endswith('@example.com')",
        {"email": "Dana@Example.com"},
        lambda email: email.lower().endswith("@example.com"),
    ),
    (
        "order.total == sum(i.price * i.qty for i in order.items)",
        {"order": Order(72, ITEMS)},
        lambda order: order.total == sum(i.price * i.qty for i in order.items),
    ),
    (
        "result >= sum(i.price * i.qty for i in items)",
        {"result": 72, "items": ITEMS},
        lambda result, items: result >= sum(i.price * i.qty for i in items),
    ),
    (
        "all(v > 0 for v in prices.values()) and len(prices) <= 100",
        {"prices": {f"sku{n}": n + 1 for n in range(20)}},
        lambda prices: all(v > 0 for v in prices.values()) and len(prices) <= 100,
    ),
    (
        "sorted(ids) == ids and len(set(ids)) == len(ids)",
        {"ids": list(range(200))},
        lambda ids: sorted(ids) == ids and len(set(ids)) == len(ids),
    ),
]


def best_ns(call: Callable[[], Any], calls: int, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter_ns()
        for _ in range(calls):
            call()
        best = min(best, (time.perf_counter_ns() - start) / calls)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--calls", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    version = ".".join(map(str, sys.version_info[:3]))
    print(f"Python {version}, {args.calls} evaluations x {args.repeats} repeats, best ns/evaluation")
    print(f"{'rule':<62}{'sandbox':>9}{'lambda':>8}{'ratio':>8}")
    for text, variables, plain in RULES:
        rule = compile_expression(text)
        expected = plain(**variables)
        assert rule.evaluate(variables) == expected, text
        sandbox = best_ns(lambda rule=rule, v=variables: rule.evaluate(v), args.calls, args.repeats)  # type: ignore[misc]
        reference = best_ns(lambda p=plain, v=variables: p(**v), args.calls, args.repeats)  # type: ignore[misc]
        shown = text if len(text) <= 60 else text[:57] + "..."
        print(f"{shown:<62}{sandbox:>9.0f}{reference:>8.0f}{sandbox / reference:>7.1f}x")


if __name__ == "__main__":
    main()
