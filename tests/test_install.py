"""Where this copy of codewitness came from, and the install command a missing extra names."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
import yaml

from codewitness.errors import MissingExtraError, install_command, install_source

ROOT = Path(__file__).resolve().parents[1]


def _dist(tmp_path: Path, direct_url: dict[str, object] | None) -> metadata.Distribution:
    """A distribution folder as pip writes it (METADATA, and direct_url.json for a direct URL)."""
    info = tmp_path / "codewitness-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: codewitness\nVersion: 0.1.0\n")
    if direct_url is not None:
        (info / "direct_url.json").write_text(json.dumps(direct_url))
    return metadata.PathDistribution(info)


@pytest.mark.parametrize(
    ("direct_url", "expected"),
    [
        (None, ["codewitness[server]"]),
        ({"url": "file:///home/dana/src/codewitness", "dir_info": {}}, ["/home/dana/src/codewitness[server]"]),
        (
            {"url": "file:///home/dana/src/code%20witness", "dir_info": {"editable": True}},
            ["-e", "/home/dana/src/code witness[server]"],
        ),
        (
            {
                "url": "https://git.example.org/team/codewitness.git",
                "vcs_info": {"vcs": "git", "commit_id": "4b7a1d2" * 5 + "4b7a1d2f", "requested_revision": "v0.3"},
            },
            ["codewitness[server] @ git+https://git.example.org/team/codewitness.git@v0.3"],
        ),
        (
            {"url": "file:///tmp/dist/codewitness-0.1.0-cp312-cp312-linux_x86_64.whl", "archive_info": {}},
            ["codewitness[server] @ file:///tmp/dist/codewitness-0.1.0-cp312-cp312-linux_x86_64.whl"],
        ),
        ({"url": 3}, ["codewitness[server]"]),  # a broken record is no source
    ],
)
def test_the_source_follows_direct_url_json(
    tmp_path: Path, direct_url: dict[str, object] | None, expected: list[str]
) -> None:
    assert install_source("server", _dist(tmp_path, direct_url)) == expected


def test_this_environment_reinstalls_from_its_checkout() -> None:
    # The test environment is `pip install -e <checkout>`: the hint names that folder and this interpreter.
    command = shlex.split(install_command("postgres"))
    assert command[:4] == [sys.executable, "-m", "pip", "install"]
    assert command[4:] == ["-e", f"{ROOT}[postgres]"]


def test_a_missing_extra_names_the_command_that_installs_it() -> None:
    # Before: pip install "codewitness[server]", which finds nothing until the package is published.
    error = MissingExtraError("server", "codewitness serve")
    assert str(error) == f'codewitness serve needs the "server" extra: {install_command("server")}'
    assert "\n" not in str(error)
    package = MissingExtraError("Pydantic", "Validating results", package="pydantic")
    assert str(package) == f"Validating results needs Pydantic: {shlex.quote(sys.executable)} -m pip install pydantic"


# -- the install lines of the action, the CI templates and the pre-commit hooks ----------------


def _dry_install(script: str, env: dict[str, str], cwd: Path, report: Path) -> list[dict[str, object]]:
    """Run an install step's own script, its `python -m pip install ...` made a dry run, and read pip's report."""
    dry = f"--dry-run --report {shlex.quote(str(report))}"
    wrapper = f'python() {{ command {shlex.quote(sys.executable)} "$@" {dry}; }}\n'
    done = subprocess.run(
        ["bash", "-e", "-c", wrapper + script],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    installs: list[dict[str, object]] = json.loads(report.read_text())["install"]
    return installs


def _ours(installs: list[dict[str, object]]) -> dict[str, object]:
    (item,) = [i for i in installs if i["metadata"]["name"] == "codewitness"]  # type: ignore[index]
    return item


def _install_step(action: Path) -> dict[str, object]:
    steps = yaml.safe_load(action.read_text())["runs"]["steps"]
    (step,) = [s for s in steps if "pip install" in s.get("run", "")]
    return step


@pytest.mark.parametrize(("action", "extras"), [("action.yml", ["check"]), ("consolidate/action.yml", None)])
def test_an_action_installs_its_own_copy_by_default(action: str, extras: list[str] | None, tmp_path: Path) -> None:
    # Before: `pip install codewitness[check]`, a name no index holds yet: every workflow using it failed.
    step = _install_step(ROOT / action)
    assert yaml.safe_load((ROOT / action).read_text())["inputs"]["version"]["default"] == ""
    env = {"CW_VERSION": "", "CW_ACTION_PATH": str((ROOT / action).parent)}  # what the runner sets
    assert set(step["env"]) == set(env)  # type: ignore[arg-type]
    ours = _ours(_dry_install(str(step["run"]), env, tmp_path, tmp_path / "report.json"))
    assert ours["download_info"]["url"] == ROOT.as_uri()  # type: ignore[index]
    assert ours.get("requested_extras") == extras


@pytest.mark.parametrize("template", ["github-consolidate.yml", "gitlab-consolidate.yml"])
def test_a_ci_template_installs_what_its_variable_names(template: str, tmp_path: Path) -> None:
    document = yaml.safe_load((ROOT / "docs" / "ci" / template).read_text())
    if "jobs" in document:
        (step,) = [s for s in document["jobs"]["consolidate"]["steps"] if "pip install" in s.get("run", "")]
        script, variables = step["run"], step["env"]
    else:
        ((_, job),) = document.items()
        script = next(line for line in job["script"] if "pip install" in line)
        variables = job["variables"]
    assert "CW_INSTALL" in variables and "git+" in variables["CW_INSTALL"], "the template shows the git URL form"
    ours = _ours(_dry_install(script, {"CW_INSTALL": f"codewitness @ {ROOT.as_uri()}"}, tmp_path, tmp_path / "r.json"))
    assert ours["download_info"]["url"] == ROOT.as_uri()  # type: ignore[index]


def test_the_pre_commit_hooks_install_the_check_extra(tmp_path: Path) -> None:
    # pre-commit installs a hook repository as `pip install . <additional_dependencies>` from its checkout.
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    for hook in hooks:
        deps = " ".join(shlex.quote(d) for d in hook["additional_dependencies"])
        ours = _ours(_dry_install(f"python -m pip install . {deps}", {}, ROOT, tmp_path / f"{hook['id']}.json"))
        assert ours["download_info"]["url"] == ROOT.as_uri() and ours["requested_extras"] == ["check"]  # type: ignore[index]
