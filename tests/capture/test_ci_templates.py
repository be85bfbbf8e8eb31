"""The CI templates that consolidate notes after a forge merge: their commands exist and do the job.

Each template's consolidating script runs, as the CI runner would run it (bash, its environment
variables set as the forge sets them), in a fresh clone of a simulated forge right after a squash
merge; the notes then reach the forge's origin.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from capture_helpers import Forge, Hooks, git, make_forge

from codewitness.attribution.notes import NOTES_REF

ROOT = Path(__file__).resolve().parents[2]
ACTION = ROOT / "consolidate" / "action.yml"
WORKFLOW = ROOT / "docs" / "ci" / "github-consolidate.yml"
GITLAB = ROOT / "docs" / "ci" / "gitlab-consolidate.yml"


@pytest.fixture
def forge(installed: Any, hooks: Hooks, tmp_path: Path) -> Forge:
    return make_forge(installed, hooks, tmp_path)


def _landed(forge: Forge, tmp_path: Path) -> tuple[Path, str, str]:
    """A squash merge pushed to origin with its forge ref; a CI clone without notes. Returns it, before, after."""
    before = forge.before()
    after = forge.squash("Parse ports (#12)\n")
    forge.push_main()
    git(forge.server, "push", "-q", "origin", "origin/feature:refs/pull/12/head")
    ci = tmp_path / "runner"
    git(tmp_path, "clone", "-q", forge.origin.as_uri(), str(ci))
    return ci, before, after


def _run(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"  # `codewitness` of this test run
    no_identity = {"GIT_CONFIG_GLOBAL": str(cwd / "no-gitconfig"), "GIT_CONFIG_NOSYSTEM": "1", "EMAIL": ""}
    return subprocess.run(
        ["bash", "-e", "-c", script],
        cwd=cwd,
        env={**os.environ, **no_identity, "PATH": path, **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def _options_exist(script: str) -> None:
    used = set(re.findall(r"(--[a-z][a-z-]+)", script)) - {"--quiet"}
    helptext = subprocess.run(
        [sys.executable, "-m", "codewitness", "notes", "consolidate", "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        check=True,
    ).stdout
    assert used and all(option in helptext for option in used), used


def _consolidate_line(lines: list[str]) -> str:
    [line] = [line for line in lines if "codewitness notes consolidate" in line]
    return line


def test_the_github_action_consolidates_and_pushes(forge: Forge, tmp_path: Path) -> None:
    action = yaml.safe_load(ACTION.read_text())
    assert action["runs"]["using"] == "composite"
    [step] = [s for s in action["runs"]["steps"] if "codewitness notes consolidate" in s.get("run", "")]
    _options_exist(step["run"])
    ci, before, after = _landed(forge, tmp_path)
    values = {"before": before, "after": after, "remote": "origin"}
    env = {}
    for name, template in step["env"].items():
        [key] = re.findall(r"\$\{\{ inputs\.([a-z-]+) \}\}", template)
        assert key in action["inputs"]
        env[name] = values[key]
    done = _run(step["run"], ci, env)
    assert done.returncode == 0, done.stderr
    assert "notes pushed to origin" in done.stderr
    assert after in git(forge.origin, "notes", "--ref", NOTES_REF, "list")


def test_the_github_workflow_example(forge: Forge, tmp_path: Path) -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    assert workflow[True]["push"]["branches"] == ["main"]  # YAML reads the key `on` as true
    assert workflow["permissions"]["contents"] == "write"
    steps = workflow["jobs"]["consolidate"]["steps"]
    assert steps[0]["with"]["fetch-depth"] == 0
    [step] = [s for s in steps if "codewitness notes consolidate" in s.get("run", "")]
    _options_exist(step["run"])
    ci, before, after = _landed(forge, tmp_path)
    env = {"CW_BEFORE": before, "CW_AFTER": after}
    assert set(step["env"]) == set(env)
    done = _run(step["run"], ci, env)
    assert done.returncode == 0, done.stderr
    assert after in git(forge.origin, "notes", "--ref", NOTES_REF, "list")


def test_the_gitlab_job(forge: Forge, tmp_path: Path) -> None:
    [job] = yaml.safe_load(GITLAB.read_text()).values()
    assert job["variables"]["GIT_DEPTH"] == "0"
    assert "$CI_DEFAULT_BRANCH" in job["rules"][0]["if"]
    line = _consolidate_line(job["script"])
    _options_exist(line)
    ci, before, after = _landed(forge, tmp_path)
    done = _run(line, ci, {"CI_COMMIT_BEFORE_SHA": before, "CI_COMMIT_SHA": after})
    assert done.returncode == 0, done.stderr
    assert after in git(forge.origin, "notes", "--ref", NOTES_REF, "list")
    # The next pipeline (nothing new landed) changes nothing and still succeeds.
    again = _run(line, ci, {"CI_COMMIT_BEFORE_SHA": after, "CI_COMMIT_SHA": after})
    assert again.returncode == 0, again.stderr


def test_a_push_that_creates_the_branch_names_no_before(forge: Forge, tmp_path: Path) -> None:
    ci, _before, after = _landed(forge, tmp_path)
    [job] = yaml.safe_load(GITLAB.read_text()).values()
    done = _run(_consolidate_line(job["script"]), ci, {"CI_COMMIT_BEFORE_SHA": "0" * 40, "CI_COMMIT_SHA": after})
    assert done.returncode == 0, done.stderr
    assert after in git(forge.origin, "notes", "--ref", NOTES_REF, "list")
