"""``codewitness gen-tests``: readable pytest files from pinned baselines and reviewed cases.

One parametrized test per function; each case is a real input (written as Python) and the outcome
it must have -- the outcome pinned in a baseline, or the corrected expectation a reviewer (or
``corpus add --expect-json``) gave, which wins over a pinned one. Outcomes are asserted as strictly
as a replay compares them (:mod:`codewitness.behavior.compare`): equal and of the same type all the
way down, with the configured float tolerance and noise rules; an exception must be of the same
type with the same message. The file needs pytest and the project, not codewitness.

Cases whose outcome cannot be written as Python (an opaque object) are left out and counted.

Example:
    >>> written = generate(store, ["shop.pricing.total"], settings=config.behavior)  # doctest: +SKIP
    >>> written.cases, written.skipped  # doctest: +SKIP
    (12, {})
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from codewitness.behavior.compare import _path_pattern
from codewitness.behavior.values import Imports, to_source
from codewitness.errors import InputError, NotFoundError

if TYPE_CHECKING:
    from codewitness.config import BehaviorSection
    from codewitness.store import Store

__all__ = ["Generated", "generate"]


@dataclass
class Generated:
    """A generated test file: its text, how many cases per function, and what was left out (by reason)."""

    text: str
    functions: dict[str, int] = field(default_factory=dict)
    skipped: Counter[str] = field(default_factory=Counter)

    @property
    def cases(self) -> int:
        """All cases written."""
        return sum(self.functions.values())

    def to_dict(self) -> dict[str, Any]:
        """The ``gen-tests --json`` summary."""
        return {"functions": self.functions, "cases": self.cases, "skipped": dict(sorted(self.skipped.items()))}


_HEADER = '''"""Regression tests from real inputs, written by `codewitness gen-tests` -- regenerate, do not edit.

Each case is an input captured from real use (or added by a person) and the outcome it must have:
pinned in a baseline ({sources}), or the expectation a reviewer corrected. Outcomes must be equal and
of the same type all the way down: 2 is not 2.0, Decimal('2.50') is not Decimal('2.5'), a naive
datetime is not an aware one.

    {command}
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import importlib
import inspect
import math
import re
from decimal import Decimal as _Decimal

import pytest
{imports}

_FLOAT_REL = {rel!r}
_FLOAT_ABS = {abs!r}
_LOOSE_NUMBERS = {loose!r}
_IGNORED_PATHS = [{paths}]
_IGNORED_KEYS = [{keys}]


def _rebuild(cls, **fields):
    """An instance of ``cls`` with these fields, made without running ``__init__``, as it was recorded."""
    obj = cls.__new__(cls)
    for name, value in fields.items():
        object.__setattr__(obj, name, value)
    return obj


def _function(name):
    """The function ``module.qualname`` names (the longest importable module prefix)."""
    parts = name.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            found = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError as exc:
            if exc.name is not None and not ".".join(parts[:cut]).startswith(exc.name):
                raise
            continue
        for part in parts[cut:]:
            found = inspect.getattr_static(found, part) if isinstance(found, type) else getattr(found, part)
        return found.__func__ if isinstance(found, (staticmethod, classmethod)) else found
    raise ModuleNotFoundError(f"no module in {{name!r}}")


def _call(function, arguments):
    """Call ``function`` with the recorded arguments by name (positional where the signature needs it)."""
    args, kwargs, positional = [], {{}}, True
    for name, parameter in inspect.signature(function).parameters.items():
        if name not in arguments:
            if parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD):
                positional = False  # later ones go by name: this one takes its default
            continue
        value = arguments[name]
        if parameter.kind is parameter.VAR_POSITIONAL:
            args.extend(value)
        elif parameter.kind is parameter.VAR_KEYWORD:
            kwargs.update(value)
        elif parameter.kind is parameter.KEYWORD_ONLY or not positional:
            kwargs[name] = value
        else:
            args.append(value)
    return function(*args, **kwargs)


