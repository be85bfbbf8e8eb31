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
    verdict_findings,
)
from codewitness.checks.findings import Finding
from codewitness.checks.index import IndexClient, normalize
from codewitness.checks.popular import PopularNames
from codewitness.errors import InputError

__all__ = ["HookAnswer", "answer_claude"]

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


def _installed(module: str) -> bool:
    from importlib.machinery import PathFinder

    return module in sys.builtin_module_names or PathFinder.find_spec(module) is not None


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
    try:
        after = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return HookAnswer(0)  # deleted, binary or unreadable: nothing a dependency check can say
    before = _before(tool, tool_input, payload.get("tool_response"), after)
    from codewitness.checks.context import is_manifest

    wanted: list[Declared] = []
    if is_manifest(path.name):
        wanted = added_packages(path.name, before, after)
    elif path.suffix == ".py":
        old = _imports(before)
        local = {p.stem for p in path.parent.glob("*.py")} | {p.name for p in path.parent.iterdir() if p.is_dir()}
        for module, line in _imports(after).items():
            if module in old or module in sys.stdlib_module_names or module in local or _installed(module):
                continue
            wanted.append(Declared("pypi", IMPORT_TO_DIST.get(module, module), line, via="import", module=module))
    if not wanted:
        return HookAnswer(0)
    answers = client.lookup_many((d.ecosystem, d.name) for d in wanted)
    lines = after.splitlines()
    findings: list[Finding] = []
    for d in wanted:
        snippet = lines[d.line - 1] if 0 < d.line <= len(lines) else ""
        findings.extend(
            verdict_findings(
                d, answers[(d.ecosystem, d.name)], popular, path=str(path), snippet=snippet, new_days=new_days
            )
        )
    if not findings:
        return HookAnswer(0)
    text = "\n".join(f"- {f.rule_id}: {f.message} ({path.name}:{f.line})" for f in findings)
    if any(f.rule_id == "CW101" for f in findings):
        missing = sorted({normalize(str(f.properties["package"])) for f in findings if f.rule_id == "CW101"})
        return HookAnswer(
            2,
            stderr=(
                f"codewitness: your edit to {path.name} uses package(s) that do not exist: "
                f"{', '.join(missing)}.\n"
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
