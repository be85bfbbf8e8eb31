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


# -- [[tool.codewitness.invariants]] rules from the configuration -----------------------------------

SHOP = """\
def discount(price, rate):
    cut = price * rate
    return price + cut


def unit_price(total, count):
    return total / count
"""
SHOP_TESTS = """\
from shop import discount, unit_price


def test_discount():
    assert discount(100, 0.1) == 110.0


def test_unit_price():
    assert unit_price(10, 4) == 2.5
"""


def _configured(tmp_path: Path, rules: str) -> Path:
    project = tmp_path / "proj"
    write(project / "shop.py", SHOP)
    write(project / "test_shop.py", SHOP_TESTS)
    write(project / "pyproject.toml", rules)
    return project


BREAKING = """\
[[tool.codewitness.invariants]]
function = "shop:discount"
ensure = "result <= price"
name = "discount_not_above_price"
"""
HOLDING = """\
[[tool.codewitness.invariants]]
function = "shop:unit_price"
ensure = "result * count == total"
name = "unit_price_adds_up"
"""


def test_a_breaking_config_rule_fails_the_test_and_names_the_rule(tmp_path: Path, run_pytest: RunPytest) -> None:
    proc = run_pytest(_configured(tmp_path, BREAKING + HOLDING), "-rf")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "1 failed, 1 passed" in proc.stdout
    assert "FAILED test_shop.py::test_discount" in proc.stdout
    violation = next(line for line in proc.stdout.splitlines() if "InvariantViolation:" in line)
    assert "discount_not_above_price" in violation and "shop.discount(price=100, rate=0.1)" in violation
    assert "codewitness:" not in proc.stdout  # nothing went wrong of ours


def test_a_holding_config_rule_lets_the_tests_pass(tmp_path: Path, run_pytest: RunPytest) -> None:
    proc = run_pytest(_configured(tmp_path, HOLDING))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 passed" in proc.stdout and "codewitness:" not in proc.stdout


def test_a_config_rule_in_record_mode_counts_instead_of_failing(tmp_path: Path, run_pytest: RunPytest) -> None:
    proc = run_pytest(_configured(tmp_path, BREAKING + 'mode = "record"\n'))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = run_pytest(_configured(tmp_path / "again", BREAKING), "--codewitness-invariants=record")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_rule_that_fails_to_load_is_one_line_and_the_others_still_apply(
    tmp_path: Path, run_pytest: RunPytest
) -> None:
    broken = """\
[[tool.codewitness.invariants]]
function = "shop:unit_price"
ensure = "__import__('os').getcwd() == total"
"""
    proc = run_pytest(_configured(tmp_path, broken + BREAKING), "-rf")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "1 failed, 1 passed" in proc.stdout  # the good rule still fails its test
    (line,) = [x for x in proc.stdout.splitlines() if x.startswith("codewitness:")]
    assert line.startswith("codewitness: invariant skipped: invariants[0] (shop:unit_price):")
    assert "Traceback" not in proc.stdout + proc.stderr


def test_a_rule_that_breaks_the_compiler_is_one_line_not_a_crashed_session(
    tmp_path: Path, run_pytest: RunPytest
) -> None:
    deep = f"""\
[[tool.codewitness.invariants]]
function = "shop:discount"
ensure = "{'-' * 1990}1"
"""
    proc = run_pytest(_configured(tmp_path, deep + HOLDING))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 passed" in proc.stdout
    (line,) = [x for x in proc.stdout.splitlines() if x.startswith("codewitness:")]
    assert "invariant" in line and len(line) < 400
    assert "Traceback" not in proc.stdout + proc.stderr