def _ignored(path, key):
    return any(re.search(k, key) for k in _IGNORED_KEYS if key is not None) or any(
        re.fullmatch(p, path) for p in _IGNORED_PATHS
    )


def _number(value):
    return not isinstance(value, bool) and isinstance(value, (int, float, _Decimal))


def _same(got, want, path="result"):
    """Assert ``got`` equals ``want`` and has its type, all the way down (see the module docstring)."""
    if _LOOSE_NUMBERS and _number(got) and _number(want):
        close = math.isclose(float(got), float(want), rel_tol=_FLOAT_REL, abs_tol=_FLOAT_ABS)
        assert close, f"{{path}}: {{got!r}} != {{want!r}}"
        return
    kinds = f"{{type(got).__name__}} is not {{type(want).__name__}}"
    assert type(got) is type(want), f"{{path}}: {{got!r}} is not {{want!r}} ({{kinds}})"
    if isinstance(want, float):
        assert (math.isnan(got) and math.isnan(want)) or got == want or math.isclose(
            got, want, rel_tol=_FLOAT_REL, abs_tol=_FLOAT_ABS
        ), f"{{path}}: {{got!r}} != {{want!r}}"
    elif isinstance(want, _Decimal):
        assert str(got) == str(want), f"{{path}}: {{got!r}} != {{want!r}}"
    elif isinstance(want, (_dt.datetime, _dt.time)):
        assert got == want and got.tzinfo == want.tzinfo and got.fold == want.fold, f"{{path}}: {{got!r}} != {{want!r}}"
    elif isinstance(want, (list, tuple)) and not hasattr(want, "_fields"):
        assert len(got) == len(want), f"{{path}}: {{len(got)}} items, not {{len(want)}}"
        for i, (a, b) in enumerate(zip(got, want)):
            if not _ignored(f"{{path}}[{{i}}]", None):
                _same(a, b, f"{{path}}[{{i}}]")
    elif isinstance(want, dict):
        keys = sorted(map(repr, got)), sorted(map(repr, want))
        assert keys[0] == keys[1], f"{{path}}: keys {{keys[0]}} != {{keys[1]}}"
        for key, value in want.items():
            ident = isinstance(key, str) and key.isascii() and key.isidentifier()
            where = f"{{path}}.{{key}}" if ident else f"{{path}}[{{key!r}}]"
            if not _ignored(where, key if isinstance(key, str) else None):
                _same(got[key], value, where)
    elif dataclasses.is_dataclass(want) or hasattr(want, "_fields") or (
        hasattr(want, "__dict__") and type(want).__eq__ is object.__eq__ and not isinstance(want, type)
    ):
        fields = (
            [f.name for f in dataclasses.fields(want)] if dataclasses.is_dataclass(want)
            else list(want._fields) if hasattr(want, "_fields") else list(vars(want))
        )
        for name in fields:
            if not _ignored(f"{{path}}.{{name}}", name):
                _same(getattr(got, name), getattr(want, name), f"{{path}}.{{name}}")
    else:
        assert got == want, f"{{path}}: {{got!r}} != {{want!r}}"


def _check(name, arguments, expected):
    function = _function(name)
    if expected[0] == "raises":
        with pytest.raises(BaseException) as caught:
            _call(function, arguments)
        got = f"{{type(caught.value).__module__}}.{{type(caught.value).__qualname__}}"
        if not _ignored("raised.type", "type"):
            assert got == expected[1], f"raised {{got}}, not {{expected[1]}}"
        if not _ignored("raised.message", "message"):
            assert str(caught.value) == expected[2], f"message {{str(caught.value)!r}}, not {{expected[2]!r}}"
    else:
        result = _call(function, arguments)
        if not _ignored("result", None):
            _same(result, expected[1])
