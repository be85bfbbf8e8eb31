"""Loading ``[[invariants]]`` rules: a rule that cannot compile is one line and skipped, never an exception."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import GitRepo

import codewitness
import codewitness.sensor
from codewitness import invariants
from codewitness.config import InvariantRule
from codewitness.model import Manifest, ManifestFunction

DEEP = "-" * 1999 + "1"  # RecursionError out of compile() before the fix
WIDE = "1+" * 999 + "1"


@pytest.mark.parametrize(
    "text",
    [DEEP, WIDE, "result >", "x\x00", "__import__('os')", "sorted(xs, key=xs.pop)", "x" * 5000, "f'{x}'"],
)
def test_a_rule_that_cannot_compile_is_a_one_line_problem(text: str) -> None:
    good, problems = invariants.compile_config_rules(
        [InvariantRule(function="shop:total", ensure=text), InvariantRule(function="shop:total", ensure="result >= 0")]
    )
    assert [r.rule.text for r in good] == ["result >= 0"]
    assert len(problems) == 1
    assert problems[0].startswith("invariants[0] (shop:total): ")
    assert "\n" not in problems[0] and len(problems[0]) < 400


def test_entries_of_any_shape_are_problems_not_exceptions() -> None:
    entries = [
        InvariantRule(function="", ensure="result > 0"),
        InvariantRule(function="m:f", ensure="result > 0", require="x > 0"),
        InvariantRule(function="m:f", require="result > 0"),
        InvariantRule(function="m:f", ensure="result > 0", mode="loud"),
        InvariantRule(function="m:f", ensure=7),  # type: ignore[arg-type]
        InvariantRule(function=None, ensure="x"),  # type: ignore[arg-type]
    ]
    good, problems = invariants.compile_config_rules(entries)
    assert good == []
    assert len(problems) == len(entries)
    assert all("\n" not in p for p in problems)


@pytest.fixture
def service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, str]]:
    """A project folder whose module ``svc_<id>`` has ``total(items)``; the sensor shut down after."""
    name = f"svc_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(
        textwrap.dedent(
            """
            def total(items):
                return sum(items)
            """
        )
    )
    (tmp_path / ".git").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    before = invariants.default_mode()
    invariants.set_default_mode("record")
    try:
        yield tmp_path, name
    finally:
        codewitness.sensor.shutdown()
        invariants.set_default_mode(before)
        sys.modules.pop(name, None)


def test_init_logs_and_skips_a_rule_that_cannot_compile(
    service: tuple[Path, str], caplog: pytest.LogCaptureFixture
) -> None:
    """The review: a very deep expression made ``codewitness.init()`` raise RecursionError into the service."""
    root, name = service
    (root / "codewitness.toml").write_text(
        '[sensor]\nspool_dir = ""\ninterval = 3600\n'
        f'[[invariants]]\nfunction = "{name}:total"\nensure = "{DEEP}"\nname = "deep"\n'
        f'[[invariants]]\nfunction = "{name}:total"\nensure = "{WIDE}"\nname = "wide"\n'
        f'[[invariants]]\nfunction = "{name}:total"\nensure = "result == sum(items)"\nname = "sums"\n'
    )
    manifest = Manifest(revision="r1", functions=(ManifestFunction(name, "total", f"{name}.py", 1, 3, 1.0),))
    with caplog.at_level(logging.ERROR, logger="codewitness"):
        sensor = codewitness.init(service="svc", manifest=manifest)
    assert sensor is not None
    module = __import__(name)
    assert module.total([1, 2]) == 3
    skipped = [r.getMessage() for r in caplog.records if "invariant skipped" in r.getMessage()]
    assert len(skipped) == 2 and all("\n" not in m for m in skipped)
    assert {s.rule.name: s.passed for s in invariants.stats() if s.rule.function == f"{name}.total"} == {"sums": 1}


def test_a_rule_that_refuses_a_value_at_run_time_is_a_rule_error_not_a_breach(service: tuple[Path, str]) -> None:
    root, name = service
    (root / "codewitness.toml").write_text(
        '[sensor]\nspool_dir = ""\ninterval = 3600\n'
        f'[[invariants]]\nfunction = "{name}:total"\nensure = "sorted(items) == items"\nname = "ordered"\n'
        f'[[invariants]]\nfunction = "{name}:total"\nensure = "result"\nname = "truthy"\n'
    )
    manifest = Manifest(revision="r1", functions=(ManifestFunction(name, "total", f"{name}.py", 1, 3, 1.0),))
    assert codewitness.init(service="svc", manifest=manifest) is not None
    module = __import__(name)
    ran: list[str] = []

    class Amount:
        def __init__(self, n: int) -> None:
            self.n = n

        def __lt__(self, other: Amount) -> bool:
            ran.append("__lt__")
            return True

        def __add__(self, other: object) -> Amount:
            return self

        __radd__ = __add__

        def __bool__(self) -> bool:
            ran.append("__bool__")
            return True

    assert isinstance(module.total([Amount(1), Amount(2)]), Amount)
    counts = {
        s.rule.name: (s.passed, s.breached, s.errors) for s in invariants.stats() if s.rule.function == f"{name}.total"
    }
    assert counts == {"ordered": (0, 0, 1), "truthy": (0, 0, 1)}
    assert ran == []


def test_under_pytest_a_rule_that_cannot_compile_is_skipped_and_the_others_apply(
    git_repo: GitRepo, tmp_path: Path
) -> None:
    """--codewitness-record starts codewitness.init() in the test session: a deep rule made it raise
    (the session ran with no rule at all); now it is skipped and the other rules break tests."""
    git_repo.write("calc.py", "def total(items):\n    return sum(items)\n")
    git_repo.write("test_calc.py", "from calc import total\n\n\ndef test_total():\n    assert total([1, 2]) == 3\n")
    git_repo.write(
        "codewitness.toml",
        f'[[invariants]]\nfunction = "calc:total"\nensure = "{DEEP}"\nname = "deep"\n'
        '[[invariants]]\nfunction = "calc:total"\nensure = "result > 100"\nname = "big"\n',
    )
    manifest = Manifest(revision="r1", functions=(ManifestFunction("calc", "total", "calc.py", 1, 2, 1.0),))
    git_repo.write(".codewitness/manifest.json", manifest.to_json())
    git_repo.commit("calc")
    env = {
        **os.environ,
        "GIT_CEILING_DIRECTORIES": str(tmp_path),
        "CODEWITNESS_DB": f"sqlite:///{tmp_path / 'witness.db'}",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    env.pop("PYTEST_ADDOPTS", None)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--codewitness-record", "-rf"],
        cwd=git_repo.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = proc.stdout + proc.stderr
    assert "recording not started" not in output, output
    assert proc.returncode == 1, output
    assert "invariant 'big' broken" in output, output
