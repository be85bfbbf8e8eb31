"""Every example in a docstring runs (issue 25: doctests were never collected).

Each module whose docstrings hold ``>>>`` examples is one test; examples that need a repository, a
store or a network are marked ``# doctest: +SKIP`` in the docstring itself, so the rest are checked.
They run in an empty temporary folder: an example that writes files leaves nothing in the checkout.
"""

from __future__ import annotations

import doctest
import functools
import importlib
import pkgutil
from pathlib import Path

import pytest

import codewitness

#: Run as programs, never imported: a command-line entry point, and the sensor's interpreter hook.
_NOT_IMPORTED = ("__main__", "_bootstrap")


def _modules_with_examples() -> list[str]:
    found = []
    for info in pkgutil.walk_packages(codewitness.__path__, "codewitness."):
        if any(part in info.name.split(".") for part in _NOT_IMPORTED):
            continue
        spec = importlib.util.find_spec(info.name)
        origin = spec.origin if spec else None
        if origin and origin.endswith(".py") and ">>> " in Path(origin).read_text("utf-8"):
            found.append(info.name)
    return found


MODULES = _modules_with_examples()


def _redactor_with_time() -> dict[str, object]:
    from codewitness.sensor.snapshot import Redactor

    # The example is about what is redacted; a capture's 5 ms budget protects a host and a test
    # machine under heavy load can overrun it (the value then reads "...[capture time limit]").
    return {"Redactor": functools.partial(Redactor, time_budget_ms=60_000)}


#: Names an example sees in place of the module's own, by module.
_EXTRA: dict[str, dict[str, object]] = {"codewitness.sensor.snapshot": _redactor_with_time()}


def test_examples_are_found() -> None:
    assert len(MODULES) >= 60
    assert {"codewitness.config", "codewitness.facts", "codewitness.invariants._expr"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    module = importlib.import_module(name)
    tests = [t for t in doctest.DocTestFinder().find(module, extraglobs=_EXTRA.get(name)) if t.examples]
    assert tests, f"{name} has '>>> ' in its source but no example doctest can find"
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report: list[str] = []
    for test in tests:
        runner.run(test, out=report.append)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, "".join(report)