'''


def _test_name(function: str, taken: set[str]) -> str:
    base = "test_" + re.sub(r"\W+", "_", function).strip("_")
    name, n = base, 2
    while name in taken:
        name, n = f"{base}_{n}", n + 1
    taken.add(name)
    return name


def _expected(outcome: dict[str, Any], imports: Imports) -> str:
    if "ok" in outcome:
        return f'("returns", {to_source(outcome["ok"], imports)})'
    if "raised" in outcome:
        raised = outcome["raised"]
        return f'("raises", {raised.get("type")!r}, {raised.get("message", "")!r})'
    raise ValueError("an outcome that is neither a return nor a raise")


def generate(
    store: Store,
    functions: Sequence[str],
    *,
    settings: BehaviorSection,
    baselines: Sequence[str] = (),
    command: str = "codewitness gen-tests",
) -> Generated:
    """The test file for ``functions`` (all with cases when empty), from ``baselines`` (all when empty)
    and the corpus's corrected expectations.

    Raises:
        NotFoundError: a named baseline does not exist.
        InputError: there is no case to write (the message says where cases come from).
    """
    from codewitness.behavior.replay import normalise
    from codewitness.store.behavior import baseline_cases
    from codewitness.store.behavior import baselines as all_baselines
    from codewitness.store.corpus import corpus_entries

    known = {b["name"]: b for b in all_baselines(store)}
    for name in baselines:
        if name not in known:
            raise NotFoundError(f"no baseline {name!r}; `codewitness baseline list` shows them")
    chosen = list(baselines) or sorted(known, key=lambda n: known[n]["created_at"])
    wanted = {normalise(f) for f in functions} or None
    cases: dict[str, dict[str, tuple[str, dict[str, Any], dict[str, Any]]]] = {}
    for name in chosen:  # oldest first: a newer baseline's outcome replaces an older one's
        for case in baseline_cases(store, name, sorted(wanted) if wanted else None):
            label = f"{name}-{case['input_hash'][:8]}"
            cases.setdefault(case["function"], {})[case["input_hash"]] = (label, case["input"], case["outcome"])
    for entry in corpus_entries(store, functions=sorted(wanted) if wanted else None, replayable=True):
        if entry.expect is not None and entry.input is not None:
            label = f"{entry.expect_source or 'expected'}-{entry.input_hash[:8]}"
            cases.setdefault(entry.function, {})[entry.input_hash] = (label, entry.input, entry.expect)
    if not cases:
        raise InputError(
            "no cases to write: pin a baseline (`codewitness baseline pin NAME`), mark review items wrong with"
            " --expect-json, or `corpus add --expect-json`"
        )
    imports = Imports()
    result = Generated(text="")
    blocks: list[str] = []
    taken: set[str] = set()
    for function in sorted(cases):
        params: list[str] = []
        for label, encoded, outcome in cases[function].values():
            try:
                arguments = "{" + ", ".join(f"{k!r}: {to_source(v, imports)}" for k, v in encoded.items()) + "}"
                expected = _expected(outcome, imports)
            except (ValueError, KeyError, TypeError) as exc:
                result.skipped[f"{function}: {exc}"] += 1
                continue
            params.append(f"    pytest.param({arguments}, {expected}, id={label!r}),")
        if not params:
            continue
        test = _test_name(function, taken)
        constant = test.upper().replace("TEST_", "CASES_", 1)
        blocks.append(
            f"{constant} = [\n" + "\n".join(params) + "\n]\n\n\n"
            f'@pytest.mark.parametrize(("arguments", "expected"), {constant})\n'
            f"def {test}(arguments, expected):\n"
            f"    _check({function!r}, arguments, expected)\n"
        )
        result.functions[function] = len(params)
    rules_paths = ", ".join(repr(_path_pattern(p).pattern) for p in settings.ignore)
    header = _HEADER.format(
        sources=", ".join(chosen) or "none",
        command=command,
        imports="\n".join(imports.lines()),
        rel=settings.float_rel,
        abs=settings.float_abs,
        loose=settings.numbers == "loose",
        paths=rules_paths,
        keys=", ".join(repr(k) for k in settings.ignore_keys),
    )
    result.text = header + "\n\n" + "\n\n".join(blocks)
    return result
