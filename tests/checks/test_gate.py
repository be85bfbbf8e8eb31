"""The merge gate as one stage (checks/gate.py) and its report view, without the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codewitness.checks.gate import run_gate
from codewitness.errors import UsageError
from codewitness.views.gate import gate_json, gate_summary
from tests.conftest import GitRepo


@pytest.fixture
def project(git_repo: GitRepo, monkeypatch: pytest.MonkeyPatch) -> Path:
    git_repo.write("good.py", "import json\n\nprint(json.dumps({}))\n")
    git_repo.write("bad.py", "import json\n\njson.parse('{}')\n")
    git_repo.commit("two files")
    monkeypatch.chdir(git_repo.root)
    return git_repo.root


def test_a_run_fails_on_a_finding_and_its_view_says_why(project: Path) -> None:
    run = run_gate(None, families=("apis",), base=None, fail_on=None, baseline=None, write_baseline=None, offline=True)
    assert run.failed and run.threshold == "high"  # check.fail_on by default
    data = gate_json(run)
    assert [(f["rule"], f["path"], f["line"]) for f in data["findings"]] == [("CW201", "bad.py", 3)]
    assert list(data) == [
        "findings", "counts", "baselined", "skipped", "files", "in_tests", "undecided", "seconds", "base", "packages"
    ]
    assert data["counts"] == {"high": 1} and data["files"] == 2
    json.dumps(data)
    summary = gate_summary(run)
    assert summary.counts == (("high", 1),) and summary.not_checked == 0 and summary.baselined == 0


def test_a_written_baseline_accepts_the_findings(project: Path, tmp_path: Path) -> None:
    accepted = tmp_path / "baseline.json"
    run = run_gate(
        None, families=("apis",), base=None, fail_on=None, baseline=None, write_baseline=accepted, offline=True
    )
    assert not run.failed and run.baseline_written == accepted and accepted.is_file()
    again = run_gate(
        None, families=("apis",), base=None, fail_on=None, baseline=accepted, write_baseline=None, offline=True
    )
    assert not again.failed and gate_summary(again).baselined == 1 and gate_json(again)["findings"] == []


def test_never_never_fails_and_a_bad_level_is_refused(project: Path) -> None:
    assert not run_gate(
        None, families=("apis",), base=None, fail_on="never", baseline=None, write_baseline=None, offline=True
    ).failed
    with pytest.raises(UsageError, match="--fail-on must be one of"):
        run_gate(
            None, families=("apis",), base=None, fail_on="critical", baseline=None, write_baseline=None, offline=True
        )


#: What a warm run has no use for: each costs milliseconds to import (the HTTP client, threads and processes, the
#: distributions' metadata, the edit-distance library, typeshed's package), and together they were a fifth of it.
_NOT_WARM = (
    "concurrent.futures",
    "importlib.metadata",
    "multiprocessing",
    "rapidfuzz",
    "typeshed_client",
    "urllib.request",
)


def test_a_warm_run_loads_nothing_it_has_no_use_for(git_repo: GitRepo, index_server: object) -> None:
    """A second ``codewitness check`` on an unchanged project answers from its caches: it imports no HTTP client,
    no thread or process pool, reads no distribution's metadata and loads no edit-distance library."""
    import os
    import subprocess
    import sys

    git_repo.write("pyproject.toml", '[project]\nname = "demo"\ndependencies = ["requests>=2", "reqeusts"]\n')
    git_repo.write("app.py", "import requests\nimport json\n\njson.parse('{}')\nrequests.no_such_call()\n")
    git_repo.commit("a project")
    env = {
        **os.environ,
        "CODEWITNESS_CHECK_INDEX_URL": f"{index_server.url}/simple",  # type: ignore[attr-defined]
        "NO_COLOR": "1",
    }
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    probe = (
        "import sys\nfrom codewitness.cli import main\ncode = main(['check', '--json'])\n"
        f"print(sorted(m for m in {_NOT_WARM!r} if m in sys.modules), code, file=sys.stderr)\n"
    )
    runs = [
        subprocess.run(
            [sys.executable, "-c", probe], cwd=git_repo.root, env=env, capture_output=True, text=True, check=False
        )
        for _ in range(2)
    ]
    cold, warm = (json.loads(r.stdout) for r in runs)
    assert {f["rule"] for f in cold["findings"]} >= {"CW105", "CW201"}  # the run had work to do
    assert [f["fingerprint"] for f in warm["findings"]] == [f["fingerprint"] for f in cold["findings"]]
    assert "urllib.request" in runs[0].stderr  # the first run asked the index
    assert runs[1].stderr.strip().splitlines()[-1] == "[] 1"
