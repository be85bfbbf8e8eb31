"""Codex CLI: PreToolUse / PostToolUse hooks on ``apply_patch``, and UserPromptSubmit.

Codex reads ``.codex/hooks.json`` (the same shape as Claude Code's settings) and sends one JSON
object on stdin: ``session_id``, ``turn_id``, ``transcript_path``, ``cwd``, ``hook_event_name``,
``model`` (the active model slug), and for tool events ``tool_name``, ``tool_use_id`` and
``tool_input``; for ``apply_patch`` the patch text is ``tool_input.command``. The patch names
the files (``*** Add File:``, ``*** Update File:`` with an optional ``*** Move to:``); it
carries no line numbers, so PreToolUse snapshots those files and PostToolUse diffs them.

Example:
    >>> sorted(patch_files("*** Begin Patch\\n*** Add File: a.py\\n+x\\n*** End Patch\\n"))
    ['a.py']
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
    Snapshot,
    TranscriptReader,
    UsageReader,
    merge_hook_settings,
    read_bytes,
    text_field,
    tool_event,
    tool_hook_output,
    tool_hook_settings,
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
    "patch_files",
    "uninstall_settings",
    "usage_from_transcript",
]

AGENT = "codex"
SETTINGS_FILE = ".codex/hooks.json"
#: Events whose answer adds context for the model: before an edit, and when a prompt is submitted.
CONTEXT_EVENTS: tuple[str, ...] = ("PreToolUse", "UserPromptSubmit")
#: PostToolUse follows Claude Code's contract: exit 2 hands stderr to the model as feedback.
HOOK_CAN_BLOCK = True
EDIT_TOOLS = ("apply_patch",)
#: The payload carries the model; UserPromptSubmit carries the prompt.
from_transcript: TranscriptReader | None = None
#: The transcript keeps no token counts we read.
usage_from_transcript: UsageReader | None = None

_ADD, _UPDATE, _DELETE, _MOVE = "*** Add File: ", "*** Update File: ", "*** Delete File: ", "*** Move to: "


def hook_settings(command: str) -> dict[str, Any]:
    """The ``hooks`` entries to merge into ``.codex/hooks.json``."""
    return tool_hook_settings(command, "|".join(EDIT_TOOLS))


def install_settings(settings: dict[str, Any], command: str) -> dict[str, Any]:
    """``.codex/hooks.json`` (parsed) with our entries merged in."""
    return merge_hook_settings(settings, hook_settings(command))


def hook_output(message: str, *, block: bool) -> HookOutput:
    """A PostToolUse answer: exit 2 with ``message`` on stderr, or ``additionalContext``."""
    return tool_hook_output("PostToolUse", message, block=block)


def cannot_enable(root: StrPath) -> str | None:
    """Codex runs hooks only while its hooks feature is on: ``[features] hooks`` (earlier
    ``codex_hooks``) set to false in ``$CODEX_HOME/config.toml`` or the project's
    ``.codex/config.toml`` turns them off."""
    import tomllib

    home = os.environ.get("CODEX_HOME") or os.path.join(os.path.expanduser("~"), ".codex")
    for path in (os.path.join(home, "config.toml"), os.path.join(root, ".codex", "config.toml")):
        data, _problem = read_bytes(path, 1_000_000)
        try:
            config = tomllib.loads(data.decode("utf-8")) if data is not None else {}
        except (tomllib.TOMLDecodeError, UnicodeDecodeError):
            continue
        features = config.get("features")
        for key in ("hooks", "codex_hooks"):
            if isinstance(features, dict) and features.get(key) is False:
                return f"{path} turns Codex hooks off ([features] {key} = false); set it to true"
    return None


def patch_files(patch: str) -> dict[str, tuple[str, str]]:
    """The files an ``apply_patch`` envelope writes: ``{path: (source path, section text)}``.

    Deleted files are left out (nothing is written); a moved file is keyed by its new path.

    Raises:
        PayloadError: the text is not an ``*** Begin Patch`` envelope.
    """
    lines = patch.replace("\r\n", "\n").split("\n")
    if not lines or lines[0].strip() != "*** Begin Patch":
        raise PayloadError("apply_patch input is not a '*** Begin Patch' envelope")
    files: dict[str, tuple[str, str]] = {}
    current: str | None = None
    source: str | None = None
    body: list[str] = []

    def close() -> None:
        if current is not None:
            files[current] = (source or current, "\n".join(body))

    for line in lines[1:]:
        if line.startswith((_ADD, _UPDATE, _DELETE)) or line.strip() == "*** End Patch":
            close()
            current = source = None
            body = []
            if line.startswith((_ADD, _UPDATE)):
                name = line.split(": ", 1)[1].strip()
                if not name:
                    raise PayloadError("apply_patch names an empty path")
                current = source = name
            continue
        if line.startswith(_MOVE) and current is not None:
            current = line[len(_MOVE) :].strip() or current
            continue
        if current is not None:
            body.append(line)
    close()
    return files


def _added_runs(section: str) -> tuple[tuple[str, str], ...]:
    """The patch's runs of ``+`` lines, used to check diff hunks when no before snapshot exists."""
    runs: list[tuple[str, str]] = []
    current: list[str] = []
    for line in [*section.split("\n"), ""]:
        if line.startswith("+"):
            current.append(line[1:])
        elif current:
            runs.append(("", "\n".join(current)))
            current = []
    return tuple(runs)


def parse(payload: Mapping[str, Any]) -> Parsed:
    """Turn one Codex hook payload into actions.

    Raises:
        PayloadError: the payload is malformed, or not an event/tool we capture.
    """
    model = text_field(payload, "model")
    found = tool_event(
        payload,
        prompt_event="UserPromptSubmit",
        tool_events=("PreToolUse", "PostToolUse"),
        tools=EDIT_TOOLS,
        model=model,
    )
    if isinstance(found, Parsed):
        return found
    patch = text_field(found.tool_input, "command")
    key = text_field(payload, "tool_use_id")
    if patch is None or key is None:
        raise PayloadError("apply_patch needs tool_input.command and tool_use_id")
    files = patch_files(patch)
    if not files:
        raise PayloadError("apply_patch writes no files")
    if found.before:
        return Parsed(found.cwd, (Snapshot(key, tuple(sorted({src for src, _ in files.values()}))),))
    edits = tuple(
        FileEdit(path=path, output=section, source_path=src if src != path else None, fragments=_added_runs(section))
        for path, (src, section) in sorted(files.items())
    )
    transcript = text_field(payload, "transcript_path")
    return Parsed(found.cwd, (Capture(edits, key, found.session, model, transcript_path=transcript),))
