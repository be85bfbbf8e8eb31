"""The runner's background work: attribution of the per-file findings while the dependency family runs.

The same lines are attributed, with the same answers, as when the report asks for them afterwards; a failure in
the background surfaces from the run itself.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from codewitness.checks.attribution import Attribution
from codewitness.checks.gate import run_gate
from codewitness.views.gate import gate_json
from tests.conftest import GitRepo


@pytest.fixture
def project(git_repo: GitRepo, monkeypatch: pytest.MonkeyPatch) -> Path:
    git_repo.write("app.py", "import subprocess\n\n\ndef run(cmd):\n    return subprocess.call(cmd, shell=True)\n")
    git_repo.write(
        "tests/test_app.py",
        "import subprocess\n\n\ndef test_run():\n    assert subprocess.call('true', shell=True) == 0\n",
    )
    git_repo.write("quiet.py", "import subprocess\n\nsubprocess.call('ls', shell=True)  # codewitness: ignore\n")
    git_repo.commit("three files")
    monkeypatch.chdir(git_repo.root)
    return git_repo.root


def _gate() -> dict[str, object]:
    run = run_gate(
        None, families=("deps", "security"), base=None, fail_on=None, baseline=None, write_baseline=None, offline=True
    )
    report = dict(gate_json(run))
    report.pop("seconds")
    return report


def test_the_background_attributes_only_the_lines_the_report_asks_about(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[list[tuple[str, int]]] = []
    prefetch = Attribution.prefetch

    def spy(self: Attribution, lines: object) -> None:
        batch = list(lines)  # type: ignore[call-overload]
        asked.append(batch)
        prefetch(self, batch)

    monkeypatch.setattr(Attribution, "prefetch", spy)
    report = _gate()
    reported = {(f["path"], f["line"]) for f in report["findings"]}  # type: ignore[attr-defined,index]
    assert ("app.py", 5) in reported
    # The first batch is the background's: the reported per-file findings' lines, not the suppressed one's
    # (quiet.py) nor those in test code a default rule skips there.
    assert asked and set(asked[0]) == {line for line in reported if line[0] != "pyproject.toml"}
    assert not any(path in ("quiet.py", "tests/test_app.py") for batch in asked for path, _ in batch)
    monkeypatch.setattr(Attribution, "prefetch", prefetch)
    assert _gate() == report  # the same report when every line is asked afterwards (cache warm or not)


def test_a_failure_in_the_background_is_the_run_s_failure(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: Attribution, lines: object) -> None:
        raise RuntimeError("blame broke")

    monkeypatch.setattr(Attribution, "prefetch", broken)
    with pytest.raises(RuntimeError, match="blame broke"):
        _gate()
