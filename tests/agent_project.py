"""A captured project with an AI-written function that raises on some input, run under ``codewitness run``.

:func:`build` makes it the way a team would: ``codewitness init`` for Claude Code, a Claude Code
``Write`` played through the real hook processes (with a transcript naming the model and the
prompt), a commit (the post-commit hook writes the note and links the generation in the
ledger), ``codewitness manifest build``, the application run with the sensor
(``codewitness run -- python drive.py``: :data:`BAD_CALLS` calls of ``app.calc.ratio`` raise
``ZeroDivisionError`` inside the person-written ``app.mathutil.divide``), and ``codewitness ingest``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import GitRepo

PROMPT = "Add ratio(total, count) to app/calc.py: the share of total per item, using mathutil.divide"
MODEL = "claude-opus-4-5-20251101"
TOOL_ID = "toolu_01RatioWrite"
CALC = '''from app.mathutil import divide


def ratio(total, count):
    """The share of total per item."""
    return divide(total, count)
'''
MATHUTIL = '''def divide(a, b):
    return a / b
'''
DRIVER = '''
from app.calc import ratio

for i in range(50):
    ratio(10 * i, 5)
for i in range({bad}):
    try:
        ratio(i, 0)
    except ZeroDivisionError:
        pass
print("driven")
'''
#: How many calls of ``ratio`` raise.
BAD_CALLS = 100


@dataclass(frozen=True)
class AgentProject:
    """The project: its repository, the store URL, and the generation that wrote ``app/calc.py``."""

    root: Path
    db_url: str
    generation_id: str
    transcript: Path


def _run(args: list[str], root: Path, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODEWITNESS_")}
    proc = subprocess.run(args, cwd=root, input=stdin, capture_output=True, env=env, timeout=180, check=False)
    assert proc.returncode == 0, (args, proc.stdout.decode(), proc.stderr.decode())
    return proc


def claude_pre_tool_use(root: Path, transcript: Path, path: str, content: str, tool_id: str) -> dict[str, object]:
    """The PreToolUse payload of a Claude Code ``Write`` of ``path``."""
    return {
        "session_id": "sess-ratio",
        "transcript_path": str(transcript),
        "cwd": str(root),
        "permission_mode": "default",
        "hook_event_name": "PreToolUse",
        "tool_name": "Write",
        "tool_use_id": tool_id,
        "tool_input": {"file_path": str(root / path), "content": content},
    }


def hook(root: Path, payload: dict[str, object]) -> subprocess.CompletedProcess[bytes]:
    """Run the Claude Code hook as its own process, as the installed command does."""
    return _run([sys.executable, "-m", "codewitness.capture.hook", "claude"], root, json.dumps(payload).encode())


def build(repo: GitRepo, *, bad_calls: int = BAD_CALLS) -> AgentProject:
    """The project described above, in ``repo``."""
    root = repo.root
    repo.write("README.md", "# ratios\n")
    repo.write("codewitness.toml", "[sensor]\nexceptions_per_interval = 1000\ninterval = 0.2\n")
    repo.write("app/__init__.py", "")
    repo.write("app/mathutil.py", MATHUTIL)
    repo.commit("initial: a person writes mathutil")
    _run([sys.executable, "-m", "codewitness", "init", "--agents", "claude"], root)
    repo.commit("codewitness init")

    transcript = root.parent / "session.jsonl"
    lines = [
        {"type": "user", "sessionId": "sess-ratio", "message": {"role": "user", "content": PROMPT}},
        {
            "type": "assistant",
            "sessionId": "sess-ratio",
            "message": {
                "role": "assistant",
                "model": MODEL,
                "content": [{"type": "tool_use", "id": TOOL_ID, "name": "Write", "input": {}}],
            },
        },
    ]
    transcript.write_text("".join(json.dumps(line) + "\n" for line in lines), "utf-8")
    pre = claude_pre_tool_use(root, transcript, "app/calc.py", CALC, TOOL_ID)
    hook(root, pre)
    repo.write("app/calc.py", CALC)
    hook(root, {**pre, "hook_event_name": "PostToolUse", "tool_response": {"type": "create"}})
    repo.commit("ratio, written by Claude")

    _run([sys.executable, "-m", "codewitness", "manifest", "build"], root)
    (root / "drive.py").write_text(DRIVER.format(bad=bad_calls), "utf-8")
    done = _run([sys.executable, "-m", "codewitness", "run", "--", sys.executable, "drive.py"], root)
    assert done.stdout.decode().strip() == "driven"
    _run([sys.executable, "-m", "codewitness", "ingest"], root)

    db_url = f"sqlite:///{root / '.codewitness' / 'witness.db'}"
    from codewitness.store import open_store

    with open_store(db_url) as store:
        from codewitness import ledger

        (generation,) = ledger.find(store)
    return AgentProject(root=root, db_url=db_url, generation_id=generation.id, transcript=transcript)
