"""The merge gate on proposed text before it is written (the MCP ``check_code`` tool's stage)."""

from __future__ import annotations

from pathlib import Path

import pytest

from codewitness.checks.gate import check_content
from codewitness.errors import InputError
from tests.checks.conftest import IndexServer
from tests.conftest import GitRepo

PROPOSED = """\
import json
import subprocess

import requests
import reqeusts_toolbelt_pro


def fetch(url, cmd):
    subprocess.call(cmd, shell=True)
    return json.parse(requests.get(url).text)
"""


@pytest.fixture
def project(git_repo: GitRepo, index_server: IndexServer) -> Path:
    config = f'[project]\nname = "demo"\n\n[tool.codewitness.check]\nindex_url = "{index_server.simple}"\n'
    git_repo.write("pyproject.toml", config)
    git_repo.write("app/__init__.py", "")
    git_repo.write("app/helpers.py", "def tidy(x):\n    return x\n")
    git_repo.commit("start")
    return git_repo.root


def test_hallucinated_packages_and_apis_and_security_in_text_not_yet_written(project: Path) -> None:
    run = check_content(project, "app/fetch.py", PROPOSED)
    found = {(f.rule_id, f.line) for f in run.report.findings}
    assert ("CW101", 5) in found  # reqeusts_toolbelt_pro: no such package on the index
    assert ("CW201", 10) in found  # json.parse does not exist
    assert any(rule.startswith("CW3") and line == 9 for rule, line in found)  # shell=True
    assert all(f.path == "app/fetch.py" for f in run.report.findings)
    assert run.failed and not (project / "app" / "fetch.py").exists()


def test_the_projects_own_modules_are_known(project: Path) -> None:
    good = "from app.helpers import tidy\nfrom app.helpers import sweep\n\nprint(tidy(1))\n"
    run = check_content(project, str(project / "app" / "main.py"), good, offline=True)
    assert [(f.rule_id, f.line) for f in run.report.findings if f.rule_id.startswith("CW2")] == [("CW202", 2)]


def test_a_path_outside_the_project_or_a_family_that_needs_history_is_refused(project: Path) -> None:
    with pytest.raises(InputError, match="outside the project"):
        check_content(project, "../elsewhere.py", "x = 1\n")
    with pytest.raises(InputError, match="checked by deps, apis, security only"):
        check_content(project, "app/x.py", "x = 1\n", families=("provenance",))
