"""Wrappers keep the wrapped function's calling convention exactly (3.11 backend, also run on 3.12)."""

from __future__ import annotations

import importlib
import inspect
from typing import Any

import pytest

SIGNATURES = '''
def plain(a, b):
    return (a, b)

def defaults(a, b=2, c=None):
    return (a, b, c)

def posonly(a, b=5, /, c=6):
    return (a, b, c)

def kwonly(a, *, key, flag=False):
    return (a, key, flag)

def star(a, *rest, **extra):
    return (a, rest, extra)

def star_kwonly(*rest, last="z", **extra):
    return (rest, last, extra)

def nothing():
    return "nothing"

def mutable_default(item, bucket=[]):
    bucket.append(item)
    return list(bucket)
'''

CALLS: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
    ("plain", (1, 2), {}),
    ("plain", (1,), {"b": 3}),
    ("plain", (), {"a": 1, "b": 2}),
    ("defaults", (1,), {}),
    ("defaults", (1, 9), {"c": 7}),
    ("posonly", (1,), {}),
    ("posonly", (1, 2), {"c": 3}),
    ("kwonly", (1,), {"key": "k"}),
    ("kwonly", (1,), {"key": "k", "flag": True}),
    ("star", (1, 2, 3), {"x": 4}),
    ("star", (), {"a": 1}),
    ("star_kwonly", (1, 2), {"last": "q", "other": 1}),
    ("nothing", (), {}),
    ("mutable_default", (1,), {}),
    ("mutable_default", (2,), {}),
]

BAD_CALLS: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
    ("plain", (1,), {}),
    ("plain", (1, 2, 3), {}),
    ("posonly", (), {"a": 1}),
    ("kwonly", (1,), {}),
    ("nothing", (1,), {}),
    ("defaults", (1,), {"zzz": 1}),
]


def outcomes(module: Any) -> list[Any]:
    results: list[Any] = []
    for name, args, kwargs in CALLS:
        results.append(getattr(module, name)(*args, **kwargs))
    for name, args, kwargs in BAD_CALLS:
        with pytest.raises(TypeError):
            getattr(module, name)(*args, **kwargs)
    return results


def test_wrapped_functions_behave_like_the_originals(start: Any, app: Any, memory: Any) -> None:
    plain_mod = importlib.import_module(app.write("sigs_plain", SIGNATURES))
    expected = outcomes(plain_mod)
    name = app.write("sigs", SIGNATURES)
    sensor = start(app, memory, "wrapping", manifest=app.manifest(()), include=[f"{name}.*"])
    module = importlib.import_module(name)
    assert all(hasattr(getattr(module, n), "__codewitness_probe__") for n, _, _ in CALLS)
    assert outcomes(module) == expected
    for fn_name in ("posonly", "kwonly", "star_kwonly"):
        assert inspect.signature(getattr(module, fn_name)) == inspect.signature(getattr(plain_mod, fn_name))
    sensor.flush()
    assert memory.calls(f"{name}.plain") == 3  # failed binds never reach the function body
    assert memory.calls(f"{name}.mutable_default") == 2


def test_slow_path_names_every_argument(start: Any, app: Any, memory: Any) -> None:
    name = app.write("sigs", SIGNATURES)
    sensor = start(app, memory, "wrapping", manifest=app.manifest(()), include=[f"{name}.*"])
    seen: list[dict[str, Any]] = []
    sensor.add_check(f"{name}.star_kwonly", lambda args, result: seen.append(dict(args)))
    sensor.add_check(f"{name}.posonly", lambda args, result: seen.append(dict(args)))
    module = importlib.import_module(name)
    assert module.star_kwonly(1, 2, last="q", other=1) == ((1, 2), "q", {"other": 1})
    assert module.posonly(1) == (1, 5, 6)
    assert seen == [{"rest": (1, 2), "last": "q", "extra": {"other": 1}}, {"a": 1, "b": 5, "c": 6}]
