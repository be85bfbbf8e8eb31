"""The replay runner: runs one function of one checkout on rebuilt inputs, in its own process.

Run as a script by the project's interpreter (``python _runner.py``), never imported by
codewitness: it imports nothing of codewitness (the checkout may even be codewitness itself, at
another revision) and loads the exact codec, ``sensor/exact.py``, by its path. Standard library only.

Protocol. The first line on stdin is the setup, a JSON object:

* ``exact``: the path of the codec file;
* ``paths``: folders put first on ``sys.path``; ``root``: the checkout, which every function's
  module must come from (a module found elsewhere -- an installed copy -- is refused);
* ``file`` and ``module`` (optional): a source file to load as that module (a generated module,
  for prompt drift); targets are then qualified names inside it;
* ``jobs``: a JSON-lines file of jobs; without it, jobs are read from stdin, one per line.

A job is ``{"id": ..., "target": ..., "input": {name: encoding}}`` (or ``{"id": ..., "target":
..., "describe": true}``: the function's parameters and their type hints, for a property-based
search); a target is ``module:qualname`` or ``module.qualname``. Each answer is one JSON line on
the runner's original stdout -- the functions' own prints go to stderr: first ``{"ready": true}``
or ``{"fatal": reason}``, then ``{"id": ..., "outcome": ...}`` per job, where the outcome is
``{"ok": encoding}``, ``{"raised": {"type", "message"}}``, ``{"unbuildable": reason}`` (the input
cannot be rebuilt here) or ``{"error": reason}`` (the function cannot be loaded here, or the
input does not fit its parameters). Time limits are the parent's: it stops a runner that does
not answer.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import inspect
import json
import os
import re
import sys
import typing
from typing import Any

_CODEC = "_codewitness_exact"


def _load_codec(path: str) -> Any:
    spec = importlib.util.spec_from_file_location(_CODEC, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load the codec from {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[_CODEC] = module
    spec.loader.exec_module(module)
    return module


def _short(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip()
    return text.splitlines()[0][:500] if text else type(exc).__name__


def _resolve(target: str) -> tuple[Any, Any]:
    """The module and the function ``target`` names (``module:qual.name`` or ``module.qual.name``)."""
    if ":" in target:
        module_name, _, qualname = target.partition(":")
        module = importlib.import_module(module_name)
        return module, _walk(module, qualname)
    parts = target.split(".")
    missing: ModuleNotFoundError | None = None
    for cut in range(len(parts) - 1, 0, -1):
        name = ".".join(parts[:cut])
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and not name.startswith(exc.name):
                raise  # the module exists but imports something missing: that is the answer
            missing = missing or exc
            continue
        try:
            return module, _walk(module, ".".join(parts[cut:]))
        except AttributeError:
            if missing is not None:
                raise missing from None  # "no module named shop.newmod" says more than "shop has no newmod"
            raise
    raise missing or ImportError(f"no module in {target!r}")


def _walk(module: Any, qualname: str) -> Any:
    found: Any = module
    for part in qualname.split("."):
        found = inspect.getattr_static(found, part) if isinstance(found, type) else getattr(found, part)
    if isinstance(found, staticmethod | classmethod):
        found = found.__func__  # a classmethod's first argument, the class, is among the recorded inputs
    return found


def _load_file(path: str, name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _call_shape(function: Any, arguments: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    """Positional and keyword arguments for ``function`` from the recorded arguments by name."""
    signature = inspect.signature(function)
    names = set(signature.parameters)
    unknown = sorted(set(arguments) - names)
    if unknown:
        raise TypeError(f"no parameter {unknown[0]!r} here")
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    positional = True
    for name, parameter in signature.parameters.items():
        kind = parameter.kind
        if name not in arguments:
            if kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD):
                positional = False  # later ones go by name, this one takes its default
            continue
        value = arguments[name]
        if kind is parameter.VAR_POSITIONAL:
            if not positional:
                raise TypeError(f"*{name} cannot be passed after a parameter left to its default")
            args.extend(value)
        elif kind is parameter.VAR_KEYWORD:
            kwargs.update(value)
        elif kind is parameter.KEYWORD_ONLY or (kind is parameter.POSITIONAL_OR_KEYWORD and not positional):
            kwargs[name] = value
        elif positional:
            args.append(value)
        else:
            raise TypeError(f"positional-only {name!r} comes after a parameter left to its default")
    signature.bind(*args, **kwargs)  # a missing required argument: TypeError here, not inside
    return args, kwargs


def _outcome(codec: Any, function: Any, encoded: dict[str, Any]) -> dict[str, Any]:
    try:
        arguments = codec.decode_arguments(encoded)
    except codec.NotReplayable as exc:
        return {"unbuildable": str(exc)}
    except Exception as exc:
        return {"unbuildable": _short(exc)}
    try:
        args, kwargs = _call_shape(function, arguments)
    except (TypeError, ValueError) as exc:
        return {"error": f"the inputs do not fit the function's parameters here ({_short(exc)})"}
    try:
        result = function(*args, **kwargs)
        if inspect.iscoroutine(result):
            result = asyncio.run(result)
    except BaseException as exc:  # an outcome like any other (SystemExit included)
        if isinstance(exc, KeyboardInterrupt):
            raise
        cls = type(exc)
        return {"raised": {"type": f"{cls.__module__}.{cls.__qualname__}", "message": _message(exc)}}
    try:
        return {"ok": codec.encode(result, where="result")}
    except codec.NotReplayable as exc:
        return {"ok": {"$": "opaque", "type": codec.type_name(type(result)), "repr": _repr(result), "why": str(exc)}}


def _message(exc: BaseException) -> str:
    try:
        return str(exc)[:2000]
    except Exception:
        return f"<unprintable {type(exc).__name__}>"


def _repr(value: Any) -> str:
    """The ``repr`` an opaque result is compared by, without memory addresses (they differ per run)."""
    try:
        return re.sub(r" at 0x[0-9a-fA-F]+", "", repr(value))[:500]
    except Exception:
        return f"<unprintable {type(value).__name__}>"


def _hint(tp: Any) -> Any:
    """A JSON description of a type hint, for building inputs elsewhere (``{"kind": "any"}`` when unknown)."""
    import dataclasses
    import datetime
    import decimal
    import enum
    import types

    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is type(None) or tp is None:
        return {"kind": "none"}
    if origin in (typing.Union, types.UnionType):
        return {"kind": "union", "options": [_hint(a) for a in args]}
    if origin is typing.Literal:
        return {"kind": "literal", "values": [a for a in args if isinstance(a, str | int | float | bool)]}
    if origin in (list, set, frozenset) or tp in (list, set, frozenset):
        return {"kind": (origin or tp).__name__, "item": _hint(args[0]) if args else {"kind": "any"}}
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return {"kind": "tuple_of", "item": _hint(args[0])}
        return {"kind": "tuple", "items": [_hint(a) for a in args]}
    if origin is dict or tp is dict:
        return {
            "kind": "dict",
            "key": _hint(args[0]) if args else {"kind": "any"},
            "value": _hint(args[1]) if args else {"kind": "any"},
        }
    simple = {
        bool: "bool",
        int: "int",
        float: "float",
        str: "str",
        bytes: "bytes",
        decimal.Decimal: "decimal",
        datetime.datetime: "datetime",
        datetime.date: "date",
        datetime.timedelta: "timedelta",
    }
    if tp in simple:
        return {"kind": simple[tp]}
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return {"kind": "enum", "type": f"{tp.__module__}:{tp.__qualname__}", "names": [m.name for m in tp]}
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp)
        return {
            "kind": "dataclass",
            "type": f"{tp.__module__}:{tp.__qualname__}",
            "fields": {f.name: _hint(hints.get(f.name, Any)) for f in dataclasses.fields(tp)},
        }
    return {"kind": "any"}


def _describe(function: Any) -> dict[str, Any]:
    try:
        hints = typing.get_type_hints(function)
    except Exception:
        hints = {}
    parameters = {}
    for name, parameter in inspect.signature(function).parameters.items():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        parameters[name] = {
            "hint": _hint(hints[name]) if name in hints else {"kind": "any"},
            "required": parameter.default is parameter.empty,
        }
    return {"parameters": parameters}


def _jobs(setup: dict[str, Any]) -> Any:
    if setup.get("jobs"):
        with open(setup["jobs"], encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    yield json.loads(line)
    else:
        for line in sys.stdin:
            if line.strip():
                yield json.loads(line)


class _Targets:
    """Functions by target, loaded once each (a failure is remembered as the reason)."""

    def __init__(self, setup: dict[str, Any]) -> None:
        self.setup = setup
        self.root = os.path.realpath(setup.get("root") or "/")
        self.loaded: dict[str, Any] = {}
        self.module: Any = None
        if setup.get("file"):
            try:
                self.module = _load_file(setup["file"], setup["module"])
            except BaseException as exc:
                self.module = _Failed(f"cannot load {setup['file']} as {setup['module']}: {_short(exc)}")

    def get(self, target: str) -> Any:
        if target not in self.loaded:
            self.loaded[target] = self._load(target)
        return self.loaded[target]

    def _load(self, target: str) -> Any:
        try:
            if self.module is not None:
                if isinstance(self.module, _Failed):
                    return self.module
                module, function = self.module, self.module
                for part in target.split("."):
                    function = getattr(function, part)
            else:
                module, function = _resolve(target)
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt):
                raise
            return _Failed(f"cannot import {target}: {_short(exc)}")
        where = os.path.realpath(getattr(module, "__file__", None) or "")
        if not where.startswith(self.root.rstrip(os.sep) + os.sep):
            return _Failed(f"{module.__name__} was imported from {where or 'nowhere'}, not from the checkout")
        return function


class _Failed:
    def __init__(self, reason: str) -> None:
        self.reason = reason


def main() -> None:
    """Answer the setup and every job (see the module docstring)."""
    answers = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)  # the functions' prints must not mix with the answers
    sys.stdout = sys.stderr

    def answer(data: dict[str, Any]) -> None:
        answers.write(json.dumps(data, ensure_ascii=False) + "\n")
        answers.flush()

    setup = json.loads(sys.stdin.readline())
    try:
        codec = _load_codec(setup["exact"])
    except BaseException as exc:
        answer({"fatal": f"cannot load the codec: {_short(exc)}"})
        return
    for path in reversed(setup.get("paths", [])):
        sys.path.insert(0, path)
    targets = _Targets(setup)
    answer({"ready": True})
    for job in _jobs(setup):
        function = targets.get(str(job.get("target")))
        if isinstance(function, _Failed):
            answer({"id": job.get("id"), "outcome": {"error": function.reason}})
        elif job.get("describe"):
            answer({"id": job.get("id"), "describe": _describe(function)})
        else:
            answer({"id": job.get("id"), "outcome": _outcome(codec, function, job.get("input") or {})})


if __name__ == "__main__":
    main()
