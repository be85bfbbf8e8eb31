"""Claude Code: PreToolUse / PostToolUse hooks on Write, Edit and MultiEdit.

Claude Code runs ``.claude/settings.json`` hook commands with one JSON object on stdin:
``session_id``, ``transcript_path``, ``cwd``, ``hook_event_name``, and for tool events
``tool_name``, ``tool_input`` and ``tool_use_id`` (PostToolUse adds ``tool_response``, whose
``structuredPatch`` is the exact patch when present). PreToolUse snapshots the file; PostToolUse
diffs it. The model is not in the payload: it is read from the transcript (JSONL), on the
assistant line whose ``tool_use`` block has our ``tool_use_id``; the prompt is the nearest user
message before it. At commit time the same line gives the response's token ``usage`` and, with the
timestamp of the message it answered, its latency (:func:`usage_from_transcript`).

Example:
    >>> parse({"hook_event_name": "PreToolUse", "tool_name": "Write", "tool_use_id": "t1",
    ...        "tool_input": {"file_path": "/r/a.py", "content": "x"}, "cwd": "/r"}).actions
    (Snapshot(key='t1', paths=('/r/a.py',)),)
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
    Usage,
    json_file,
    merge_hook_settings,
    read_tail,
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
    "EDIT_TOOLS",
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

AGENT = "claude-code"
SETTINGS_FILE = ".claude/settings.json"
#: Events whose answer adds context for the model: before an edit, and when a prompt is submitted.
CONTEXT_EVENTS: tuple[str, ...] = ("PreToolUse", "UserPromptSubmit")
#: PostToolUse exit 2 hands stderr to the model (the edit is done; the model reads the problem).
HOOK_CAN_BLOCK = True
EDIT_TOOLS = ("Write", "Edit", "MultiEdit")
#: Read at most this much of the end of a transcript when looking for a tool call ...
TRANSCRIPT_TAIL = 16_000_000
#: ... starting with this much.
TRANSCRIPT_FIRST_READ = 256_000


def hook_settings(command: str) -> dict[str, Any]:
    """The ``hooks`` entries to merge into ``.claude/settings.json``."""
    return tool_hook_settings(command, "|".join(EDIT_TOOLS))


def install_settings(settings: dict[str, Any], command: str) -> dict[str, Any]:
    """``.claude/settings.json`` (parsed) with our PreToolUse/PostToolUse entries merged in."""
    return merge_hook_settings(settings, hook_settings(command))


def hook_output(message: str, *, block: bool) -> HookOutput:
    """A PostToolUse answer: exit 2 with ``message`` on stderr, or ``additionalContext``."""
    return tool_hook_output("PostToolUse", message, block=block)


def cannot_enable(root: StrPath) -> str | None:
    """``disableAllHooks`` in the project's or the user's settings turns every Claude Code hook off."""
    user = os.environ.get("CLAUDE_CONFIG_DIR") or os.path.join(os.path.expanduser("~"), ".claude")
    for path in (
        os.path.join(root, SETTINGS_FILE),
        os.path.join(root, ".claude", "settings.local.json"),
        os.path.join(user, "settings.json"),
    ):
        data = json_file(path)
        if isinstance(data, dict) and data.get("disableAllHooks") is True:
            return f"{path} sets disableAllHooks, so Claude Code runs no hooks; remove that setting"
    return None


def _output(tool: str, tool_input: Mapping[str, Any]) -> str:
    if tool == "Write":
        return _string(tool_input, "content", allow_empty=True)
    if tool == "Edit":
        return _string(tool_input, "new_string", allow_empty=True)
    edits = tool_input.get("edits")
    if not isinstance(edits, list) or not edits:
        raise PayloadError("MultiEdit tool_input.edits must be a non-empty list")
    return "\n".join(_string(e, "new_string", allow_empty=True) for e in edits if isinstance(e, Mapping))


def _string(data: Any, key: str, *, allow_empty: bool = False) -> str:
    value = data.get(key) if isinstance(data, Mapping) else None
    if not isinstance(value, str) or (not value and not allow_empty):
        raise PayloadError(f"field {key!r} must be a string")
    return value


def parse(payload: Mapping[str, Any]) -> Parsed:
    """Turn one Claude Code hook payload into actions.

    Raises:
        PayloadError: the payload is malformed, or not an event/tool we capture.
    """
    found = tool_event(
        payload, prompt_event="UserPromptSubmit", tool_events=("PreToolUse", "PostToolUse"), tools=EDIT_TOOLS
    )
    if isinstance(found, Parsed):
        return found
    path = _string(found.tool_input, "file_path")
    key = text_field(payload, "tool_use_id")
    if found.before:
        if key is None:
            raise PayloadError("PreToolUse without tool_use_id")
        return Parsed(found.cwd, (Snapshot(key, (path,)),))
    response = payload.get("tool_response")
    response = response if isinstance(response, Mapping) else {}
    original = response.get("originalFile")
    edit = FileEdit(
        path=path,
        output=_output(found.tool, found.tool_input),
        patch=response.get("structuredPatch") or None,
        before_text=original if isinstance(original, str) else None,
        has_before_text=isinstance(original, str) or response.get("type") == "create",
    )
    transcript = text_field(payload, "transcript_path")
    return Parsed(found.cwd, (Capture((edit,), key, found.session, transcript_path=transcript),))


def _tail(path: str, size: int) -> tuple[bytes, bool]:
    """The last ``size`` bytes of the file, and whether that is the whole file.

    Raises:
        OSError: the file cannot be read or is not a regular file (a FIFO is never waited on).
    """
    return read_tail(path, size)


def _user_text(message: Any) -> str | None:
    """The text a person typed, from a transcript ``message`` (not a tool result)."""
    if not isinstance(message, Mapping) or message.get("role") != "user":
        return None
    content = message.get("content")
    if isinstance(content, str):
        return content or None
    if isinstance(content, list):
        if any(isinstance(part, Mapping) and part.get("type") == "tool_result" for part in content):
            return None
        texts = [p.get("text") for p in content if isinstance(p, Mapping) and p.get("type") == "text"]
        joined = "\n".join(t for t in texts if isinstance(t, str))
        return joined or None
    return None


def _line_at(data: bytes, at: int) -> tuple[int, Any]:
    """The start of the line holding byte ``at`` and that line parsed (``None`` when not JSON)."""
    start = data.rfind(b"\n", 0, at) + 1
    end = data.find(b"\n", at)
    try:
        return start, _lean.loads(data[start : end if end >= 0 else len(data)])
    except (ValueError, UnicodeDecodeError):
        return start, None


def _is_call(entry: Any, tool_call_id: str) -> bool:
    if not isinstance(entry, dict):
        return False
    message = entry.get("message")
    content = message.get("content") if isinstance(message, dict) else None
    return (
        entry.get("type") == "assistant"
        and isinstance(content, list)
        and any(isinstance(p, dict) and p.get("type") == "tool_use" and p.get("id") == tool_call_id for p in content)
    )


def from_transcript(path: str, tool_call_id: str | None, file_path: str | None = None) -> tuple[str | None, str | None]:
    """``(model, prompt)`` behind the tool call ``tool_call_id``, read from a Claude transcript.

    The file is read from its end, in growing pieces (transcripts grow to many megabytes; the
    tool call is among the last lines when the hook runs). Unreadable files and lines are
    skipped: the answer is then ``(None, None)`` or partial.
    """
    if not tool_call_id:
        return None, None
    size = TRANSCRIPT_FIRST_READ
    while True:
        try:
            data, whole = _tail(path, size)
        except OSError:
            return None, None
        model, prompt, complete = _search(data, tool_call_id)
        if complete or whole or size >= TRANSCRIPT_TAIL:
            return model, prompt
        size = min(size * 8, TRANSCRIPT_TAIL)


def _search(data: bytes, tool_call_id: str) -> tuple[str | None, str | None, bool]:
    """``(model, prompt, complete)`` from transcript bytes; ``complete`` when both were found."""
    needle = tool_call_id.encode("utf-8")
    at = len(data)
    while True:
        at = data.rfind(needle, 0, at)
        if at < 0:
            return None, None, False
        start, entry = _line_at(data, at)
        if _is_call(entry, tool_call_id):
            break
        at = start
    found = entry["message"].get("model")
    model = found if isinstance(found, str) and found else None
    end = start - 1
    while end > 0:
        begin = data.rfind(b"\n", 0, end) + 1
        line = data[begin:end]
        end = begin - 1
        if b'"user"' not in line:
            continue
        try:
            candidate = _lean.loads(line)
        except (ValueError, UnicodeDecodeError):
            continue
        if isinstance(candidate, dict) and candidate.get("type") == "user" and not candidate.get("isMeta"):
            text = _user_text(candidate.get("message"))
            if text is not None:
                return model, text, True
    return model, None, False


def usage_from_transcript(path: str, tool_call_id: str | None) -> Usage | None:
    """Tokens and latency of the model response that made the tool call ``tool_call_id``.

    Read at commit time, never in the hook. The tokens are the ``usage`` of the assistant message
    holding the tool call (``input_tokens`` plus the cache-creation and cache-read tokens, and
    ``output_tokens``); a response that made several tool calls carries them on its first one only.
    The latency runs from the newest earlier line of another message (the prompt or tool result the
    response answered) to the tool call's line. ``None`` when the call is not in the transcript.
    """
    if not tool_call_id:
        return None
    size = TRANSCRIPT_FIRST_READ
    while True:
        try:
            data, whole = _tail(path, size)
        except OSError:
            return None
        found = _usage(data, tool_call_id)
        if found is not None or whole or size >= TRANSCRIPT_TAIL:
            return found
        size = min(size * 8, TRANSCRIPT_TAIL)


def _count(usage: Mapping[str, Any], *keys: str) -> int | None:
    values = [usage.get(key) for key in keys]
    numbers = [v for v in values if isinstance(v, int) and not isinstance(v, bool) and v >= 0]
    return sum(numbers) if numbers else None


def _message_id(entry: Any) -> Any:
    message = entry.get("message") if isinstance(entry, dict) else None
    return message.get("id") if isinstance(message, dict) else None


def _has_tool_use(entry: Any) -> bool:
    message = entry.get("message") if isinstance(entry, dict) else None
    content = message.get("content") if isinstance(message, dict) else None
    return isinstance(content, list) and any(isinstance(p, dict) and p.get("type") == "tool_use" for p in content)


def _usage(data: bytes, tool_call_id: str) -> Usage | None:
    from datetime import datetime

    needle = tool_call_id.encode("utf-8")
    at = len(data)
    while True:
        at = data.rfind(needle, 0, at)
        if at < 0:
            return None
        start, entry = _line_at(data, at)
        if _is_call(entry, tool_call_id):
            break
        at = start
    usage = entry["message"].get("usage")
    usage = usage if isinstance(usage, Mapping) else {}
    tokens_in = _count(usage, "input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
    tokens_out = _count(usage, "output_tokens")
    own_id = _message_id(entry)
    answered: Any = None
    end = start - 1
    while end > 0 and answered is None:
        begin = data.rfind(b"\n", 0, end) + 1
        try:
            earlier = _lean.loads(data[begin:end])
        except (ValueError, UnicodeDecodeError):
            earlier = None
        end = begin - 1
        if not isinstance(earlier, dict):
            continue
        if own_id is not None and _message_id(earlier) == own_id:
            if _has_tool_use(earlier):  # an earlier tool call of the same response carries its tokens
                tokens_in = tokens_out = None
            continue
        if isinstance(earlier.get("timestamp"), str):
            answered = earlier["timestamp"]
    latency = None
    try:
        if answered is not None and isinstance(entry.get("timestamp"), str):
            delta = datetime.fromisoformat(entry["timestamp"]) - datetime.fromisoformat(answered)
            latency = delta.total_seconds() * 1000 if delta.total_seconds() >= 0 else None
    except (ValueError, TypeError):  # an odd timestamp, or one with and one without a zone
        latency = None
    return Usage(tokens_in, tokens_out, latency)
