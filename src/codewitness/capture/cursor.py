"""Cursor: ``afterFileEdit`` / ``afterTabFileEdit`` and ``beforeSubmitPrompt`` hooks.

Cursor runs ``.cursor/hooks.json`` commands (``{"version": 1, "hooks": {event: [{"command"}]}}``)
with one JSON object on stdin: ``conversation_id``, ``generation_id``, ``model``,
``hook_event_name``, ``workspace_roots``, ``transcript_path``; file edits add ``file_path`` and
``edits: [{old_string, new_string, range?}]``; ``beforeSubmitPrompt`` adds ``prompt``.

Cursor has no hook *before* an agent edits a file, so there is no exact before snapshot. The
lines the agent wrote come from the edit's ``range`` when Cursor reports one (checked against
the file), otherwise from a line diff against the last known text of the file (the previous
captured edit, or the staged text), keeping only hunks the reported edit strings account for;
hunks they do not account for are a person's and stay ``human``.

Example:
    >>> p = parse({"hook_event_name": "beforeSubmitPrompt", "conversation_id": "c1", "prompt": "hi"})
    >>> p.actions[0].prompt
    'hi'
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from codewitness.capture._base import (
    Capture,
    FileEdit,
    HookOutput,
    Parsed,
    PayloadError,
    TranscriptReader,
    UsageReader,
    json_file,
    merge_hook_settings,
    prompt_action,
    text_field,
)
from codewitness.capture._base import context_hook_output as context_output
from codewitness.capture._base import strip_hook_settings as uninstall_settings

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from codewitness.capture._lean import StrPath

__all__ = [
    "AGENT",
    "CONTEXT_EVENTS",
    "HOOK_CAN_BLOCK",
    "SETTINGS_FILE",
    "cannot_enable",
    "context_output",
    "from_transcript",
    "hook_output",
    "hook_settings",
    "install_settings",
    "parse",
    "uninstall_settings",
    "usage_from_transcript",
]

AGENT = "cursor"
SETTINGS_FILE = ".cursor/hooks.json"
#: The hooks.json format version whose entries we write.
HOOKS_VERSION = 1
#: No event can add context before an edit: Cursor has no before-edit hook, and beforeSubmitPrompt
#: answers only continue/stop.
CONTEXT_EVENTS: tuple[str, ...] = ()
#: ``afterFileEdit`` runs once the edit is done and cannot refuse it: it only adds context.
HOOK_CAN_BLOCK = False
EDIT_EVENTS = ("afterFileEdit", "afterTabFileEdit")
#: Cursor payloads carry the model, and ``beforeSubmitPrompt`` the prompt: no transcript needed.
from_transcript: TranscriptReader | None = None
#: The transcript keeps no token counts we read.
usage_from_transcript: UsageReader | None = None


def hook_settings(command: str) -> dict[str, Any]:
    """The entries to merge into ``.cursor/hooks.json``."""
    entry = {"command": command}
    return {
        "version": HOOKS_VERSION,
        "hooks": {"beforeSubmitPrompt": [entry], "afterFileEdit": [entry], "afterTabFileEdit": [entry]},
    }


def install_settings(settings: dict[str, Any], command: str) -> dict[str, Any]:
    """``.cursor/hooks.json`` (parsed) with our entries merged in (and ``version`` when absent)."""
    return merge_hook_settings(settings, hook_settings(command))


def hook_output(message: str, *, block: bool) -> HookOutput:
    """An ``afterFileEdit`` answer: ``message`` as top-level ``additional_context`` (it cannot block)."""
    import json  # only a hook that answers with context needs it; the capture hook answers nothing

    return HookOutput(0, stdout=json.dumps({"additional_context": message}))


def cannot_enable(root: StrPath) -> str | None:
    """A ``hooks.json`` of another format version would hold our version-1 entries."""
    path = os.path.join(root, SETTINGS_FILE)
    data = json_file(path)
    version = data.get("version") if isinstance(data, dict) else None
    if version is not None and version != HOOKS_VERSION:
        return f"{path} is hooks.json version {version!r}; codewitness writes version {HOOKS_VERSION} entries"
    return None


def _range(edit: Mapping[str, Any]) -> tuple[int, int] | None:
    """The 1-based lines of the new text, from an edit's ``range`` start and its ``new_string``."""
    raw = edit.get("range")
    if not isinstance(raw, Mapping):
        return None
    start = raw.get("start_line_number")
    if not isinstance(start, int) or isinstance(start, bool) or start < 1:
        return None
    new = edit.get("new_string")
    if not isinstance(new, str) or not new.strip("\n"):
        return None
    return start, start + new.strip("\n").count("\n")


def parse(payload: Mapping[str, Any]) -> Parsed:
    """Turn one Cursor hook payload into actions.

    Raises:
        PayloadError: the payload is malformed, or not an event we capture.
    """
    event = payload.get("hook_event_name")
    roots = payload.get("workspace_roots")
    cwd = roots[0] if isinstance(roots, list) and roots and isinstance(roots[0], str) else None
    session = text_field(payload, "conversation_id")
    model = text_field(payload, "model")
    if event == "beforeSubmitPrompt":
        return prompt_action(event, cwd, session, payload.get("prompt"), model)
    if event not in EDIT_EVENTS:
        raise PayloadError(f"event {event!r} is not captured")
    path = text_field(payload, "file_path")
    edits = payload.get("edits")
    if path is None or not isinstance(edits, list) or not edits:
        raise PayloadError(f"{event} needs file_path and a non-empty edits list")
    fragments: list[tuple[str, str]] = []
    ranges: list[tuple[int, int]] = []
    for edit in edits:
        if not isinstance(edit, Mapping):
            raise PayloadError("each edit must be an object")
        old, new = edit.get("old_string", ""), edit.get("new_string")
        if not isinstance(old, str) or not isinstance(new, str):
            raise PayloadError("edit old_string/new_string must be strings")
        fragments.append((old, new))
        span = _range(edit)
        if span is not None:
            ranges.append(span)
    # Ranges are only exact when every edit carries one; a partial set says too little.
    exact = tuple(sorted(ranges)) if len(ranges) == len(fragments) else ()
    edit = FileEdit(path, "\n".join(new for _, new in fragments), line_ranges=exact, fragments=tuple(fragments))
    transcript = text_field(payload, "transcript_path")
    return Parsed(
        cwd, (Capture((edit,), text_field(payload, "generation_id"), session, model, transcript_path=transcript),)
    )
