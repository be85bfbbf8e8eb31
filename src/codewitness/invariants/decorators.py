"""Invariants in code: ``@ensure``, ``@require`` and ``@returns`` on a function.

    import codewitness

    @codewitness.ensure(lambda result, items: result >= 0, name="total_not_negative")
    @codewitness.require(lambda items: len(items) > 0)
    def total(items): ...

    @codewitness.returns(Invoice)        # a Pydantic model, a type, or any type Pydantic validates
    def build_invoice(order): ...

The decorated function checks its rule on every call, whether or not the runtime sensor runs;
a breach goes through the registry (:mod:`codewitness.invariants.registry`), which captures it
and acts on the rule's mode. A predicate that itself fails is counted as a rule error, never as a
breach, and never breaks the call in ``record``/``warn`` mode.
"""

from __future__ import annotations

import ast
import functools
import inspect
import textwrap
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from codewitness.invariants.registry import MODES, Mismatch, Mode, Rule, RuleKind, breached, judge, register

__all__ = ["ensure", "require", "returns"]

F = TypeVar("F", bound=Callable[..., Any])


def _qualified(func: Callable[..., Any]) -> str:
    return f"{func.__module__}.{func.__qualname__}"


def _predicate_caller(
    predicate: Callable[..., Any], func: Callable[..., Any], *, with_result: bool
) -> tuple[Callable[[Mapping[str, Any], Any], Any], bool]:
    """Call ``predicate`` with the arguments it names (and ``result``), checked once, here."""
    params = inspect.signature(predicate).parameters
    func_params = set(inspect.signature(func).parameters)
    takes_all = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    wanted = [n for n, p in params.items() if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]
    for name in wanted:
        if name == "result" and with_result:
            continue
        if name not in func_params:
            known = ", ".join(sorted(func_params | ({"result"} if with_result else set())))
            raise TypeError(
                f"the predicate asks for {name!r}, but {func.__qualname__}() has no such parameter (known: {known})"
            )

    if wanted == ["result"] and with_result and not takes_all:
        # The common case reads only the result: no argument binding on the fast path.
        return (lambda _arguments, result: predicate(result=result)), False

    from_arguments = tuple(n for n in wanted if n != "result" or not with_result)
    wants_result = with_result and "result" in wanted

    def call(arguments: Mapping[str, Any], result: Any) -> Any:
        if takes_all:
            return predicate(**arguments, **({"result": result} if with_result else {}))
        kwargs = {n: arguments[n] for n in from_arguments if n in arguments}
        if wants_result:
            kwargs["result"] = result
        return predicate(**kwargs)

    return call, True


