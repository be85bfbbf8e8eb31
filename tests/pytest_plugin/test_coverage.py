"""AI-code coverage: coverage.py data of the run joined with the attribution of HEAD."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from codewitness.attribution.aicoverage import map_lines
from tests.conftest import GitRepo
from tests.pytest_plugin.conftest import RunPytest, write

EXPECTED = {
    "ai": {"statements": 4, "covered": 3, "percent": 75.0},
    "human": {"statements": 4, "covered": 3, "percent": 75.0},
    "mixed": {"statements": 2, "covered": 1, "percent": 50.0},
    "unknown": {"statements": 0, "covered": 0, "percent": None},
    "uncommitted": {"statements": 0, "covered": 0, "percent": None},
}


def _table_row(output: str, name: str) -> list[str]:
    return next(line.split() for line in output.splitlines() if line.startswith(name + " "))


def test_pytest_cov_run_reports_ai_and_human_coverage_apart(calc_repo: GitRepo, run_pytest: RunPytest) -> None:
    out = tmp_json = calc_repo.root.parent / "ai.json"
    proc = run_pytest(calc_repo.root, "--cov=calc", "--cov-report=", "--codewitness-json", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "AI coverage (pytest-cov; attribution of" in proc.stdout
    # file, AI lines, AI cov, human lines, human cov, mixed, mixed cov
    assert _table_row(proc.stdout, "calc.py") == ["calc.py", "4", "75.0%", "4", "75.0%", "2", "50.0%"]
    assert _table_row(proc.stdout, "TOTAL") == ["TOTAL", "4", "75.0%", "4", "75.0%", "2", "50.0%"]
    document = json.loads(tmp_json.read_text())
    assert document["schema"] == "codewitness-ai-coverage/1"
    assert document["revision"] == calc_repo.git("rev-parse", "HEAD").strip()
    assert document["total"] == EXPECTED
    # The test file is measured too (--cov=calc only measures calc): one file.
    assert [f["path"] for f in document["files"]] == ["calc.py"]


def test_lines_changed_since_head_count_as_uncommitted(calc_repo: GitRepo, run_pytest: RunPytest) -> None:
    source = (calc_repo.root / "calc.py").read_text()
    # A new statement at the top shifts every line; the diff keeps the committed ones attributed.
    (calc_repo.root / "calc.py").write_text("LIMIT = 3\n" + source.replace("    return a * 2\n", "    return a * 3\n"))
    out = calc_repo.root.parent / "ai.json"
    proc = run_pytest(calc_repo.root, "--cov=calc", "--cov-report=", "--codewitness-json", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    total = json.loads(out.read_text())["total"]
    assert total["ai"] == EXPECTED["ai"]
    assert total["mixed"] == EXPECTED["mixed"]
    # human_unused's body changed (uncommitted, not run); LIMIT = 3 is new (uncommitted, run).
    assert total["human"] == {"statements": 3, "covered": 3, "percent": 100.0}
    assert total["uncommitted"] == {"statements": 2, "covered": 1, "percent": 50.0}
    assert "2 statement(s) changed since the commit, 1 of them covered" in proc.stdout


def test_coverage_run_and_an_existing_data_file_are_read(calc_repo: GitRepo, run_pytest: RunPytest) -> None:
    out = calc_repo.root.parent / "ai.json"
    runner = ("-m", "coverage", "run", "--include=calc.py", "-m")
    proc = run_pytest(calc_repo.root, "--codewitness-json", str(out), runner=runner)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "AI coverage (coverage run;" in proc.stdout
    assert json.loads(out.read_text())["total"] == EXPECTED
    # The data file that run left behind is read by a later run without coverage.
    out.unlink()
    proc = run_pytest(calc_repo.root, "--codewitness-coverage", "--codewitness-json", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "coverage data file .coverage, which may predate this run" in proc.stdout
    assert json.loads(out.read_text())["total"] == EXPECTED


def test_whole_commit_trailer_makes_its_lines_ai(git_repo: GitRepo, run_pytest: RunPytest) -> None:
    git_repo.write("calc.py", "def human_add(a, b):\n    return a + b\n")
    git_repo.commit("human part")
    git_repo.write("calc.py", "def human_add(a, b):\n    return a + b\n\n\ndef ai_double(a):\n    return a * 2\n")
    git_repo.commit("add ai_double\n\nCo-authored-by: Claude <noreply@anthropic.com>")
    git_repo.write("test_calc.py", "from calc import human_add\n\n\ndef test_add():\n    assert human_add(1, 2) == 3\n")
    git_repo.commit("tests")
    out = git_repo.root.parent / "ai.json"
    proc = run_pytest(git_repo.root, "--cov=calc", "--cov-report=", "--codewitness-json", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    total = json.loads(out.read_text())["total"]
    assert total["ai"] == {"statements": 2, "covered": 1, "percent": 50.0}
    assert total["human"] == {"statements": 2, "covered": 2, "percent": 100.0}


def test_without_git_one_line_and_the_run_passes(tmp_path: Path, run_pytest: RunPytest) -> None:
    project = tmp_path / "plain"
    write(project / "calc.py", "def add(a, b):\n    return a + b\n")
    write(project / "test_calc.py", "from calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n")
    out = tmp_path / "ai.json"
    proc = run_pytest(project, "--cov=calc", "--cov-report=", "--codewitness-json", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed" in proc.stdout
    lines = [line for line in proc.stdout.splitlines() if line.startswith("codewitness: ")]
    assert len(lines) == 1, proc.stdout
    assert lines[0].startswith("codewitness: AI coverage not reported:")
    assert lines[0] == (
        f"codewitness: AI coverage not reported: {project.resolve()} is not inside a git repository "
        "(run `git init` first)"
    )
    assert not out.exists()


def test_without_coverage_data_or_attribution_it_says_so(git_repo: GitRepo, run_pytest: RunPytest) -> None:
    git_repo.write("calc.py", "def add(a, b):\n    return a + b\n")
    git_repo.write("test_calc.py", "from calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n")
    git_repo.commit("all by a person")
    proc = run_pytest(git_repo.root, "--codewitness-coverage")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "codewitness: AI coverage: no coverage data" in proc.stdout
    proc = run_pytest(git_repo.root, "--cov=calc", "--cov-report=", "--codewitness-coverage")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "codewitness: AI coverage: no AI-written statements among the 1 measured file(s)" in proc.stdout
    assert "AI lines" not in proc.stdout


def test_nothing_is_reported_unless_asked(calc_repo: GitRepo, run_pytest: RunPytest) -> None:
    proc = run_pytest(calc_repo.root, "--cov=calc", "--cov-report=")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "codewitness" not in proc.stdout
    # ...and the ini setting asks as the option does.
    (calc_repo.root / "pytest.ini").write_text("[pytest]\ncodewitness_coverage = true\n")
    proc = run_pytest(calc_repo.root, "--cov=calc", "--cov-report=")
    assert _table_row(proc.stdout, "TOTAL") == ["TOTAL", "4", "75.0%", "4", "75.0%", "2", "50.0%"]


@given(
    st.lists(st.sampled_from(["a", "b", "c", "d", ""]), max_size=30),
    st.lists(st.tuples(st.integers(0, 30), st.sampled_from(["x", "a", "y"])), max_size=8),
    st.sets(st.integers(0, 30), max_size=5),
)
def test_map_lines_maps_only_equal_lines_in_order(
    old: list[str], inserts: list[tuple[int, str]], drops: set[int]
) -> None:
    new = [line for i, line in enumerate(old) if i not in drops]
    for position, text in inserts:
        new.insert(min(position, len(new)), text)
    mapping = map_lines(old, new)
    pairs = sorted(mapping.items())
    assert all(new[n - 1] == old[o - 1] for n, o in pairs)
    assert [o for _, o in pairs] == sorted(o for _, o in pairs)
    assert len(set(mapping.values())) == len(mapping)
    if not inserts and not drops:
        assert mapping == {n: n for n in range(1, len(old) + 1)}


def test_map_lines_follows_an_insertion_and_leaves_changed_lines_out() -> None:
    old = ["def f():", "    return 1", "", "def g():", "    return 2"]
    new = ["X = 1", "def f():", "    return 1", "", "def g():", "    return 3"]
    assert map_lines(old, new) == {2: 1, 3: 2, 4: 3, 5: 4}
