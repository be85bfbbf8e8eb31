"""Edit-time mode for coding-agent hooks: tell the agent at once when its edit added a bad package.

Claude Code runs ``codewitness check --hook claude`` after ``Write``/``Edit``/``MultiEdit``
(a ``PostToolUse`` hook). The agent's module reads the payload
(:func:`codewitness.capture.edits.edited_files`): the edit's new content is read from disk and
compared with the exact content before it (what the agent reports, the snapshot our capture hook
took, or the agent's own patch; else the last known text). Packages the edit added to a
manifest, and modules it newly imports that nothing installed or declared provides, are checked
on the index.

The answer follows Claude Code's hook contract (the agent module writes it):

* a package that does not exist -> exit 2, the explanation on stderr (fed back to the model);
* a suspicious package (new, single version, quarantined, typosquat, vulnerable, not checked)
  -> exit 0 and ``{"hookSpecificOutput": {"hookEventName": "PostToolUse", "additionalContext": ...}}``;
* nothing to say -> exit 0, no output.

A Python file the edit changed is also put through the gate's content rules
(:func:`codewitness.checks.gate.check_content`: names a module does not have, CW2xx, and the
security rules, CW3xx); the findings on the lines the edit wrote are reported with the package
findings, and one at or above ``check.fail_on`` blocks as a missing package does.

Cursor runs ``codewitness check --hook cursor`` on ``afterFileEdit`` (payload: ``file_path``,
``edits``, ``workspace_roots``). That event cannot block; findings go back as a top-level
``additional_context`` text, exit 0. Codex (``--hook codex``, PostToolUse on ``apply_patch``) and
Gemini CLI (``--hook gemini``, AfterTool) are read through their agent modules the same way.

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

from codewitness.capture._base import PayloadError
from codewitness.capture.agent import AgentModule, agent_module
from codewitness.capture.checkpoint import pair_lines, split_lines
from codewitness.capture.edits import edited_files
from codewitness.checks.context import imported_modules, is_manifest
from codewitness.checks.deps import (
    IMPORT_TO_DIST,
    Declared,
    added_packages,
    module_installed,
    verdict_findings,
)
from codewitness.checks.findings import Finding
from codewitness.checks.index import IndexClient, normalize
from codewitness.checks.popular import PopularNames
from codewitness.checks.rules import severity_at_least
from codewitness.errors import InputError

__all__ = ["HookAnswer", "answer", "answer_claude", "answer_cursor", "code_findings", "edit_findings", "parse_payload"]


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


def code_findings(root: Path, path: Path, before: str | None, after: str, *, offline: bool = False) -> list[Finding]:
    """The gate's content rules (APIs, security) on a Python file an edit changed, on the lines it wrote.

    Args:
        root: the project.
        path: the edited file (inside ``root``; any other file has no findings here).
        before: its text before the edit (``None``: every line is the edit's).
        after: its text now.
        offline: passed on (the content families ask no package index).
    """
    if path.suffix != ".py":
        return []
    from codewitness.checks.gate import check_content

    try:
        run = check_content(root, str(path), after, families=("apis", "security"), offline=offline)
    except InputError:
        return []  # outside the project: not ours to judge
    pairs = pair_lines(split_lines(before or ""), split_lines(after))
    written = {number for number, (_old, same) in enumerate(pairs, 1) if not same}
    return [f for f in run.report.findings if f.line in written]


def _summary(path: Path, findings: list[Finding]) -> tuple[str, list[str]]:
    """The findings as agent-readable lines, and the packages that do not exist."""
    text = "\n".join(f"- {f.rule_id}: {f.message} ({path.name}:{f.line})" for f in findings)
    missing = sorted({normalize(str(f.properties["package"])) for f in findings if f.rule_id == "CW101"})
    return text, missing


def answer(
    agent: str,
    payload: dict[str, Any],
    root: Path,
    client: IndexClient,
    popular: PopularNames,
    new_days: int = 90,
    *,
    fail_on: str = "high",
) -> HookAnswer:
    """Decide the hook's answer for one after-edit payload of ``agent`` (``claude``, ``cursor``, ...).

    A package that does not exist, or a finding of the content rules at or above ``fail_on``,
    blocks where the agent's hook can block; everything else is added context.

    Raises:
        UsageError: an unknown agent.
    """
    module = agent_module(agent)
    try:
        files = edited_files(module, payload, cwd=str(root))
    except PayloadError:
        return HookAnswer(0)  # another event or tool: nothing to check
    findings: list[Finding] = []
    messages: list[str] = []
    block = False
    for edited in files:
        path = Path(edited.path)
        found = edit_findings(path, edited.before, edited.after, client, popular, new_days)
        found += code_findings(root, path, edited.before, edited.after, offline=client.offline)
        if found:
            text, missing = _summary(path, found)
            failing = fail_on != "never" and any(severity_at_least(f.level, fail_on) for f in found)
            messages.append(_message(module, path, text, missing, failing))
            block = block or bool(missing) or failing
            findings.extend(found)
    if not findings:
        return HookAnswer(0)
    out = module.hook_output("\n\n".join(messages), block=block)
    return HookAnswer(out.exit_code, stdout=out.stdout, stderr=out.stderr, findings=tuple(findings))


def _message(module: AgentModule, path: Path, text: str, missing: list[str], failing: bool = False) -> str:
    """The findings of one file for the model: stop-and-fix wording where the hook can block, the
    headline first where it can only add context."""
    if missing and module.HOOK_CAN_BLOCK:
        return (
            f"codewitness: your edit to {path.name} uses package(s) that do not exist: {', '.join(missing)}.\n"
            f"{text}\nReplace them with real packages (check the name) before going on."
        )
    if missing:
        return (
            f"codewitness: your edit to {path.name} uses package(s) that do not exist: {', '.join(missing)}. "
            f"Replace them with real packages before going on.\n{text}"
        )
    if failing and module.HOOK_CAN_BLOCK:
        return f"codewitness: your edit to {path.name} would fail the merge gate:\n{text}\nFix these before going on."
    if failing:
        return f"codewitness: your edit to {path.name} would fail the merge gate; fix these before going on.\n{text}"
    if module.HOOK_CAN_BLOCK:
        return f"codewitness check of your edit to {path.name}:\n{text}\nVerify these before relying on them."
    return f"codewitness check of your edit to {path.name}: verify these before relying on them.\n{text}"


def answer_claude(
    payload: dict[str, Any], root: Path, client: IndexClient, popular: PopularNames, new_days: int = 90
) -> HookAnswer:
    """Decide the hook's answer for one Claude Code ``PostToolUse`` payload."""
    return answer("claude", payload, root, client, popular, new_days)


def answer_cursor(
    payload: dict[str, Any], root: Path, client: IndexClient, popular: PopularNames, new_days: int = 90
) -> HookAnswer:
    """Decide the hook's answer for one Cursor ``afterFileEdit`` payload.

    Cursor's ``afterFileEdit`` cannot block (the edit is done); its answer adds text to the agent's
    context through a top-level ``additional_context`` field.
    """
    return answer("cursor", payload, root, client, popular, new_days)
