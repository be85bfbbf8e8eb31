"""Runtime invariants: what must always hold for a function, checked on every call.

AI-written code fails with 200 OK. An invariant states the business rule the code must keep,
and every breach is captured with the inputs that caused it, the output, and (when the runtime
sensor runs) the generation, prompt and model that wrote the function.

In code::

    import codewitness

    @codewitness.ensure(lambda result, items: result >= 0, name="total_not_negative")
    @codewitness.require(lambda items: len(items) > 0)
    def total(items): ...

    @codewitness.returns(Invoice)        # a Pydantic model, a type, or any type Pydantic validates
    def build_invoice(order): ...

Or in configuration, for code you did not write (no code change; the sensor applies them)::

    [[tool.codewitness.invariants]]
    function = "shop.pricing:total"      # module:qualname, or a glob on module.qualname
    ensure = "result >= 0"               # a safe expression over the parameters and ``result``
    mode = "warn"

Modes: ``record`` (the default: count and capture), ``warn`` (also log a warning) and ``raise``
(raise :class:`~codewitness.errors.InvariantViolation` — for tests and staging; the pytest plugin
turns it on). A predicate that itself fails is counted as a rule error, never as a breach, and
never breaks the call in ``record``/``warn`` mode.

Threading: checks run on the calling thread and take no lock (a signal handler that calls a
guarded function while its thread is inside a check must not wait for itself); the registry of
rules takes one reentrant lock, never on the path of a call, and a forked child gets a fresh one.
"""

from __future__ import annotations

import ast
import collections
import functools
import inspect
import logging
import os
import textwrap
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from codewitness._expr import SafeExpression, compile_expression
from codewitness.errors import ConfigError, InvariantViolation

if TYPE_CHECKING:
    from codewitness.config import InvariantRule
    from codewitness.sensor import Sensor

__all__ = [
    "MODES",
    "Mode",
    "Rule",
    "RuleStats",
    "compile_config_rules",
    "default_mode",
    "ensure",
    "install",
    "require",
    "returns",
    "rules",
    "set_default_mode",
    "stats",
]

log = logging.getLogger("codewitness.invariants")

Mode = Literal["record", "warn", "raise"]
MODES: tuple[Mode, ...] = ("record", "warn", "raise")
Kind = Literal["ensure", "require", "returns"]

F = TypeVar("F", bound=Callable[..., Any])

_RECENT = 100  # breaches kept in-process per rule when no sensor exports them
_default_mode: Mode = "record"


def default_mode() -> Mode:
    """The mode of every rule that does not name its own."""
    return _default_mode


def set_default_mode(mode: Mode) -> None:
    """The mode of every rule that does not name its own (the pytest plugin sets ``raise``)."""
    global _default_mode
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}")
    _default_mode = mode


@dataclass(frozen=True)
class Rule:
    """One invariant bound to one function.

    Attributes:
        name: the rule's name (given, or derived from the function and the check).
        function: ``module.qualname`` of the function it guards.
        kind: ``ensure`` (after the call), ``require`` (before) or ``returns`` (result type).
        text: the expression, the predicate's source, or the expected type's name.
        mode: its own mode, or ``None`` for the process default.
        source: ``decorator`` or ``config``.
    """

    name: str
    function: str
    kind: Kind
    text: str
    mode: Mode | None = None
    source: Literal["decorator", "config"] = "decorator"

    @property
    def effective_mode(self) -> Mode:
        """The mode in force now."""
        return self.mode or _default_mode


@dataclass
class RuleStats:
    """Counters of one rule since the process started.

    ``counts`` is ``[passed, breached, errors]``. Checks bump one item with no lock: on a GIL build
    of CPython ``counts[i] += 1`` on a list is not interrupted by a thread switch, and a check must
    never wait on another thread.
    """

    rule: Rule
    counts: list[int] = field(default_factory=lambda: [0, 0, 0])
    drained: list[int] = field(default_factory=lambda: [0, 0, 0])  # counts at the last interval export
    recent: collections.deque[dict[str, Any]] = field(default_factory=lambda: collections.deque(maxlen=_RECENT))

    @property
    def passed(self) -> int:
        return self.counts[0]

    @property
    def breached(self) -> int:
        return self.counts[1]

    @property
    def errors(self) -> int:
        return self.counts[2]


