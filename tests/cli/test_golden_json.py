"""Every command's ``--json`` output on the demo project, pinned.

The files in ``tests/cli/golden/`` were written by this test from the code as it stood before the
package was reorganised; a move that changes what a command prints for machines fails here. What
differs from run to run is normalised first: the project folder, commit ids, timestamps, measured
durations (by key name, listed in ``_VOLATILE_KEYS``) and the Python version in messages. Everything
else -- keys, their order, counts, origins, generation ids, findings -- must match.

To re-pin after an intended change of output: ``UPDATE_GOLDEN=1 pytest tests/cli/test_golden_json.py``
and review the diff of ``tests/cli/golden/`` like code.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

GOLDEN = Path(__file__).parent / "golden"

#: name -> the command's arguments after ``codewitness``, run in the demo project.
COMMANDS: dict[str, list[str]] = {
    "blame": ["blame", "shop/pricing.py", "--json"],
    "report-shop": ["report", "shop", "--json"],
    "report": ["report", "--json"],
    "runtime": ["runtime", "--json"],
    "invariants": ["invariants", "--json"],
    "check": ["check", "--offline", "--json", "shop"],
    "config": ["config", "--json"],
    "status": ["status", "--json"],
    "generations-list": ["generations", "list", "--json"],
    "prompts-list": ["prompts", "list", "--json"],
    "prompts-history": ["prompts", "history", "pricing", "--json"],
    "prompts-show": ["prompts", "show", "pricing", "--json"],
    "notes-show": ["notes", "show", "HEAD", "--json"],
    "notes-show-capture": ["notes", "show", "HEAD~1", "--json"],
    "deps": ["deps", "--offline", "--json"],
    "doctor": ["doctor", "--offline", "--json"],
    "store-stats": ["store", "stats", "--json"],
    "metrics": ["metrics", "--offline", "--json"],
    "insights": ["insights", "--json"],
    "corpus-list": ["corpus", "list", "--json"],
    "corpus-show": ["corpus", "show", "shop.pricing.refund", "--json"],
    "baseline-list": ["baseline", "list", "--json"],
    "baseline-show": ["baseline", "show", "demo", "--json"],
    "flaky": ["flaky", "--json"],
    # writes a replay row, which `flaky` would show: it sorts after it
    "replay-same-rev": ["replay", "--all", "--same-rev", "--json"],
}

#: Keys whose values are measured or dated rather than computed: replaced by a placeholder of their type.
_VOLATILE_KEYS = re.compile(
    r"(^|_)(seconds|ns|ms|us|p50|p90|p95|p99|mean|min|max|total_ns|latency.*|duration.*|elapsed.*|"
    r"first_seen|last_seen|last_breach|created_at|changed_at|recorded_at|at|time|timestamp|started|ended|when)$"
    r"|^(free_)?bytes$"  # a database's size on disk
)
_SHA = re.compile(r"\b[0-9a-f]{40}\b")
_PYTHON = re.compile(r"\bPython 3\.\d+")
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?([+-]\d{2}:\d{2}|Z)?")


def _normalise(value: Any, root: str, key: str = "") -> Any:
    if _VOLATILE_KEYS.search(key) and value is not None:
        return f"<{type(value).__name__}>"
    if isinstance(value, dict):
        return {k: _normalise(v, root, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalise(v, root) for v in value]
    if isinstance(value, str):
        text = value.replace(root, "<ROOT>")
        text = _SHA.sub("<SHA>", text)
        text = _PYTHON.sub("Python <version>", text)
        return _ISO.sub("<TIME>", text)
    return value


@pytest.fixture(scope="module")
def demo_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("golden") / "demo"
    proc = subprocess.run(
        [sys.executable, "-m", "codewitness", "demo", "--dir", str(target)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return target.resolve()


def _run(project: Path, args: list[str]) -> Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODEWITNESS_")}
    proc = subprocess.run(
        [sys.executable, "-m", "codewitness", *args],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env=env,
    )
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    return {"exit_code": proc.returncode, "stdout": json.loads(proc.stdout) if proc.stdout.strip() else None}


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_json_output_matches_the_pinned_output(demo_project: Path, name: str) -> None:
    got = _normalise(_run(demo_project, COMMANDS[name]), str(demo_project))
    path = GOLDEN / f"{name}.json"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(json.dumps(got, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    expected = json.loads(path.read_text(encoding="utf-8"))
    assert got == expected, f"`codewitness {' '.join(COMMANDS[name])}` changed its --json output"


def test_normalising_keeps_what_is_computed() -> None:
    """The normaliser must not hide real values: only volatile keys, the root, shas and times change."""
    raw = {
        "calls": 401,
        "p95": 1234,
        "first_seen": "2026-12-07T09:07:29.963836+00:00",
        "path": "/x/y/shop/a.py",
        "revision": "cc4272a0e56f6ca74f6f299d0b71d51548dea532",
        "generations": ["gen_bce685ec1a2817389667"],
        "ai_share": 0.48,
    }
    assert _normalise(raw, "/x/y") == {
        "calls": 401,
        "p95": "<int>",
        "first_seen": "<str>",
        "path": "<ROOT>/shop/a.py",
        "revision": "<SHA>",
        "generations": ["gen_bce685ec1a2817389667"],
        "ai_share": 0.48,
    }
