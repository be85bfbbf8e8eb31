"""Under pytest, invariant rules without a mode of their own raise; options and ini choose otherwise."""

from __future__ import annotations

from pathlib import Path

from tests.pytest_plugin.conftest import RunPytest, write

PRICING = """\
import codewitness


@codewitness.ensure(lambda result, amount: result <= amount, name="discount_not_above_price")
def discounted(amount, percent):
    return amount - amount * percent / 100


@codewitness.ensure(lambda result: result >= 0, name="lenient_rule", mode="record")
def lenient(x):
    return x
"""
TESTS = """\
from pricing import discounted, lenient


def test_negative_discount_breaks_the_invariant():
    assert discounted(100, -10) == 110


def test_a_rule_with_its_own_mode_keeps_it():
    assert lenient(-1) == -1
"""


def _project(tmp_path: Path) -> Path:
    project = tmp_path / "proj"
    write(project / "pricing.py", PRICING)
    write(project / "test_pricing.py", TESTS)
    return project


def test_a_breach_fails_the_test_with_invariant_violation(tmp_path: Path, run_pytest: RunPytest) -> None:
    proc = run_pytest(_project(tmp_path), "-rf")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "1 failed, 1 passed" in proc.stdout
    assert "FAILED test_pricing.py::test_negative_discount_breaks_the_invariant" in proc.stdout
    violation = next(line for line in proc.stdout.splitlines() if "InvariantViolation:" in line)
    assert "codewitness.errors.InvariantViolation" in violation
    assert "discount_not_above_price" in violation


def test_record_mode_by_option_or_ini_lets_the_test_pass(tmp_path: Path, run_pytest: RunPytest) -> None:
    project = _project(tmp_path)
    proc = run_pytest(project, "--codewitness-invariants=record")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 passed" in proc.stdout
    (project / "pytest.ini").write_text("[pytest]\ncodewitness_invariants = warn\n")
    proc = run_pytest(project, "-W", "ignore")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # The option wins over the ini setting.
    proc = run_pytest(project, "--codewitness-invariants=raise")
    assert proc.returncode == 1


def test_a_bad_ini_mode_is_a_usage_error(tmp_path: Path, run_pytest: RunPytest) -> None:
    project = _project(tmp_path)
    (project / "pytest.ini").write_text("[pytest]\ncodewitness_invariants = loud\n")
    proc = run_pytest(project)
    assert proc.returncode == 4
    assert "codewitness_invariants = 'loud': use one of record, warn, raise" in proc.stderr
