"""What one after-edit hook payload changed: each file with its text before and after the edit.

For hooks that judge an edit rather than record it (``codewitness check --hook``). The payload
is read by its agent module, the file's text after the edit is read from disk, and the text
before it is never guessed by searching the file for the agent's strings. It is, first found:

1. ``payload`` — the before text the agent reports (Claude Code's ``originalFile``);
2. ``snapshot`` — the text our capture hook's before hook took for this tool call;
3. ``patch`` — rebuilt from the exact patch the agent reports (``structuredPatch``), once the
   patch is checked against the text after;
4. ``capture`` — the before text of the edit our capture hook already recorded for this call;
5. ``last`` — the last text known before the call: after the newest other captured edit of the
   file, else the text staged in git (Cursor reports no before state at all);
6. ``none`` — nothing known (``before`` is ``None``, as for a new file).

Example:
    >>> [f.source for f in edited_files(agent_module("claude"), payload, cwd="/repo")]  # doctest: +SKIP
    ['payload']
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from codewitness.capture._base import Capture, FileEdit, find_root, read_text, repo_relative
from codewitness.capture.checkpoint import before_from_structured_patch, split_lines
from codewitness.capture.journal import JOURNAL_NAME, Journal

if TYPE_CHECKING:
    from codewitness.capture.agent import AgentModule

__all__ = ["EditedFile", "edited_files"]


class EditedFile(NamedTuple):
    """One file an agent's tool call changed.

    Attributes:
        path: the file (absolute, as the agent named it).
        before: its text before the edit; ``None`` when it did not exist or nothing is known.
        after: its text now.
        source: where ``before`` came from (see the module's list).
    """

    path: str
    before: str | None
    after: str
    source: str


def edited_files(module: AgentModule, payload: Mapping[str, Any], *, cwd: str) -> list[EditedFile]:
    """The files an after-edit payload of ``module``'s agent changed, each with its text before and after.

    Files that cannot be read now (deleted, binary, too large, not a regular file) are left out.

    Args:
        module: the agent's module.
        payload: the hook's JSON object.
        cwd: the folder relative paths start from when the payload names none.

    Raises:
        PayloadError: the payload is malformed or not an event the module captures.
    """
    parsed = module.parse(payload)
    base = parsed.cwd or cwd
    found: list[EditedFile] = []
    for key, edit in _edits(parsed.actions):
        path = edit.path if os.path.isabs(edit.path) else os.path.join(base, edit.path)
        after, _problem = read_text(path)
        if after is None:
            continue
        before, source = _before(key, edit, path, base, after)
        found.append(EditedFile(path, before, after, source))
    return found


def _edits(actions: tuple[Any, ...]) -> Iterator[tuple[str | None, FileEdit]]:
    for action in actions:
        if isinstance(action, Capture):
            yield from ((action.key, edit) for edit in action.edits)


def _before(key: str | None, edit: FileEdit, path: str, base: str, after: str) -> tuple[str | None, str]:
    if edit.has_before_text:
        return edit.before_text, "payload"
    root = find_root(os.path.dirname(path))
    rel = repo_relative(root, base, edit.path) if root is not None else None
    known = None
    if root is not None and rel is not None and os.path.isfile(os.path.join(root, ".codewitness", JOURNAL_NAME)):
        source = repo_relative(root, base, edit.source_path) if edit.source_path else rel
        with Journal.open(os.path.join(root, ".codewitness")) as journal:
            known = journal.before_of(key, source or rel)
    if known is not None and known[0] == "snapshot":
        return known[1], "snapshot"
    if edit.patch is not None:
        lines = before_from_structured_patch(edit.patch, split_lines(after))
        if lines is not None:
            return "".join(f"{line}\n" for line in lines), "patch"
    if known is not None:
        return known[1], "capture" if known[0] == "edit" else "last"
    if root is not None and rel is not None:
        from codewitness._git import blob_text

        staged = blob_text(root, "", rel, timeout=5)
        if staged is not None:
            return staged, "last"
    return None, "none"
