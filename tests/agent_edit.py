"""An agent's edit played through the real capture hooks, for tests that need hook-captured AI lines.

:func:`cursor_edit` does what Cursor does: the prompt hook (``beforeSubmitPrompt``), the edit
applied to the file, then the edit hook (``afterFileEdit``), each hook in its own process as the
installed command runs it. After the next commit the post-commit hook writes the codewitness note
and links the generation in the ledger (``.codewitness/witness.db``).
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

from codewitness.capture.setup import install


def install_hooks(root: Path) -> None:
    """Install the Cursor hooks and the git hooks into the repository at ``root``."""
    install(root, ("cursor",))


def _hook(root: Path, payload: dict[str, object]) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "codewitness.capture.hook", "cursor"],
        input=json.dumps(payload).encode("utf-8"),
        cwd=root,
        capture_output=True,
        check=False,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr.decode("utf-8", "replace")


def cursor_edit(root: Path, path: str, old: str, new: str, *, prompt: str, model: str = "gpt-5.1-codex") -> None:
    """Replace ``old`` by ``new`` in ``path`` as a Cursor agent would, with both hooks run."""
    conversation = str(uuid.uuid4())
    generation = str(uuid.uuid4())
    common = {
        "conversation_id": conversation,
        "generation_id": generation,
        "model": model,
        "cursor_version": "2.1.26",
        "workspace_roots": [str(root)],
        "user_email": "dana@example.com",
        "transcript_path": None,
    }
    _hook(root, {**common, "hook_event_name": "beforeSubmitPrompt", "prompt": prompt, "attachments": []})
    target = root / path
    text = target.read_text("utf-8")
    assert old in text, f"{old!r} is not in {path}"
    target.write_text(text.replace(old, new, 1), "utf-8")
    _hook(
        root,
        {
            **common,
            "hook_event_name": "afterFileEdit",
            "file_path": str(target),
            "edits": [{"old_string": old, "new_string": new}],
        },
    )
