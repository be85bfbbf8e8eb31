"""Edit-time mode for coding-agent hooks: tell the agent at once when its edit added a bad package.

Claude Code runs ``codewitness check --hook claude`` after ``Write``/``Edit``/``MultiEdit``
(a ``PostToolUse`` hook). The payload names the file; the edit's new content is read from disk
and compared with the content before the edit (``tool_response.originalFile`` when present,
else reconstructed from ``old_string``/``new_string``). Packages the edit added to a manifest, and
modules it newly imports that nothing installed or declared provides, are checked on the index.

The answer follows Claude Code's hook contract:

* a package that does not exist -> exit 2, the explanation on stderr (fed back to the model);
* a suspicious package (new, single version, quarantined, typosquat, vulnerable, not checked)
  -> exit 0 and ``{"hookSpecificOutput": {"hookEventName": "PostToolUse", "additionalContext": ...}}``;
* nothing to say -> exit 0, no output.

Cursor runs ``codewitness check --hook cursor`` on ``afterFileEdit`` (payload: ``file_path``,
``edits``, ``workspace_roots``). That event cannot block; findings go back as a top-level
``additional_context`` text, exit 0.

Example:
    >>> HookAnswer(0).stdout is None
    True
"""

from __future__ import annotations

import ast
import json
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codewitness.checks.deps import (
    IMPORT_TO_DIST,
    Declared,
    added_packages,
    imported_modules,
    module_installed,
    verdict_findings,
)
from codewitness.checks.findings import Finding
from codewitness.checks.index import IndexClient, normalize
from codewitness.checks.popular import PopularNames
from codewitness.errors import InputError

__all__ = ["HookAnswer", "answer_claude", "answer_cursor", "edit_findings", "parse_payload"]

_EDIT_TOOLS = frozenset({"Write", "Edit", "MultiEdit"})


@dataclass(frozen=True)
class HookAnswer:
    """What the hook process does: its exit code and what it prints where."""

    exit_code: int
    stdout: str | None = None
    stderr: str | None = None
    findings: tuple[Finding, ...] = ()


def parse_payload(text: str) -> dict[str, Any]:
    """The hook payload as a dict.

    Raises:
        InputError: not JSON or not an object.
    """
    try:
        payload = json.loads(text)
    except ValueError as exc:
        raise InputError(f"hook payload is not JSON ({exc})") from None
    if not isinstance(payload, dict):
        raise InputError("hook payload must be a JSON object")
    return payload


def _before(tool: str, tool_input: dict[str, Any], response: Any, after: str) -> str | None:
    if isinstance(response, dict) and isinstance(response.get("originalFile"), str):
        return str(response["originalFile"])
    if tool == "Write":
        return None
    edits = tool_input.get("edits") if tool == "MultiEdit" else [tool_input]
    text = after
    for edit in reversed(edits or []):
        if not isinstance(edit, dict):
            return None
        new, old = edit.get("new_string"), edit.get("old_string")
        if not isinstance(new, str) or not isinstance(old, str) or new not in text:
            return None
        text = text.replace(new, old, 1)
    return text


