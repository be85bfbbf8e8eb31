"""Gemini CLI: BeforeTool / AfterTool hooks on ``write_file`` and ``replace``, and BeforeAgent.

Gemini CLI reads hooks from ``.gemini/settings.json`` (``{"hooks": {event: [{"matcher",
"hooks": [{"type": "command", "command"}]}]}}``) and sends one JSON object on stdin:
``session_id``, ``transcript_path``, ``cwd``, ``hook_event_name``, ``timestamp``; tool events add
``tool_name`` and ``tool_input`` (``write_file``: ``file_path``, ``content``; ``replace``:
``file_path``, ``old_string``, ``new_string``), AfterTool adds ``tool_response``; BeforeAgent
adds ``prompt``. Tool events carry no call id, so the before snapshot is keyed by session,
tool and file. The model is read from the session transcript (JSON: ``messages`` of type
``user``/``gemini``, the latter with ``model`` and ``toolCalls``).

Example:
    >>> parse({"hook_event_name": "BeforeAgent", "session_id": "s", "prompt": "add tests"}).actions[0].prompt
    'add tests'
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from codewitness.capture import _lean
from codewitness.capture._base import (
    Capture,
    FileEdit,
    HookOutput,
    Parsed,
    PayloadError,
    Snapshot,
    UsageReader,
    json_file,
    merge_hook_settings,
    read_bytes,
    text_field,
    tool_event,
    tool_hook_output,
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
    "HOOK_NAME",
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

AGENT = "gemini-cli"
SETTINGS_FILE = ".gemini/settings.json"
#: The name our hook entries carry (``hooksConfig.disabled`` lists hooks by name).
HOOK_NAME = "codewitness"
#: Events whose answer adds context: a submitted prompt (BeforeTool can only block or rewrite a call).
CONTEXT_EVENTS: tuple[str, ...] = ("BeforeAgent",)
#: AfterTool exit 2 replaces the tool's result with stderr: the model reads the problem.
HOOK_CAN_BLOCK = True
EDIT_TOOLS = ("write_file", "replace")
#: Transcripts larger than this are not read for the model.
TRANSCRIPT_MAX = 32_000_000


def hook_settings(command: str) -> dict[str, Any]:
    """The ``hooks`` entries to merge into ``.gemini/settings.json``."""
    hook = {"name": HOOK_NAME, "type": "command", "command": command}
    tool_entry = {"matcher": "|".join(EDIT_TOOLS), "hooks": [hook]}
    return {"hooks": {"BeforeTool": [tool_entry], "AfterTool": [tool_entry], "BeforeAgent": [{"hooks": [hook]}]}}


def install_settings(settings: dict[str, Any], command: str) -> dict[str, Any]:
    """``.gemini/settings.json`` (parsed) with our entries merged in."""
    return merge_hook_settings(settings, hook_settings(command))


def hook_output(message: str, *, block: bool) -> HookOutput:
    """An AfterTool answer: exit 2 with ``message`` on stderr (it replaces the tool's result for the
    model), or ``additionalContext`` appended to the result."""
    return tool_hook_output("AfterTool", message, block=block)


def cannot_enable(root: StrPath) -> str | None:
    """``hooksConfig.enabled: false`` in the project's or the user's settings turns Gemini CLI hooks off;
    ``hooksConfig.disabled`` listing our hook's name turns ours off."""
    home = os.environ.get("GEMINI_CLI_HOME") or os.path.expanduser("~")
    for path in (os.path.join(root, SETTINGS_FILE), os.path.join(home, ".gemini", "settings.json")):
        data = json_file(path)
        config = data.get("hooksConfig") if isinstance(data, dict) else None
        if not isinstance(config, dict):
            continue
        if config.get("enabled") is False:
            return f"{path} turns Gemini CLI hooks off (hooksConfig.enabled = false)"
        disabled = config.get("disabled")
        if isinstance(disabled, list) and HOOK_NAME in disabled:
            return f"{path} disables the hook named {HOOK_NAME!r} (hooksConfig.disabled)"
    return None


def parse(payload: Mapping[str, Any]) -> Parsed:
    """Turn one Gemini CLI hook payload into actions.

    Raises:
        PayloadError: the payload is malformed, or not an event/tool we capture.
    """
    found = tool_event(payload, prompt_event="BeforeAgent", tool_events=("BeforeTool", "AfterTool"), tools=EDIT_TOOLS)
    if isinstance(found, Parsed):
        return found
    path = text_field(found.tool_input, "file_path")
    if path is None or found.session is None:
        raise PayloadError(f"{found.tool} needs session_id and tool_input.file_path")
    key = f"{found.session}:{found.tool}:{path}"
    if found.before:
        return Parsed(found.cwd, (Snapshot(key, (path,)),))
    field = "content" if found.tool == "write_file" else "new_string"
    output = found.tool_input.get(field)
    if not isinstance(output, str):
        raise PayloadError(f"{found.tool} needs tool_input.{field}")
    old = found.tool_input.get("old_string", "")
    edit = FileEdit(path=path, output=output, fragments=((old if isinstance(old, str) else "", output),))
    transcript = text_field(payload, "transcript_path")
    return Parsed(found.cwd, (Capture((edit,), key, found.session, transcript_path=transcript),))


#: Gemini CLI's chat files are not read for token counts.
usage_from_transcript: UsageReader | None = None


def from_transcript(path: str, tool_call_id: str | None, file_path: str | None = None) -> tuple[str | None, str | None]:
    """``(model, prompt)`` of the turn that wrote ``file_path``, from a Gemini session file.

    The newest ``gemini`` message with a tool call on ``file_path`` gives the model (else the
    newest ``gemini`` message with a model); the user message before it gives the prompt.
    """
    data, _problem = read_bytes(path, TRANSCRIPT_MAX)
    if data is None:
        return None, None
    try:
        record = _lean.loads(data)
    except ValueError:
        return None, None
    messages = record.get("messages") if isinstance(record, dict) else None
    if not isinstance(messages, list):
        return None, None
    chosen = -1
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if not isinstance(message, dict) or message.get("type") != "gemini":
            continue
        calls = message.get("toolCalls")
        touches = isinstance(calls, list) and any(
            isinstance(c, dict) and isinstance(c.get("args"), dict) and c["args"].get("file_path") == file_path
            for c in calls
        )
        if touches or (chosen < 0 and isinstance(message.get("model"), str)):
            chosen = index
            if touches:
                break
    if chosen < 0:
        return None, None
    model = messages[chosen].get("model")
    prompt = None
    for message in reversed(messages[:chosen]):
        if isinstance(message, dict) and message.get("type") == "user" and isinstance(message.get("content"), str):
            prompt = message["content"]
            break
    return (model if isinstance(model, str) else None), prompt