# Guards the registry (rules are added at import and bind time, read at export). Reentrant: a
# signal handler may bind a rule (import a module) while its thread holds it.
_lock = threading.RLock()
_stats: dict[tuple[str, str], RuleStats] = {}


def _reset_lock_in_child() -> None:
    global _lock
    _lock = threading.RLock()  # the parent's exporter thread may have held it at the fork


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_lock_in_child)


def _register(rule: Rule) -> RuleStats:
    with _lock:
        key = (rule.function, rule.name)
        existing = _stats.get(key)
        if existing is None or existing.rule != rule:
            existing = _stats[key] = RuleStats(rule)
        return existing


def rules() -> list[Rule]:
    """Every rule registered in this process."""
    with _lock:
        return [s.rule for s in _stats.values()]


def stats() -> list[RuleStats]:
    """Counters of every rule registered in this process."""
    with _lock:
        return list(_stats.values())


# -- evaluation ----------------------------------------------------------------------------------


def _count(state: RuleStats, slot: int) -> None:
    state.counts[slot] += 1


def _failed_check(state: RuleStats, exc: Exception) -> None:
    """The predicate itself failed: a rule error, not a breach."""
    state.counts[2] += 1
    log.debug("invariant %s on %s could not be evaluated: %r", state.rule.name, state.rule.function, exc)


def _breached(
    state: RuleStats, arguments: Callable[[], Mapping[str, Any]], result: Any, detail: str | None = None
) -> None:
    """Count a breach, capture it (binding the arguments only now) and act on the mode."""
    state.counts[1] += 1
    _breach(state, arguments(), result, detail)


def _breach(state: RuleStats, arguments: Mapping[str, Any], result: Any, detail: str | None) -> None:
    rule = state.rule
    record = _breach_record(rule, arguments, result, detail)
    state.recent.append(record)  # a bounded deque: one step, no lock
    sensor = _active_sensor()
    if sensor is not None:
        try:
            sensor.report_event(rule.function, record)
        except Exception:
            sensor.internal_error("invariants.report")
    mode = rule.effective_mode
    message = _message(rule, record)
    if mode == "warn":
        log.warning("%s", message)
    elif mode == "raise":
        raise InvariantViolation(message)


def _breach_record(rule: Rule, arguments: Mapping[str, Any], result: Any, detail: str | None) -> dict[str, Any]:
    from codewitness.sensor.snapshot import Redactor

    sensor = _active_sensor()
    redactor = sensor.redactor if sensor is not None else _default_redactor(Redactor)
    record: dict[str, Any] = {
        "kind": "breach",
        "id": uuid.uuid4().hex,
        "time": datetime.now(UTC).isoformat(),
        "rule": rule.name,
        "rule_kind": rule.kind,
        "expression": rule.text,
        "mode": rule.effective_mode,
        "function": rule.function,
        "arguments": redactor.snapshot_arguments(arguments),
        "result": redactor.snapshot(result) if rule.kind != "require" else None,
        "detail": redactor.text(detail, 2000) if detail else detail,
    }
    return record


@functools.lru_cache(maxsize=1)
def _default_redactor(factory: Any) -> Any:
    return factory()


def _message(rule: Rule, record: Mapping[str, Any]) -> str:
    shown = ", ".join(f"{k}={_short(v)}" for k, v in (record.get("arguments") or {}).items())
    text = f"invariant {rule.name!r} broken by {rule.function}({shown}): {rule.kind} {rule.text}"
    if rule.kind != "require":
        text += f"; result={_short(record.get('result'))}"
    if record.get("detail"):
        text += f"; {record['detail']}"
    origin = record.get("generation_ids")
    if origin:
        text += f"; written by {', '.join(origin)}"
    return text


