"""Safe expressions for invariants declared in configuration.

A rule such as ``ensure = "result >= 0 and len(items) > 0"`` is parsed once, checked against an
allow-list, and then evaluated by a small tree-walking interpreter — never by :func:`eval`. What
an expression may do:

* read names (the function's parameters, ``result``), constants, and attributes whose name does
  not start with ``_`` (no dunder escape hatches);
* arithmetic, comparison, boolean logic, ``x if c else y``, subscripts and slices, tuple/list/set/
  dict displays and comprehensions;
* call the functions in :data:`FUNCTIONS` and the methods in :data:`METHODS` — nothing else.

Every evaluation runs under a step budget, and repetition, powers and shifts are size-limited,
so ``"x" * 10**10`` or nested comprehensions over large data stop with
:class:`ExpressionLimitError` instead of hanging the host. Standard library only: the runtime
sensor applies these rules inside other people's processes.

Example:
    >>> rule = compile_expression("result >= sum(i * 2 for i in items)")
    >>> rule.names
    frozenset({'items', 'result'})
    >>> rule.evaluate({"items": [1, 2], "result": 6})
    True
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from codewitness.errors import ConfigError

__all__ = [
    "FUNCTIONS",
    "METHODS",
    "ExpressionError",
    "ExpressionLimitError",
    "SafeExpression",
    "compile_expression",
]

#: Functions an expression may call.
FUNCTIONS: Mapping[str, Callable[..., Any]] = {
    "abs": abs,
    "all": all,
    "any": any,
    "bool": bool,
    "dict": dict,
    "float": float,
    "int": int,
    "isinstance": isinstance,
    "len": len,
    "list": list,
    "max": max,
    "min": min,
    "round": round,
    "set": set,
    "sorted": sorted,
    "str": str,
    "sum": sum,
    "tuple": tuple,
    "isclose": math.isclose,
}
#: Methods an expression may call, on any object (they are read-only on the built-in types).
METHODS: frozenset[str] = frozenset(
    {
        "count",
        "endswith",
        "get",
        "index",
        "isdigit",
        "items",
        "keys",
        "lower",
        "startswith",
        "strip",
        "upper",
        "values",
    }
)

#: Introspection attributes without a leading underscore that still lead to frames, code or globals.
_DENIED_ATTRIBUTES: frozenset[str] = frozenset(
    {
        "ag_code",
        "ag_frame",
        "cr_code",
        "cr_frame",
        "f_back",
        "f_builtins",
        "f_code",
        "f_globals",
        "f_locals",
        "func_globals",
        "gi_code",
        "gi_frame",
        "gi_yieldfrom",
        "mro",
        "tb_frame",
        "tb_next",
    }
)

MAX_STEPS = 100_000
MAX_SIZE = 100_000  # longest sequence or string an expression may build
MAX_POWER = 1_000  # largest exponent
MAX_TEXT = 2_000  # longest expression text


class ExpressionError(ConfigError):
    """An expression that is not allowed or does not parse; raised when the rule is compiled."""


class ExpressionLimitError(RuntimeError):
    """An evaluation that went over its step or size budget."""


_BINARY: Mapping[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
    ast.LShift: operator.lshift,
    ast.RShift: operator.rshift,
    ast.BitAnd: operator.and_,
    ast.BitOr: operator.or_,
    ast.BitXor: operator.xor,
}
_UNARY: Mapping[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.Not: operator.not_,
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
    ast.Invert: operator.invert,
}
_COMPARE: Mapping[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Is: operator.is_,
    ast.IsNot: operator.is_not,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}
_ALLOWED = (
    ast.Expression,
    ast.BoolOp,
    ast.And,
    ast.Or,
    ast.BinOp,
    ast.UnaryOp,
    ast.Compare,
    ast.IfExp,
    ast.Name,
    ast.Load,
    ast.Store,
    ast.Constant,
    ast.Attribute,
    ast.Subscript,
    ast.Slice,
    ast.Tuple,
    ast.List,
    ast.Set,
    ast.Dict,
    ast.Call,
    ast.keyword,
    ast.GeneratorExp,
    ast.ListComp,
    ast.SetComp,
    ast.DictComp,
    ast.comprehension,
    *_BINARY,
    *_UNARY,
    *_COMPARE,
)


@dataclass(frozen=True)
class SafeExpression:
    """A checked expression, ready to evaluate many times.

    Attributes:
        text: the source text.
        names: the free names it reads (to check against a function's parameters at start-up).
    """

    text: str
    names: frozenset[str]
    _tree: ast.Expression
    _native: Any = None  # compiled code when the expression cannot do unbounded work

    @property
    def budgeted(self) -> bool:
        """True when evaluation runs under the step budget (the expression loops or repeats)."""
        return self._native is None

    def evaluate(self, variables: Mapping[str, Any], *, max_steps: int = MAX_STEPS) -> Any:
        """Evaluate with ``variables`` bound.

        Raises:
            ExpressionLimitError: the step or size budget ran out.
            NameError: a name is not bound.
            Exception: whatever the allowed operations raise on these values (``TypeError``, ...).
        """
        if self._native is not None:
            # The tree passed the allow-list and has no loop, power, shift or repetition of a
            # literal: its cost is bounded by the values it reads, so it runs as Python code,
            # with nothing but the allowed functions in reach.
            return eval(self._native, _NATIVE_GLOBALS, dict(variables))  # noqa: S307 - checked tree
        return _Interpreter(variables, max_steps).run(self._tree.body)


def compile_expression(text: str) -> SafeExpression:
    """Parse and check ``text``.

    Raises:
        ExpressionError: a syntax error, or a construct outside the allow-list (imports, lambdas,
            dunder or private attributes, calls to anything not in FUNCTIONS/METHODS, ...).
    """
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError("an invariant expression must be a non-empty string")
    if len(text) > MAX_TEXT:
        raise ExpressionError(f"invariant expression is too long ({len(text)} characters; at most {MAX_TEXT})")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"invariant {text!r} is not a valid expression: {exc.msg}") from None
    bound: set[str] = set()
    free: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED):
            raise ExpressionError(f"invariant {text!r}: {type(node).__name__} is not allowed")
        if isinstance(node, ast.Name):
            if node.id.startswith("_"):
                raise ExpressionError(f"invariant {text!r}: name {node.id!r} is not allowed (starts with _)")
            (bound if isinstance(node.ctx, ast.Store) else free).add(node.id)
        elif isinstance(node, ast.Attribute) and (node.attr.startswith("_") or node.attr in _DENIED_ATTRIBUTES):
            raise ExpressionError(f"invariant {text!r}: attribute {node.attr!r} is not allowed")
        elif isinstance(node, ast.Call):
            _check_call(text, node)
        elif isinstance(node, ast.comprehension) and not isinstance(node.target, (ast.Name, ast.Tuple)):
            raise ExpressionError(f"invariant {text!r}: a comprehension target must be a name or a tuple")
        elif isinstance(node, ast.Constant) and isinstance(node.value, (bytes, str)) and len(node.value) > MAX_TEXT:
            raise ExpressionError(f"invariant {text!r}: constant too long")
    names = frozenset(free - bound - set(FUNCTIONS))
    native = compile(tree, "<invariant>", "eval") if _bounded(tree) else None
    return SafeExpression(text=text, names=names, _tree=tree, _native=native)


_NATIVE_GLOBALS: dict[str, Any] = {"__builtins__": {}, **FUNCTIONS}
_SEQUENCE_NODES = (ast.List, ast.Tuple, ast.Set, ast.Dict, ast.JoinedStr)


def _bounded(tree: ast.Expression) -> bool:
    """True when nothing in the tree can loop or build something huge from a small expression."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.GeneratorExp, ast.ListComp, ast.SetComp, ast.DictComp)):
            return False
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Pow, ast.LShift)):
            return False
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
            for side in (node.left, node.right):
                if isinstance(side, _SEQUENCE_NODES):
                    return False
                if isinstance(side, ast.Constant) and (
                    isinstance(side.value, (str, bytes)) or (isinstance(side.value, int) and abs(side.value) > MAX_SIZE)
                ):
                    return False
    return True