def _binder(func: Callable[..., Any]) -> Callable[[tuple[Any, ...], dict[str, Any]], dict[str, Any]]:
    """Names a call's arguments; plain positional calls of plain signatures skip ``Signature.bind``."""
    signature = inspect.signature(func)
    params = list(signature.parameters.values())
    plain = all(p.kind is p.POSITIONAL_OR_KEYWORD for p in params)
    names = tuple(p.name for p in params)
    count = len(names)

    def bind(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        if plain and not kwargs and len(args) == count:
            return dict(zip(names, args, strict=True))
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError:
            return {}
        bound.apply_defaults()
        return dict(bound.arguments)

    return bind


def _describe(predicate: Any) -> str:
    """A lambda's body as text (``result >= 0``); otherwise the callable's name."""
    name = getattr(predicate, "__qualname__", None) or repr(predicate)
    if getattr(predicate, "__name__", "") != "<lambda>":
        return name
    try:
        source = textwrap.dedent(inspect.getsource(predicate)).strip().lstrip("@")
        tree = ast.parse(source)
    except (OSError, TypeError, SyntaxError):
        return name
    lambdas = [node for node in ast.walk(tree) if isinstance(node, ast.Lambda)]
    return ast.unparse(lambdas[0].body)[:200] if len(lambdas) == 1 else name


def _guarded(
    func: F,
    *,
    kind: RuleKind,
    text: str,
    name: str | None,
    mode: Mode | None,
    predicate: Callable[[Mapping[str, Any], Any], Any],
    needs_arguments: bool,
) -> F:
    if mode is not None and mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    if inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func):
        raise TypeError(f"invariants do not apply to generator functions ({func.__qualname__})")
    rule = Rule(name=name or f"{func.__name__}:{kind}", function=_qualified(func), kind=kind, text=text, mode=mode)
    state = register(rule)
    bind = _binder(func)
    before = kind == "require"

    def check(args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> None:
        arguments = bind(args, kwargs) if needs_arguments else None
        detail = judge(state, predicate, arguments or {}, result)
        if detail is not None:
            breached(state, lambda: arguments if arguments is not None else bind(args, kwargs), result, detail or None)

    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            if before:
                check(args, kwargs, None)
                return await func(*args, **kwargs)
            result = await func(*args, **kwargs)
            check(args, kwargs, result)
            return result

        wrapper: Any = async_wrapper
    else:

        @functools.wraps(func)
        def sync_wrapper(*args: Any, **kwargs: Any) -> Any:
            if before:
                check(args, kwargs, None)
                return func(*args, **kwargs)
            result = func(*args, **kwargs)
            check(args, kwargs, result)
            return result

        wrapper = sync_wrapper
    wrapper.__codewitness_rules__ = (*getattr(func, "__codewitness_rules__", ()), rule)
    return wrapper  # type: ignore[no-any-return]


def ensure(predicate: Callable[..., Any], *, name: str | None = None, mode: Mode | None = None) -> Callable[[F], F]:
    """A postcondition: ``predicate`` must be true after every call.

    The predicate names what it needs: ``result`` and any of the function's parameters, e.g.
    ``lambda result, items: result >= sum(i.price for i in items)``.

    Args:
        predicate: a callable returning a truthy value when the invariant holds.
        name: the rule's name in reports (default ``<function>:ensure``).
        mode: ``record``, ``warn`` or ``raise``; the process default when omitted.

    Raises:
        TypeError: the predicate names a parameter the function does not have.
    """
    return _predicate_rule(predicate, "ensure", name, mode)


def require(predicate: Callable[..., Any], *, name: str | None = None, mode: Mode | None = None) -> Callable[[F], F]:
    """A precondition: ``predicate`` over the function's parameters must be true before every call.

    Args:
        predicate: a callable naming any of the function's parameters.
        name: the rule's name in reports (default ``<function>:require``).
        mode: ``record``, ``warn`` or ``raise``; the process default when omitted.
    """
    return _predicate_rule(predicate, "require", name, mode)


def _predicate_rule(
    predicate: Callable[..., Any], kind: RuleKind, name: str | None, mode: Mode | None
) -> Callable[[F], F]:
    def decorate(func: F) -> F:
        call, needs_arguments = _predicate_caller(predicate, func, with_result=kind == "ensure")
        text = _describe(predicate)
        return _guarded(
            func, kind=kind, text=text, name=name, mode=mode, predicate=call, needs_arguments=needs_arguments
        )

    return decorate


def returns(expected: Any, *, name: str | None = None, mode: Mode | None = None) -> Callable[[F], F]:
    """The result must validate as ``expected``: a Pydantic model, a class, or any type Pydantic validates.

    Args:
        expected: ``MyModel`` (validated with Pydantic), ``int`` (an ``isinstance`` check), or a typing
            form such as ``list[int]`` (validated with Pydantic's ``TypeAdapter``).
        name: the rule's name in reports (default ``<function>:returns``).
        mode: ``record``, ``warn`` or ``raise``; the process default when omitted.

    Raises:
        MissingExtraError: a typing form or model was given and Pydantic is not installed.
    """
    validate = _validator(expected)
    label = getattr(expected, "__qualname__", None) or repr(expected)

    def decorate(func: F) -> F:
        return _guarded(
            func,
            kind="returns",
            text=label,
            name=name,
            mode=mode,
            predicate=lambda _a, r: validate(r),
            needs_arguments=False,
        )

    return decorate


def _validator(expected: Any) -> Callable[[Any], bool]:
    pydantic = _pydantic(required=not isinstance(expected, type))
    if pydantic is not None and isinstance(expected, type) and issubclass(expected, pydantic.BaseModel):
        model: Any = expected

        def check_model(value: Any) -> bool:
            if isinstance(value, model):
                return True
            try:
                model.model_validate(value)
            except pydantic.ValidationError as exc:
                raise Mismatch(_first_error(exc)) from None
            return True

        return check_model
    if isinstance(expected, type):
        plain = expected

        def check_type(value: Any) -> bool:
            if isinstance(value, plain):
                return True
            raise Mismatch(f"expected {plain.__qualname__}, got {type(value).__qualname__}")

        return check_type
    assert pydantic is not None
    adapter = pydantic.TypeAdapter(expected)

    def check_adapter(value: Any) -> bool:
        try:
            adapter.validate_python(value, strict=True)
        except pydantic.ValidationError as exc:
            raise Mismatch(_first_error(exc)) from None
        return True

    return check_adapter


def _first_error(exc: Any) -> str:
    errors = exc.errors()
    if not errors:
        return "does not validate"
    first = errors[0]
    where = ".".join(str(p) for p in first.get("loc", ())) or "value"
    return f"{where}: {first.get('msg', 'invalid')}" + (f" (+{len(errors) - 1} more)" if len(errors) > 1 else "")


def _pydantic(*, required: bool) -> Any:
    try:
        import pydantic
    except ImportError:
        if required:
            from codewitness.errors import MissingExtraError

            raise MissingExtraError(
                "Pydantic", "Validating results against a typing form or model", package="pydantic"
            ) from None
        return None
    return pydantic