def _imports(text: str | None) -> dict[str, int]:
    if text is None:
        return {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return {}
    found: dict[str, int] = {}
    for module, line in imported_modules(tree):
        found.setdefault(module, line)
    return found


def edit_findings(
    path: Path, before: str | None, after: str, client: IndexClient, popular: PopularNames, new_days: int = 90
) -> list[Finding]:
    """Findings for the packages one edit added to ``path`` (a manifest, or new imports of a ``.py`` file).

    Args:
        path: the edited file.
        before: its content before the edit, when known (else every package in it counts as added).
        after: its content now.
        client: the package index client.
        popular: the popular-names snapshot.
        new_days: packages younger than this are "new".
    """
    from codewitness.checks.context import is_manifest

    wanted: list[Declared] = []
    if is_manifest(path.name):
        wanted = added_packages(path.name, before, after)
    elif path.suffix == ".py":
        old = _imports(before)
        local = {p.stem for p in path.parent.glob("*.py")} | {p.name for p in path.parent.iterdir() if p.is_dir()}
        for module, line in _imports(after).items():
            if module in old or module in sys.stdlib_module_names or module in local or module_installed(module):
                continue
            wanted.append(Declared("pypi", IMPORT_TO_DIST.get(module, module), line, via="import", module=module))
    if not wanted:
        return []
    answers = client.lookup_many((d.ecosystem, d.name) for d in wanted)
    lines = after.splitlines()
    findings: list[Finding] = []
    for d in wanted:
        snippet = lines[d.line - 1] if 0 < d.line <= len(lines) else ""
        info = answers[(d.ecosystem, d.name)]
        findings.extend(verdict_findings(d, info, popular, path=str(path), snippet=snippet, new_days=new_days))
    return findings


def _summary(path: Path, findings: list[Finding]) -> tuple[str, list[str]]:
    """The findings as agent-readable lines, and the packages that do not exist."""
    text = "\n".join(f"- {f.rule_id}: {f.message} ({path.name}:{f.line})" for f in findings)
    missing = sorted({normalize(str(f.properties["package"])) for f in findings if f.rule_id == "CW101"})
    return text, missing


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None  # deleted, binary or unreadable: nothing a dependency check can say


def answer_claude(
    payload: dict[str, Any], root: Path, client: IndexClient, popular: PopularNames, new_days: int = 90
) -> HookAnswer:
    """Decide the hook's answer for one Claude Code ``PostToolUse`` payload."""
    tool = str(payload.get("tool_name", ""))
    tool_input = payload.get("tool_input")
    if tool not in _EDIT_TOOLS or not isinstance(tool_input, dict) or not isinstance(tool_input.get("file_path"), str):
        return HookAnswer(0)
    path = Path(tool_input["file_path"])
    if not path.is_absolute():
        path = Path(str(payload.get("cwd") or root)) / path
    after = _read(path)
    if after is None:
        return HookAnswer(0)
    before = _before(tool, tool_input, payload.get("tool_response"), after)
    findings = edit_findings(path, before, after, client, popular, new_days)
    if not findings:
        return HookAnswer(0)
    text, missing = _summary(path, findings)
    if missing:
        return HookAnswer(
            2,
            stderr=(
                f"codewitness: your edit to {path.name} uses package(s) that do not exist: {', '.join(missing)}.\n"
                f"{text}\nReplace them with real packages (check the name) before going on."
            ),
            findings=tuple(findings),
        )
    context = (
        f"codewitness dependency check of your edit to {path.name}:\n{text}\n"
        "Verify these packages before relying on them."
    )
    document = {"hookSpecificOutput": {"hookEventName": "PostToolUse", "additionalContext": context}}
    return HookAnswer(0, stdout=json.dumps(document), findings=tuple(findings))


def answer_cursor(
    payload: dict[str, Any], root: Path, client: IndexClient, popular: PopularNames, new_days: int = 90
) -> HookAnswer:
    """Decide the hook's answer for one Cursor ``afterFileEdit`` payload.

    Cursor's ``afterFileEdit`` cannot block (the edit is done); its answer adds text to the agent's
    context through a top-level ``additional_context`` field.
    """
    if not isinstance(payload.get("file_path"), str):
        return HookAnswer(0)
    path = Path(payload["file_path"])
    if not path.is_absolute():
        roots = payload.get("workspace_roots")
        base = roots[0] if isinstance(roots, list) and roots and isinstance(roots[0], str) else str(root)
        path = Path(base) / path
    after = _read(path)
    if after is None:
        return HookAnswer(0)
    before = _before("MultiEdit", {"edits": payload.get("edits")}, None, after) if payload.get("edits") else None
    findings = edit_findings(path, before, after, client, popular, new_days)
    if not findings:
        return HookAnswer(0)
    text, missing = _summary(path, findings)
    head = (
        f"codewitness: your edit to {path.name} uses package(s) that do not exist: {', '.join(missing)}. "
        "Replace them with real packages before going on."
        if missing
        else f"codewitness dependency check of your edit to {path.name}: verify these packages before relying on them."
    )
    return HookAnswer(0, stdout=json.dumps({"additional_context": f"{head}\n{text}"}), findings=tuple(findings))