def _check_call(text: str, node: ast.Call) -> None:
    func = node.func
    if isinstance(func, ast.Name) and func.id in FUNCTIONS:
        return
    if isinstance(func, ast.Attribute) and func.attr in METHODS:
        return
    shown = ast.unparse(func)
    raise ExpressionError(
        f"invariant {text!r}: calling {shown} is not allowed "
        f"(allowed: {', '.join(sorted(FUNCTIONS))}; methods {', '.join(sorted(METHODS))})"
    )


class _Interpreter:
    """Walks a checked tree, counting steps."""

    def __init__(self, variables: Mapping[str, Any], max_steps: int) -> None:
        self.scopes: list[Mapping[str, Any]] = [variables]
        self.steps = max_steps

    def tick(self, cost: int = 1) -> None:
        self.steps -= cost
        if self.steps < 0:
            raise ExpressionLimitError("invariant evaluation went over its step budget")

    def lookup(self, name: str) -> Any:
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        if name in FUNCTIONS:
            return FUNCTIONS[name]
        raise NameError(f"name {name!r} is not bound in this invariant")

    def run(self, node: ast.expr) -> Any:
        self.tick()
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return self.lookup(node.id)
        if isinstance(node, ast.BoolOp):
            value: Any = None
            for operand in node.values:
                value = self.run(operand)
                if isinstance(node.op, ast.And) and not value:
                    return value
                if isinstance(node.op, ast.Or) and value:
                    return value
            return value
        if isinstance(node, ast.UnaryOp):
            return _UNARY[type(node.op)](self.run(node.operand))
        if isinstance(node, ast.BinOp):
            return self.binary(node.op, self.run(node.left), self.run(node.right))
        if isinstance(node, ast.Compare):
            left = self.run(node.left)
            for op, comparator in zip(node.ops, node.comparators, strict=True):
                right = self.run(comparator)
                if not _COMPARE[type(op)](left, right):
                    return False
                left = right
            return True
        if isinstance(node, ast.IfExp):
            return self.run(node.body) if self.run(node.test) else self.run(node.orelse)
        if isinstance(node, ast.Attribute):
            return getattr(self.run(node.value), node.attr)
        if isinstance(node, ast.Subscript):
            return self.run(node.value)[self.run(node.slice)]
        if isinstance(node, ast.Slice):
            return slice(
                None if node.lower is None else self.run(node.lower),
                None if node.upper is None else self.run(node.upper),
                None if node.step is None else self.run(node.step),
            )
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            items = [self.run(e) for e in node.elts]
            return (
                tuple(items) if isinstance(node, ast.Tuple) else (items if isinstance(node, ast.List) else set(items))
            )
        if isinstance(node, ast.Dict):
            return {self.run(k): self.run(v) for k, v in zip(node.keys, node.values, strict=True) if k is not None}
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, (ast.GeneratorExp, ast.ListComp, ast.SetComp)):
            out = list(self.comprehend(node.generators, lambda: self.run(node.elt)))
            return set(out) if isinstance(node, ast.SetComp) else out
        if isinstance(node, ast.DictComp):
            pairs = self.comprehend(node.generators, lambda: (self.run(node.key), self.run(node.value)))
            return dict(pairs)
        raise ExpressionLimitError(
            f"{type(node).__name__} cannot be evaluated"
        )  # pragma: no cover - checked at compile

    def binary(self, op: ast.operator, left: Any, right: Any) -> Any:
        if isinstance(op, ast.Pow) and isinstance(right, (int, float)) and abs(right) > MAX_POWER:
            raise ExpressionLimitError(f"exponent {right} is over the limit of {MAX_POWER}")
        if isinstance(op, ast.LShift) and isinstance(right, int) and right > MAX_POWER:
            raise ExpressionLimitError(f"shift by {right} is over the limit of {MAX_POWER}")
        if isinstance(op, ast.Mult):
            for seq, times in ((left, right), (right, left)):
                if isinstance(seq, (str, bytes, list, tuple)) and isinstance(times, int):
                    if len(seq) * times > MAX_SIZE:
                        raise ExpressionLimitError(f"repetition to {len(seq) * times} items is over {MAX_SIZE}")
                    self.tick(max(1, len(seq) * times // 100))
        return _BINARY[type(op)](left, right)

    def call(self, node: ast.Call) -> Any:
        func = node.func
        args = [self.run(a) for a in node.args]
        kwargs = {k.arg: self.run(k.value) for k in node.keywords if k.arg is not None}
        if isinstance(func, ast.Name):
            target = FUNCTIONS[func.id]
        else:
            assert isinstance(func, ast.Attribute)
            target = getattr(self.run(func.value), func.attr)
        for arg in args:
            if isinstance(arg, Iterable) and not isinstance(arg, (str, bytes, dict)):
                self.tick()
        return target(*args, **kwargs)

    def comprehend(self, generators: list[ast.comprehension], produce: Callable[[], Any]) -> Iterable[Any]:
        def walk(index: int, scope: dict[str, Any]) -> Iterable[Any]:
            if index == len(generators):
                yield produce()
                return
            gen = generators[index]
            for item in self.run(gen.iter):
                self.tick()
                _bind(gen.target, item, scope)
                if all(self.run(cond) for cond in gen.ifs):
                    yield from walk(index + 1, scope)

        scope: dict[str, Any] = {}
        self.scopes.append(scope)
        try:
            yield from walk(0, scope)
        finally:
            self.scopes.pop()


def _bind(target: ast.expr, value: Any, scope: dict[str, Any]) -> None:
    if isinstance(target, ast.Name):
        scope[target.id] = value
        return
    assert isinstance(target, ast.Tuple)
    values = list(value)
    if len(values) != len(target.elts):
        raise ValueError(f"cannot unpack {len(values)} values into {len(target.elts)} names")
    for element, item in zip(target.elts, values, strict=True):
        _bind(element, item, scope)