def _short(value: Any) -> str:
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= 80 else text[:77] + "..."


def _active_sensor() -> Sensor | None:
    import sys

    module = sys.modules.get("codewitness.sensor")
    if module is None:
        return None
    active: Sensor | None = module.active()
    return active


# -- decorators ----------------------------------------------------------------------------------


class _TypeMismatch(Exception):
    """``returns`` found a result of the wrong shape; the message says how."""


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


def _guard(
    func: F,
    *,
    kind: Kind,
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
    state = _register(rule)
    bind = _binder(func)
    before = kind == "require"

    def check(args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> None:
        arguments = bind(args, kwargs) if needs_arguments else None
        try:
            outcome = predicate(arguments or {}, result)
        except _TypeMismatch as exc:
            _breached(state, lambda: bind(args, kwargs), result, str(exc))
            return
        except Exception as exc:
            _failed_check(state, exc)
            return
        if outcome:
            state.counts[0] += 1
        else:
            _breached(state, lambda: arguments if arguments is not None else bind(args, kwargs), result)

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

    def decorate(func: F) -> F:
        call, needs_arguments = _predicate_caller(predicate, func, with_result=True)
        return _guard(
            func,
            kind="ensure",
            text=_describe(predicate),
            name=name,
            mode=mode,
            predicate=call,
            needs_arguments=needs_arguments,
        )

    return decorate


def require(predicate: Callable[..., Any], *, name: str | None = None, mode: Mode | None = None) -> Callable[[F], F]:
    """A precondition: ``predicate`` over the function's parameters must be true before every call.

    Args:
        predicate: a callable naming any of the function's parameters.
        name: the rule's name in reports (default ``<function>:require``).
        mode: ``record``, ``warn`` or ``raise``; the process default when omitted.
    """

    def decorate(func: F) -> F:
        call, _ = _predicate_caller(predicate, func, with_result=False)
        return _guard(
            func,
            kind="require",
            text=_describe(predicate),
            name=name,
            mode=mode,
            predicate=call,
            needs_arguments=True,
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
        return _guard(
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
                raise _TypeMismatch(_first_error(exc)) from None
            return True

        return check_model
    if isinstance(expected, type):
        plain = expected

        def check_type(value: Any) -> bool:
            if isinstance(value, plain):
                return True
            raise _TypeMismatch(f"expected {plain.__qualname__}, got {type(value).__qualname__}")

        return check_type
    assert pydantic is not None
    adapter = pydantic.TypeAdapter(expected)

    def check_adapter(value: Any) -> bool:
        try:
            adapter.validate_python(value, strict=True)
        except pydantic.ValidationError as exc:
            raise _TypeMismatch(_first_error(exc)) from None
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

            raise MissingExtraError("invariants", "Validating results against a typing form or model") from None
        return None
    return pydantic


# -- configuration-declared invariants ----------------------------------------------------------


@dataclass(frozen=True)
class ConfigRule:
    """A checked configuration rule, ready to bind to the functions its pattern names."""

    rule: Rule
    pattern: str
    expression: SafeExpression


def function_pattern(text: str) -> str:
    """``shop.pricing:total`` -> ``shop.pricing.total``; globs pass through."""
    return text.replace(":", ".")


def compile_config_rules(entries: Iterable[InvariantRule]) -> tuple[list[ConfigRule], list[str]]:
    """Check every ``[[invariants]]`` entry of the configuration.

    Returns:
        The rules that compiled, and one one-line message per entry that did not (bad expression,
        both or neither of ensure/require, unknown mode). ``codewitness run`` and ``codewitness
        invariants`` refuse to start on any message; ``init()`` and the sensor log them and go on
        without those rules. Never raises: whatever an entry holds, it is a message, not an error.
    """
    good: list[ConfigRule] = []
    problems: list[str] = []
    for index, entry in enumerate(entries):
        where = f"invariants[{index}]"
        try:
            where = f"invariants[{index}] ({str(entry.function)[:80] or '?'})"
            rule, problem = _compile_entry(entry)
        except Exception as exc:  # a rule is never worth an exception in the host
            rule, problem = None, f"cannot be compiled ({type(exc).__name__})"
        if rule is None:
            problems.append(f"{where}: {' '.join(str(problem).split())}")
        else:
            good.append(rule)
    return good, problems


def _compile_entry(entry: InvariantRule) -> tuple[ConfigRule | None, str]:
    if not entry.function:
        return None, "'function' is required"
    if bool(entry.ensure) == bool(entry.require):
        return None, "give exactly one of 'ensure' or 'require'"
    if entry.mode and entry.mode not in MODES:
        return None, f"mode must be one of {', '.join(MODES)}"
    kind: Kind = "ensure" if entry.ensure else "require"
    text = entry.ensure or entry.require
    try:
        expression = compile_expression(text)
    except ConfigError as exc:
        return None, str(exc)
    if kind == "require" and "result" in expression.names:
        return None, "a 'require' rule runs before the call and cannot use 'result'"
    pattern = function_pattern(entry.function)
    rule = Rule(
        name=entry.name or f"{pattern}:{kind}",
        function=pattern,
        kind=kind,
        text=text,
        mode=entry.mode or None,
        source="config",
    )
    return ConfigRule(rule=rule, pattern=pattern, expression=expression), ""


def install(sensor: Sensor, config_rules: Iterable[ConfigRule]) -> None:
    """Bind configuration rules to the sensor's functions (now and as modules are imported).

    A rule whose expression names something that is neither a parameter of the function nor
    ``result`` is not bound to that function; the mismatch is logged once and counted as a rule error.
    """
    for config_rule in config_rules:
        sensor.add_check_factory(config_rule.pattern, functools.partial(_make_check, config_rule))


def _make_check(config_rule: ConfigRule, function: str, parameters: tuple[str, ...] | None) -> Any:
    """The sensor calls this once per matching function; returns its check, or None to skip it."""
    base = config_rule.rule
    rule = Rule(base.name, function, base.kind, base.text, base.mode, "config")
    state = _register(rule)
    if parameters is not None:
        unknown = config_rule.expression.names - set(parameters) - {"result"}
        if unknown:
            log.warning(
                "invariant %s does not apply to %s: it has no parameter %s",
                rule.name,
                function,
                ", ".join(sorted(unknown)),
            )
            _count(state, 2)
            return None
    expression = config_rule.expression
    with_result = base.kind == "ensure"

    def check(arguments: Mapping[str, Any], result: Any) -> None:
        scope = dict(arguments)
        if with_result:
            scope["result"] = result
        try:
            outcome = expression.holds(scope)  # its truth too is checked: never the host's __bool__
        except Exception as exc:
            _failed_check(state, exc)
            return
        if outcome:
            state.counts[0] += 1
        else:
            _breached(state, lambda: arguments, result)

    return check


def drain_interval() -> list[dict[str, Any]]:
    """Per-rule counts since the last call, as export records (the sensor calls this each interval)."""
    now = datetime.now(UTC).isoformat()
    records = []
    with _lock:
        states = list(_stats.values())
    for state in states:
        now_counts = list(state.counts)
        passed, breached, errors = (a - b for a, b in zip(now_counts, state.drained, strict=True))
        if passed or breached or errors:
            records.append(
                {
                    "kind": "invariant",
                    "id": uuid.uuid4().hex,
                    "time": now,
                    "function": state.rule.function,
                    "rule": state.rule.name,
                    "rule_kind": state.rule.kind,
                    "expression": state.rule.text,
                    "source": state.rule.source,
                    "passed": passed,
                    "breached": breached,
                    "errors": errors,
                }
            )
            state.drained = now_counts
    return records
