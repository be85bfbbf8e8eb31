"""action.yml and .pre-commit-hooks.yaml describe commands that exist and behave."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _help() -> str:
    done = subprocess.run(
        [sys.executable, "-m", "codewitness", "check", "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        check=True,
    )
    return done.stdout


def test_action_is_a_composite_action_using_real_options():
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    script = "\n".join(step.get("run", "") for step in action["runs"]["steps"])
    used = set(re.findall(r"(--[a-z][a-z-]+)", script))
    assert {"--sarif", "--md", "--fail-on", "--base", "--baseline"} <= used
    helptext = _help()
    assert all(option in helptext for option in used - {"--quiet"})
    for name in re.findall(r"inputs\.([a-z-]+)", script):
        assert name in action["inputs"]


def test_pre_commit_hooks_run(tmp_path):
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert {h["id"] for h in hooks} == {"codewitness-check", "codewitness-deps"}
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / "good.py").write_text("import json\nprint(json.dumps({}))\n")
    (tmp_path / "bad.py").write_text("import json\njson.parse('{}')\n")
    env = {**os.environ, "HOME": str(tmp_path), "CODEWITNESS_CHECK_INDEX_URL": "http://127.0.0.1:9/simple"}
    check = next(h for h in hooks if h["id"] == "codewitness-check")
    argv = shlex.split(check["entry"])
    assert argv[:2] == ["codewitness", "check"]
    command = [sys.executable, "-m", "codewitness", *argv[1:]]
    assert subprocess.run([*command, "good.py"], cwd=tmp_path, env=env, capture_output=True).returncode == 0
    bad = subprocess.run([*command, "bad.py"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert bad.returncode == 1 and "CW201" in bad.stdout
    deps = next(h for h in hooks if h["id"] == "codewitness-deps")
    (tmp_path / "requirements.txt").write_text("requests\n")
    done = subprocess.run(
        [sys.executable, "-m", "codewitness", *shlex.split(deps["entry"])[1:]],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0 and "not checked" in done.stderr  # unreachable index: reported, not failed
