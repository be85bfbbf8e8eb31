"""``codewitness config``: every value as JSON has it, in both outputs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

RULES = """
[[invariants]]
function = "shop.pricing:refund"
ensure = "result <= paid"
mode = "warn"

[[review]]
function = "shop.*"
rate = 0.5

[capture]
agents = ["claude", "codex"]
"""


def _config(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "codewitness", "config", *args], cwd=root, capture_output=True, text=True, check=False
    )


def test_json_gives_rules_as_objects_and_lists_as_lists(tmp_path: Path) -> None:
    # Before: "InvariantRule(function='shop.pricing:refund', ...)" strings, and an env name nobody can set.
    (tmp_path / ".git").mkdir()
    (tmp_path / "codewitness.toml").write_text(RULES, encoding="utf-8")
    proc = _config(tmp_path, "--json")
    assert proc.returncode == 0, proc.stderr
    settings = json.loads(proc.stdout)["settings"]
    assert settings["invariants"] == {
        "value": [
            {"function": "shop.pricing:refund", "ensure": "result <= paid", "require": "", "name": "", "mode": "warn"}
        ],
        "source": "codewitness.toml",
        "env": None,
    }
    assert settings["review"]["value"] == [{"function": "shop.*", "rate": 0.5}]
    assert settings["capture.agents"]["value"] == ["claude", "codex"]
    assert settings["capture.agents"]["env"] == "CODEWITNESS_CAPTURE_AGENTS"


def test_the_table_shows_values_as_toml_writes_them(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "codewitness.toml").write_text(RULES, encoding="utf-8")
    proc = _config(tmp_path)
    assert proc.returncode == 0, proc.stderr
    (agents,) = [line for line in proc.stdout.splitlines() if line.startswith("capture.agents ")]
    assert '["claude", "codex"]' in agents
    (review,) = [line for line in proc.stdout.splitlines() if line.startswith("review ")]
    assert '[{"function": "shop.*", "rate": 0.5}]' in review
    assert "ReviewRule(" not in proc.stdout and "('claude'" not in proc.stdout
