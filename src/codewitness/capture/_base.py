"""What every agent module shares: the actions a hook payload turns into, and running them.

Each agent module (``claude``, ``cursor``, ``codex``, ``gemini``) has the same shape, the
:class:`~codewitness.capture.agent.AgentModule` protocol: an id, payload parsing into the
:class:`Snapshot`, :class:`Capture` and :class:`SessionInfo` actions defined here, its settings
file and how our hook entries go in and out of it (:func:`merge_hook_settings`,
:func:`strip_hook_settings`), transcript reading, the answer format of its hooks
(:class:`HookOutput`) and the reason it cannot be enabled, if any.

:func:`run` executes the actions against the files on disk and the pending journal. It reads
each file after the edit and takes the lines the agent wrote from the exact before snapshot
(or the agent's own patch, checked against the snapshots) — never by searching the file for
the agent's text. Standard library only: this is the hook's fast path.

Example:
    >>> Snapshot(key="toolu_1", paths=("src/a.py",)).paths
    ('src/a.py',)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence

from codewitness._read import read_bytes, read_tail
from codewitness.capture._lean import NamedTuple, StrPath, dumps, loads
from codewitness.capture.checkpoint import (
    Hunk,
    added_ranges,
    apply_hunks,
    compact_lines,
    diff_hunks,
    hunks_from_structured_patch,
    split_lines,
)
from codewitness.capture.journal import Journal

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "MAX_FILE_BYTES",
    "Action",
    "Capture",
    "FileEdit",
    "HookOutput",
    "Outcome",
    "Parsed",
    "PayloadError",
    "SessionInfo",
    "Snapshot",
    "StrPath",
    "ToolEvent",
    "TranscriptReader",
    "Usage",
    "UsageReader",
    "context_hook_output",
    "find_root",
    "json_file",
    "merge_hook_settings",
    "prompt_action",
    "read_bytes",
    "read_repo_text",
    "read_tail",
    "read_text",
    "repo_relative",
    "run",
    "strip_hook_settings",
    "text_field",
    "tool_event",
    "tool_hook_output",
]

#: Files larger than this are not captured (logged and counted instead).
MAX_FILE_BYTES = 2_000_000


class PayloadError(ValueError):
    """A hook payload that is malformed or of a kind this agent module does not handle."""


class Snapshot(NamedTuple):
    """Before a tool runs: remember the current text of ``paths`` under the tool call ``key``."""

    key: str
    paths: tuple[str, ...]


class FileEdit(NamedTuple):
    """One file an agent tool call changed.

    Attributes:
        path: the file as the agent named it (absolute, or relative to the payload's cwd).
        output: the raw output of the edit (the new text, the patch) — the generation's output.
        patch: an agent-reported unified patch (``structuredPatch`` shape), checked before use.
        line_ranges: exact 1-based spans of the new file the agent reports it wrote.
        before_text: the file's text before the edit as the payload reports it.
        has_before_text: whether ``before_text`` is meaningful (``None`` then means "absent").
        fragments: ``(old, new)`` string pairs of the edit, to check diff hunks against when no
            before snapshot exists (Cursor reports no before hook for file edits).
        source_path: for a rename, the path the before snapshot was taken under.
    """

    path: str
    output: str
    patch: Any = None
    line_ranges: tuple[tuple[int, int], ...] = ()
    before_text: str | None = None
    has_before_text: bool = False
    fragments: tuple[tuple[str, str], ...] = ()
    source_path: str | None = None


class Capture(NamedTuple):
    """After a tool ran: the files it changed and who asked for it."""

    edits: tuple[FileEdit, ...]
    key: str | None = None
    session_id: str | None = None
    model: str | None = None
    prompt: str | None = None
    transcript_path: str | None = None


class SessionInfo(NamedTuple):
    """The latest prompt and/or model of a session (from prompt-submit style events)."""

    session_id: str
    prompt: str | None = None
    model: str | None = None


Action = Snapshot | Capture | SessionInfo


class Parsed(NamedTuple):
    """What a payload means: the folder its relative paths start from, and the actions."""

    cwd: str | None
    actions: tuple[Action, ...] = ()


TranscriptReader = Callable[[str, str | None, str | None], tuple[str | None, str | None]]


class Usage(NamedTuple):
    """What an agent's transcript says about the model response behind one tool call.

    Attributes:
        input_tokens: prompt tokens, cached ones included (``None`` when another tool call of the
            same response already carries the response's tokens, so they count once).
        output_tokens: tokens the model produced in that response (``None`` likewise).
        latency_ms: from the message the response answered to the tool call, when both are dated.
    """

    input_tokens: int | None = None
    output_tokens: int | None = None
    latency_ms: float | None = None


#: ``(transcript path, tool_call_id) -> Usage or None``, read at commit time (never in the hook).
UsageReader = Callable[[str, str | None], Usage | None]


class Outcome:
    """What :func:`run` did, for the log and for tests."""

    def __init__(self) -> None:
        self.snapshots = 0
        self.edits = 0
        self.skipped: list[str] = []


def find_root(start: StrPath) -> str | None:
    """The top of the git work tree holding ``start`` (a folder with ``.git``), found without git."""
    folder = os.path.realpath(start)
    while True:
        if os.path.exists(os.path.join(folder, ".git")):
            return folder
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent


def read_text(path: StrPath, max_bytes: int = MAX_FILE_BYTES, *, follow: bool = True) -> tuple[str | None, str | None]:
    """``(text, None)`` for a readable UTF-8 text file, ``(None, None)`` when it does not exist,
    ``(None, reason)`` when it cannot be captured (binary, too large, unreadable, not a regular
    file); read as :func:`read_bytes` reads, never blocking."""
    data, problem = read_bytes(path, max_bytes, follow=follow)
    if data is None:
        return None, problem
    if b"\0" in data:
        return None, "binary file"
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError:
        return None, "not UTF-8 text"


def read_repo_text(root: str, rel: str, max_bytes: int = MAX_FILE_BYTES) -> tuple[str, str | None, str | None]:
    """The text of the work-tree file ``rel`` under ``root`` (a resolved path), read as
    :func:`read_text` reads, after resolving symbolic links.

    Returns:
        ``(rel, text, problem)``: ``rel`` is the file the path resolves to (an edit through a
        link inside the repository changed the link's target); a path that resolves outside the
        work tree (or into ``.git``) is refused, so text outside the repository is never read.
    """
    real = os.path.realpath(os.path.join(root, rel))
    inside = _inside(root, real)
    if inside is None:
        return rel, None, "a symbolic link to a file outside the repository"
    # O_NOFOLLOW: a link swapped in after the path was resolved is refused, not followed.
    text, problem = read_text(real, max_bytes, follow=False)
    return inside, text, problem


def _inside(root: str, real: str) -> str | None:
    """``real`` as a ``/``-separated path relative to ``root``; ``None`` outside it or in ``.git``."""
    try:
        rel = os.path.relpath(real, root)
    except ValueError:  # another drive (Windows)
        return None
    text = rel.replace(os.sep, "/")
    if text in ("", ".", "..") or text.startswith("../") or text.split("/")[0] == ".git":
        return None
    return text


def repo_relative(root: str, cwd: str | None, name: str) -> str | None:
    """``name`` as a ``/``-separated path relative to ``root``, or ``None`` when outside it."""
    if not name or "\0" in name:
        return None
    full = os.path.normpath(name if os.path.isabs(name) else os.path.join(cwd or root, name))
    rel = _inside(root, full)
    if rel is None and not full.startswith(os.path.join(root, ".git") + os.sep):
        # The agent may name the folder through a symlink (e.g. /tmp -> /private/tmp).
        rel = _inside(root, os.path.realpath(full))
    return rel


def _index_text(root: str, rel: str) -> str | None:
    """The staged text of ``rel``, or ``None`` when git has none (or takes over 5 s)."""
    # Imported here: the hook's common path never starts git, nor loads what running it needs.
    from codewitness._git import blob_text

    return blob_text(root, "", rel, timeout=5)


def _explained(hunk: Hunk, old: Sequence[str], new: Sequence[str], fragments: Sequence[tuple[str, str]]) -> bool:
    """Whether a diff hunk is accounted for by one of the agent's ``(old, new)`` edit strings.

    The hunk's new lines must be text the agent wrote: either all of them lie inside one
    ``new`` string, or they are exactly the lines that one ``new`` string spans (an edit that
    starts or ends mid-line). Only the hunk and the edit strings are compared.
    """
    _, _, b0, b1 = hunk
    if b1 == b0:
        return False
    written = "\n".join(new[b0:b1])
    for _, fragment in fragments:
        piece = fragment.replace("\r\n", "\n").strip("\n")
        if not piece.strip():
            continue
        if written.strip() and written in piece:
            return True
        at = written.find(piece)
        if at >= 0 and "\n" not in written[:at] and "\n" not in written[at + len(piece) :]:
            return True
    return False


def _ranges_hold(after: Sequence[str], edit: FileEdit) -> bool:
    """Whether every reported range lies in the file and holds the text of one of the edits."""
    if not edit.line_ranges:
        return False
    texts = [new.replace("\r\n", "\n").strip("\n") for _, new in edit.fragments]
    for first, last in edit.line_ranges:
        if not 1 <= first <= last <= len(after):
            return False
        held = "\n".join(after[first - 1 : last])
        if texts and not any(text and text in held for text in texts):
            return False
    return True


def _ai_lines(edit: FileEdit, before: str | None, exact_before: bool, after: str) -> tuple[tuple[int, int], ...]:
    """The 1-based spans of ``after`` this edit wrote."""
    old, new = split_lines(before or ""), split_lines(after)
    hunks = diff_hunks(old, new)
    # Whatever the agent reports, a line that did not change is never the agent's.
    changed = {line for a, b in added_ranges(hunks) for line in range(a, b + 1)}
    if _ranges_hold(new, edit):
        return _within(edit.line_ranges, changed)
    if edit.patch is not None:
        reported = hunks_from_structured_patch(edit.patch, new)
        if reported is not None and (not exact_before or apply_hunks(old, new, reported)):
            return _within(added_ranges(reported), changed)
    if exact_before:
        return added_ranges(hunks)
    return added_ranges(h for h in hunks if _explained(h, old, new, edit.fragments))


def _within(spans: Iterable[tuple[int, int]], lines: set[int]) -> tuple[tuple[int, int], ...]:
    """The parts of ``spans`` that fall on ``lines``, as sorted merged spans."""
    return compact_lines(line for a, b in spans for line in range(a, b + 1) if line in lines)


class _Read(NamedTuple):
    """One file of a :class:`Capture`, read before the journal is locked."""

    edit: FileEdit
    rel: str
    source: str
    after: str
    index_text: str | None = None
    has_index_text: bool = False


class _ReadSnapshot(NamedTuple):
    """The texts a :class:`Snapshot` read: ``(path, text or None when absent)``."""

    key: str
    texts: tuple[tuple[str, str | None], ...]


class _ReadCapture(NamedTuple):
    """What :func:`run` reads for a :class:`Capture` before taking the journal's write lock."""

    action: Capture
    files: tuple[_Read, ...]
    model: str | None
    prompt: str | None


def run(
    agent: str,
    parsed: Parsed,
    journal: Journal,
    root: StrPath,
    *,
    transcript: TranscriptReader | None = None,
    max_bytes: int = MAX_FILE_BYTES,
) -> Outcome:
    """Carry out the actions of one payload against the files under ``root`` and the journal.

    Every file (work-tree files, the agent's transcript, the staged text git has) is read
    first, and the journal's write lock is taken only for the writes: a slow or hostile file
    then delays this hook alone, never the hooks that run after it.

    Args:
        agent: our agent id, e.g. ``"claude-code"``.
        parsed: what the agent module made of the payload.
        journal: the project's pending journal.
        root: the git work tree the edits must fall inside.
        transcript: the agent's transcript reader, for a model/prompt the payload lacks.
        max_bytes: files larger than this are skipped.

    Returns:
        Counts of what was stored and the reasons files were skipped.
    """
    outcome = Outcome()
    root = os.path.realpath(root)
    sessions: dict[str, tuple[str | None, str | None]] = {}
    steps: list[SessionInfo | _ReadSnapshot | _ReadCapture] = []
    for action in parsed.actions:
        if isinstance(action, SessionInfo):
            steps.append(action)
            prompt, model = sessions.get(action.session_id, (None, None))
            sessions[action.session_id] = (action.prompt or prompt, action.model or model)
        elif isinstance(action, Snapshot):
            steps.append(_read_snapshot(root, parsed.cwd, action, max_bytes, outcome))
        else:
            read = _read_capture(agent, parsed.cwd, action, journal, root, transcript, max_bytes, outcome, sessions)
            steps.append(read)
    with journal.batch():
        for step in steps:
            if isinstance(step, SessionInfo):
                journal.note_session(agent, step.session_id, prompt=step.prompt, model=step.model)
            elif isinstance(step, _ReadSnapshot):
                for rel, text in step.texts:
                    journal.put_snapshot(step.key, rel, text)
                    outcome.snapshots += 1
            else:
                _capture(agent, step, journal, root, outcome)
    return outcome


def _read_snapshot(root: str, cwd: str | None, action: Snapshot, max_bytes: int, outcome: Outcome) -> _ReadSnapshot:
    texts: list[tuple[str, str | None]] = []
    for name in action.paths:
        rel = repo_relative(root, cwd, name)
        if rel is None:
            outcome.skipped.append(f"{name}: outside the repository")
            continue
        rel, text, problem = read_repo_text(root, rel, max_bytes)
        if problem:
            outcome.skipped.append(f"{rel}: {problem}")
            continue
        texts.append((rel, text))
    return _ReadSnapshot(action.key, tuple(texts))


def _read_capture(
    agent: str,
    cwd: str | None,
    action: Capture,
    journal: Journal,
    root: str,
    transcript: TranscriptReader | None,
    max_bytes: int,
    outcome: Outcome,
    sessions: Mapping[str, tuple[str | None, str | None]],
) -> _ReadCapture:
    """Read the files of ``action`` (and what else it needs) without holding the journal's lock."""
    files: list[_Read] = []
    for edit in action.edits:
        rel = repo_relative(root, cwd, edit.path)
        if rel is None:
            outcome.skipped.append(f"{edit.path}: outside the repository")
            continue
        rel, after, problem = read_repo_text(root, rel, max_bytes)
        if problem or after is None:
            outcome.skipped.append(f"{rel}: {problem or 'no longer exists'}")
            continue
        named = repo_relative(root, cwd, edit.source_path) if edit.source_path else None
        source = (_inside(root, os.path.realpath(os.path.join(root, named))) or named) if named else rel
        read = _Read(edit, rel, source, after)
        # Git is asked for the staged text only when the journal knows no text before the edit
        # (looked at without the lock here, and again under it).
        snapshot = action.key is not None and journal.has_snapshot(action.key, source)
        if not edit.has_before_text and not snapshot and not journal.last_after(rel)[0]:
            read = read._replace(index_text=_index_text(root, rel), has_index_text=True)
        files.append(read)
    model, prompt = action.model, action.prompt
    if action.session_id and (model is None or prompt is None):
        known_prompt, known_model = sessions.get(action.session_id, (None, None))
        if known_prompt is None or known_model is None:
            stored_prompt, stored_model = journal.session(agent, action.session_id)
            known_prompt, known_model = known_prompt or stored_prompt, known_model or stored_model
        model, prompt = model or known_model, prompt or known_prompt
    if files and transcript is not None and action.transcript_path and (model is None or prompt is None):
        found_model, found_prompt = transcript(action.transcript_path, action.key, files[0].edit.path)
        model, prompt = model or found_model, prompt or found_prompt
    return _ReadCapture(action, tuple(files), model, prompt)


def _capture(agent: str, read: _ReadCapture, journal: Journal, root: str, outcome: Outcome) -> None:
    action = read.action
    for file in read.files:
        edit, rel = file.edit, file.rel
        found, before = journal.take_snapshot(action.key, file.source) if action.key else (False, None)
        exact = found
        if not found and edit.has_before_text:
            before, exact = edit.before_text, True
        if not exact:
            seen, last = journal.last_after(rel)
            if seen:
                before = last
            elif file.has_index_text:
                before = file.index_text
            else:  # another hook changed the journal since the files were read
                before = _index_text(root, rel)
        spans = _ai_lines(edit, before, exact, file.after)
        if not spans:
            outcome.skipped.append(f"{rel}: no lines attributable to the agent")
            continue
        journal.add_edit(
            agent=agent,
            path=rel,
            before=before,
            after=file.after,
            ai_lines=spans,
            output=edit.output,
            session_id=action.session_id,
            tool_call_id=action.key,
            model=read.model,
            prompt=read.prompt,
            transcript_path=action.transcript_path,
        )
        outcome.edits += 1


def text_field(data: Mapping[str, Any], key: str) -> str | None:
    """``data[key]`` when it is a non-empty string, else ``None``."""
    value = data.get(key)
    return value if isinstance(value, str) and value else None


def prompt_action(event: str, cwd: str | None, session: str | None, prompt: Any, model: str | None = None) -> Parsed:
    """The action of a prompt-submit event: remember the session's prompt (and model).

    Raises:
        PayloadError: the session id or the prompt is missing.
    """
    if session is None or not isinstance(prompt, str) or not prompt:
        raise PayloadError(f"{event} needs a session id and a prompt")
    return Parsed(cwd, (SessionInfo(session, prompt=prompt, model=model),))


class ToolEvent(NamedTuple):
    """A before/after tool event on a tool that edits files (what :func:`tool_event` found)."""

    before: bool
    cwd: str | None
    session: str | None
    tool: str
    tool_input: Mapping[str, Any]


def tool_event(
    payload: Mapping[str, Any],
    *,
    prompt_event: str,
    tool_events: tuple[str, str],
    tools: Sequence[str],
    model: str | None = None,
) -> ToolEvent | Parsed:
    """Sort a Claude-style payload (``hook_event_name``, ``tool_name``, ``tool_input``, ``cwd``,
    ``session_id``) into a prompt action, or a before/after event of one of ``tools``.

    Args:
        payload: the hook's JSON object.
        prompt_event: the agent's prompt-submit event name.
        tool_events: the agent's (before, after) tool event names.
        tools: the tool names that edit files.
        model: the model the payload names, if any.

    Raises:
        PayloadError: another event or tool, or no ``tool_input`` object.
    """
    event = payload.get("hook_event_name")
    cwd, session = text_field(payload, "cwd"), text_field(payload, "session_id")
    if event == prompt_event:
        return prompt_action(prompt_event, cwd, session, payload.get("prompt"), model)
    if event not in tool_events:
        raise PayloadError(f"event {event!r} is not captured")
    tool = payload.get("tool_name")
    if tool not in tools:
        raise PayloadError(f"tool {tool!r} is not captured")
    tool_input = payload.get("tool_input")
    if not isinstance(tool_input, Mapping):
        raise PayloadError("tool_input must be an object")
    return ToolEvent(event == tool_events[0], cwd, session, str(tool), tool_input)


class HookOutput(NamedTuple):
    """What a hook process answers its agent: the exit code, and what it writes to stdout and stderr."""

    exit_code: int
    stdout: str | None = None
    stderr: str | None = None


def tool_hook_output(event: str, message: str, *, block: bool) -> HookOutput:
    """The answer of an after-tool hook in Claude Code's contract, which Codex and Gemini CLI follow.

    Args:
        event: the agent's after-tool event name (``hookSpecificOutput.hookEventName``).
        message: the text for the model.
        block: hand ``message`` to the model as the tool call's problem (exit 2, ``message`` on
            stderr); otherwise add it to the model's context (exit 0, ``additionalContext``).
    """
    if block:
        return HookOutput(2, stderr=message)
    document = {"hookSpecificOutput": {"hookEventName": event, "additionalContext": message}}
    return HookOutput(0, stdout=dumps(document))


def context_hook_output(event: str, message: str) -> HookOutput:
    """A before-tool or prompt hook's answer that adds ``message`` to the model's context (Claude Code's
    ``hookSpecificOutput.additionalContext``, which Codex and Gemini CLI follow)."""
    return tool_hook_output(event, message, block=False)


#: Hook entries of ours are those whose command runs this module.
HOOK_MODULE = "codewitness.capture.hook"


def tool_hook_settings(command: str, matcher: str) -> dict[str, Any]:
    """Hook entries in Claude Code's settings shape, which Codex follows: ``command`` before and after
    each tool call matching ``matcher`` (the edit tools), and when a prompt is submitted."""
    tool_entry = {"matcher": matcher, "hooks": [{"type": "command", "command": command}]}
    prompt_entry = {"hooks": [{"type": "command", "command": command}]}
    return {"hooks": {"PreToolUse": [tool_entry], "PostToolUse": [tool_entry], "UserPromptSubmit": [prompt_entry]}}


def _mentions(value: Any, text: str) -> bool:
    if isinstance(value, str):
        return text in value
    if isinstance(value, Mapping):
        return any(_mentions(k, text) or _mentions(v, text) for k, v in value.items())
    if isinstance(value, list):
        return any(_mentions(v, text) for v in value)
    return False


def merge_hook_settings(settings: dict[str, Any], wanted: Mapping[str, Any]) -> dict[str, Any]:
    """``settings`` (an agent's parsed settings file) with the ``wanted`` hook entries added where missing.

    Top-level keys other than ``hooks`` (Cursor's ``version``) are set only when absent. Entries
    of ours that differ from the wanted ones (another interpreter path, an older codewitness)
    are replaced, so each event runs our hook once. ``settings`` is changed in place.

    Raises:
        InputError: the settings' ``hooks`` value, or one event's list, has the wrong type.
    """
    from codewitness.errors import InputError

    for key, value in wanted.items():
        if key != "hooks":
            settings.setdefault(key, value)
            continue
        hooks = settings.setdefault("hooks", {})
        if not isinstance(hooks, dict):
            raise InputError('the settings\' "hooks" value must be an object')
        for event, entries in value.items():
            present = hooks.setdefault(event, [])
            if not isinstance(present, list):
                raise InputError(f"the settings' hooks.{event} value must be a list")
            present[:] = [e for e in present if not _mentions(e, HOOK_MODULE) or e in entries]
            for entry in entries:
                if entry not in present:
                    present.append(entry)
    return settings


def strip_hook_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """``settings`` without our hook entries (events left empty are removed); changed in place."""
    hooks = settings.get("hooks")
    if not isinstance(hooks, dict):
        return settings
    for event in list(hooks):
        entries = hooks[event]
        if isinstance(entries, list):
            kept = [e for e in entries if not _mentions(e, HOOK_MODULE)]
            if kept:
                hooks[event] = kept
            else:
                del hooks[event]
    if not hooks:
        del settings["hooks"]
    return settings


def json_file(path: StrPath, max_bytes: int = 4_000_000) -> Any:
    """The JSON document in ``path``; ``None`` when it is missing, unreadable or not JSON."""
    data, _problem = read_bytes(path, max_bytes)
    if data is None:
        return None
    try:
        return loads(data)
    except (ValueError, UnicodeDecodeError):
        return None
