"""``codewitness init`` and ``codewitness uninstall``: install capture, and take it away exactly.

:func:`install` makes, in a git repository:

* the agents' project hook settings (``.claude/settings.json``, ``.cursor/hooks.json``,
  ``.codex/hooks.json``, ``.gemini/settings.json``), merged into what is there;
* git hooks ``post-commit``, ``post-merge``, ``post-rewrite``, ``pre-push`` and
  ``prepare-commit-msg`` (sources of a commit being finished; ``Codewitness-Generation`` trailers when
  configured) in the hooks folder git uses (``core.hooksPath`` honoured); an existing hook is kept, renamed
  ``<hook>.codewitness-chained``, and run first by ours with the same arguments and input;
* on every remote, a fetch refspec that keeps the remote's notes in
  ``refs/notes/remotes/<remote>/codewitness`` (:mod:`codewitness.capture.sync`) and a push refspec
  for ``refs/notes/codewitness``;
* a ``.codewitness/`` line in ``.gitignore`` and a ``codewitness.toml`` when there is no config.

Every change is recorded in ``.codewitness/install.json`` together with the original bytes of
each file it touched. :func:`uninstall` restores those bytes when the file still holds what
install wrote (byte-for-byte reversal), and otherwise removes only our own entries. Running
install twice changes nothing the second time.

Example:
    >>> report = install(Path("."), agents=("claude",))  # doctest: +SKIP
    >>> report.changed  # doctest: +SKIP
    ['.claude/settings.json', '.git/hooks/post-commit', ...]
"""

from __future__ import annotations

import json
import os
import shlex
import stat
import sys
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codewitness._git import config_values, git_path, repo_root, run_git
from codewitness._statedir import IGNORE_LINE, ignores_state
from codewitness.capture import AGENT_MODULES
from codewitness.capture.agent import agent_modules
from codewitness.capture.commit import SOURCES_FILE, STATE_FILES
from codewitness.capture.journal import JOURNAL_NAME
from codewitness.capture.sync import LEGACY_FETCH_REFSPEC, fetch_refspec, push_enabled
from codewitness.errors import InputError, UsageError

__all__ = [
    "GIT_HOOKS",
    "HOOK_MARK",
    "MANIFEST",
    "SetupReport",
    "hook_command",
    "hook_script",
    "install",
    "install_git",
    "installed_agents",
    "uninstall",
]

MANIFEST = ".codewitness/install.json"
GIT_HOOKS = ("post-commit", "post-merge", "post-rewrite", "pre-push", "prepare-commit-msg")
NOTES_PUSH = "refs/notes/codewitness"
#: Hooks that get input on stdin (passed on to a chained hook and to ours).
_STDIN_HOOKS = ("post-rewrite", "pre-push")
CHAINED = ".codewitness-chained"
_MARK = "# codewitness: installed by `codewitness init`; `codewitness uninstall` removes it"
_IGNORE_LINE = IGNORE_LINE


@dataclass
class SetupReport:
    """What :func:`install` or :func:`uninstall` changed (paths relative to the work tree)."""

    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def hook_command(agent: str | None = None, python: str | None = None) -> str:
    """The shell command that runs the hook with this interpreter (``--git`` form when ``agent`` is None).

    An agent's command ends in ``|| true``: where the interpreter does not exist (a teammate's
    machine, a moved virtual environment) the agent still sees success.
    """
    exe = shlex.quote(python or sys.executable)
    if agent is None:
        return f"{exe} -m codewitness.capture.hook --git"
    return f"{exe} -m codewitness.capture.hook {agent} || true"


def _load_manifest(root: Path) -> dict[str, Any]:
    path = root / MANIFEST
    if not path.is_file():
        return {"version": 1, "agents": [], "files": {}, "git_hooks": {}, "config": []}
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{path} is unreadable ({exc}); remove it and edit the hook settings by hand") from None
    if not isinstance(data, dict) or data.get("version") != 1:
        raise InputError(f"{path} is not a codewitness install record")
    return data


def _save_manifest(root: Path, manifest: dict[str, Any]) -> None:
    path = root / MANIFEST
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", "utf-8")


def _read(path: Path) -> str | None:
    try:
        return path.read_text("utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path} cannot be read as UTF-8 text ({exc})") from None


def _write_tracked(root: Path, rel: str, text: str, manifest: dict[str, Any], report: SetupReport) -> None:
    """Write ``text`` to ``rel``, remembering the file's original content the first time."""
    path = root / rel
    old = _read(path)
    if old == text:
        report.unchanged.append(rel)
        return
    files = manifest["files"]
    if rel not in files:
        created = [
            str(p.relative_to(root))
            for p in reversed(path.parents)
            if p != root and root in p.parents and not p.exists()
        ]
        files[rel] = {"original": old, "created_dirs": created}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, "utf-8")
    files[rel]["written"] = text
    report.changed.append(rel)


def _json_object(root: Path, rel: str) -> dict[str, Any]:
    text = _read(root / rel)
    if text is None or not text.strip():
        return {}
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise InputError(f"{rel} is not valid JSON ({exc}); fix it, then run `codewitness init` again") from None
    if not isinstance(data, dict):
        raise InputError(f"{rel} must hold a JSON object")
    return data


def _hook_script(hook: str, python: str) -> str:
    command = hook_command(None, python)
    if hook in _STDIN_HOOKS:
        feed = """printf '%s\\n' "$input" | """
        return _sh(hook, f"""{feed}{command} {hook} "$@" || true\n""", before=feed, first="input=$(cat)\n")
    if hook == "prepare-commit-msg":
        # Runs before every commit: Python starts only when git is finishing a cherry-pick, revert,
        # merge or squash (or an earlier record must be cleared), or when agents' edits are pending
        # (the commit may take Codewitness-Generation trailers, capture.commit_trailer).
        states = " ".join(STATE_FILES)
        return _sh(
            hook,
            f"""gitdir=$(git rev-parse --git-dir 2>/dev/null)
run=
[ -f .codewitness/{SOURCES_FILE} ] || [ -f .codewitness/{JOURNAL_NAME} ] && run=1
for state in {states}; do
    [ -f "$gitdir/$state" ] && run=1
done
if [ -n "$run" ]; then
    {command} {hook} "$@" </dev/null || true
fi
""",
        )
    return _sh(hook, f"""{command} {hook} "$@" </dev/null || true\n""")


def _sh(hook: str, body: str, *, before: str = "", first: str = "") -> str:
    """A git hook script that runs the hook that was there before ours (``before`` its command
    line), keeps its exit status, and then runs ``body`` (``first`` runs before everything)."""
    return f"""#!/bin/sh
{_MARK}
{first}status=0
chained="$(dirname "$0")/{hook}{CHAINED}"
if [ -x "$chained" ]; then
    {before}"$chained" "$@"
    status=$?
fi
{body}exit $status
"""


def _install_git_hooks(root: Path, python: str, manifest: dict[str, Any], report: SetupReport) -> None:
    folder = git_path(root, "hooks")
    folder.mkdir(parents=True, exist_ok=True)
    for hook in GIT_HOOKS:
        path = folder / hook
        script = _hook_script(hook, python)
        rel = os.path.relpath(path, root)
        current = _read(path) if path.exists() else None
        if current is not None and _MARK in current:
            if current != script:
                path.write_text(script, "utf-8")
                report.changed.append(rel)
            else:
                report.unchanged.append(rel)
            continue
        record: dict[str, Any] = {"path": str(path), "chained": None}
        if path.exists():
            chained = folder / (hook + CHAINED)
            os.replace(path, chained)
            record["chained"] = str(chained)
            report.notes.append(f"kept the existing {hook} hook; it runs first as {chained.name}")
        path.write_text(script, "utf-8")
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        manifest["git_hooks"][hook] = record
        report.changed.append(rel)


def _install_refspecs(root: Path, manifest: dict[str, Any], report: SetupReport) -> None:
    remotes = [r for r in run_git(["remote"], cwd=root).splitlines() if r]
    if not remotes:
        report.notes.append("no remotes yet: run `codewitness init` again after `git remote add` to share notes")
    for remote in remotes:
        fetch_key = f"remote.{remote}.fetch"
        if [fetch_key, LEGACY_FETCH_REFSPEC] in manifest["config"]:
            # An earlier init's refspec fetched over the local notes: replace it with the tracking one.
            run_git(["config", "--fixed-value", "--unset-all", fetch_key, LEGACY_FETCH_REFSPEC], cwd=root)
            manifest["config"].remove([fetch_key, LEGACY_FETCH_REFSPEC])
            report.changed.append(f"git config --unset {fetch_key} {LEGACY_FETCH_REFSPEC}")
        wanted = [(fetch_key, fetch_refspec(remote))]
        pushes = config_values(root, f"remote.{remote}.push")
        push_key = f"remote.{remote}.push"
        if not push_enabled(root):
            # capture.push_notes = false: take back the push refspecs an earlier init set.
            for value in (NOTES_PUSH, "HEAD"):
                if [push_key, value] in manifest["config"] and value in pushes:
                    run_git(["config", "--fixed-value", "--unset-all", push_key, value], cwd=root)
                    manifest["config"].remove([push_key, value])
                    report.changed.append(f"git config --unset {push_key} {value}")
        elif NOTES_PUSH not in pushes:
            if not pushes:
                # A push refspec replaces git's default; HEAD keeps `git push` pushing the branch.
                wanted.append((f"remote.{remote}.push", "HEAD"))
            wanted.append((f"remote.{remote}.push", NOTES_PUSH))
        for key, value in wanted:
            if value in config_values(root, key):
                continue
            run_git(["config", "--add", key, value], cwd=root)
            manifest["config"].append([key, value])
            report.changed.append(f"git config {key} {value}")


def _gitignore_text(root: Path) -> str | None:
    text = _read(root / ".gitignore")
    if ignores_state(text or ""):
        return None
    prefix = text or ""
    if prefix and not prefix.endswith("\n"):
        prefix += "\n"
    return prefix + _IGNORE_LINE + "\n"


def _has_config(root: Path) -> bool:
    pyproject = root / "pyproject.toml"
    if (root / "codewitness.toml").is_file():
        return True
    if pyproject.is_file():
        try:
            return "codewitness" in tomllib.loads(pyproject.read_text("utf-8")).get("tool", {})
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            return False
    return False


def install(root: Path, agents: Sequence[str], *, python: str | None = None) -> SetupReport:
    """Install capture for ``agents`` in the repository at ``root`` (idempotent).

    Args:
        root: the top of the git work tree.
        agents: names from :data:`codewitness.capture.AGENT_MODULES`.
        python: the interpreter the hooks run (this one by default).

    Raises:
        UsageError: an unknown agent name.
        InputError: a settings file is not valid JSON (it is left untouched).
        GitError: ``root`` is not a git work tree.
    """
    unknown = [a for a in agents if a not in AGENT_MODULES]
    if unknown:
        raise UsageError(f"unknown agent {', '.join(unknown)}; choose from {', '.join(AGENT_MODULES)}")
    modules = agent_modules()
    top = repo_root(root)
    if top.resolve() != root.resolve():
        raise UsageError(f"run `codewitness init` at the top of the repository ({top})")
    python = python or sys.executable
    manifest = _load_manifest(root)
    report = SetupReport()
    (root / ".codewitness").mkdir(mode=0o700, exist_ok=True)
    for agent in agents:
        module = modules[agent]
        rel = module.SETTINGS_FILE
        data = module.install_settings(_json_object(root, rel), hook_command(agent, python))
        _write_tracked(root, rel, json.dumps(data, indent=2) + "\n", manifest, report)
        if agent not in manifest["agents"]:
            manifest["agents"].append(agent)
        reason = module.cannot_enable(root)
        if reason is not None:
            report.notes.append(f"{agent}: hooks installed, but they will not run: {reason}")
    _install_git_hooks(root, python, manifest, report)
    _install_refspecs(root, manifest, report)
    ignore = _gitignore_text(root)
    if ignore is not None:
        _write_tracked(root, ".gitignore", ignore, manifest, report)
    if not _has_config(root):
        listed = ", ".join(json.dumps(a) for a in agents)
        text = (
            "# codewitness settings; `codewitness config` lists every setting and its source.\n"
            f"[capture]\nagents = [{listed}]\n"
        )
        _write_tracked(root, "codewitness.toml", text, manifest, report)
    _save_manifest(root, manifest)
    return report


def install_git(root: Path, *, python: str | None = None) -> SetupReport:
    """Install only the git side of capture: the git hooks and the notes refspecs (idempotent).

    What ``codewitness doctor --fix`` does in a teammate's clone: the agent settings travel with
    the repository, the git hooks and remote settings do not. Recorded like :func:`install`, so
    ``codewitness uninstall`` takes them away.

    Raises:
        UsageError: ``root`` is not the top of a git work tree.
    """
    top = repo_root(root)
    if top.resolve() != root.resolve():
        raise UsageError(f"run this at the top of the repository ({top})")
    manifest = _load_manifest(root)
    report = SetupReport()
    (root / ".codewitness").mkdir(mode=0o700, exist_ok=True)
    _install_git_hooks(root, python or sys.executable, manifest, report)
    _install_refspecs(root, manifest, report)
    _save_manifest(root, manifest)
    return report


def hook_script(hook: str, python: str) -> str:
    """The text :func:`install` writes into the git hook ``hook`` for the interpreter ``python``."""
    return _hook_script(hook, python)


#: The line of every git hook we write; a hook holding it is ours.
HOOK_MARK = _MARK


def uninstall(root: Path) -> SetupReport:
    """Reverse what :func:`install` did in the repository at ``root``.

    Raises:
        InputError: the install record is unreadable.
    """
    manifest = _load_manifest(root)
    report = SetupReport()
    for rel, record in sorted(manifest["files"].items()):
        path = root / rel
        current = _read(path)
        if current == record.get("written"):
            original = record.get("original")
            if original is None:
                path.unlink(missing_ok=True)
                for folder in reversed(record.get("created_dirs", [])):
                    try:
                        (root / folder).rmdir()
                    except OSError:
                        break
            else:
                path.write_text(original, "utf-8")
            report.changed.append(rel)
        elif current is not None:
            report.changed.append(rel)
            report.notes.append(f"{rel} changed since `codewitness init`: removed only our entries")
            _remove_ours(path, rel, current)
    # The hooks this repository runs now: a copied or moved repository's record names the hooks of the
    # folder `init` ran in, which are not this one's to remove.
    folder = git_path(root, "hooks")
    for hook, record in sorted(manifest["git_hooks"].items()):
        path = folder / hook
        current = _read(path) if path.exists() else None
        if current is not None and _MARK in current:
            path.unlink()
            report.changed.append(os.path.relpath(path, root))
        chained = folder / Path(record["chained"]).name if record.get("chained") else None
        if chained is not None and chained.exists():
            os.replace(chained, path)
            report.notes.append(f"restored the earlier {hook} hook")
    for key, value in manifest["config"]:
        if value in config_values(root, key):
            run_git(["config", "--fixed-value", "--unset-all", key, value], cwd=root)
            report.changed.append(f"git config --unset {key} {value}")
    (root / MANIFEST).unlink(missing_ok=True)
    return report


def _remove_ours(path: Path, rel: str, current: str) -> None:
    if rel == ".gitignore":
        kept = [line for line in current.splitlines(keepends=True) if line.strip() != _IGNORE_LINE]
        path.write_text("".join(kept), "utf-8")
        return
    module = next((m for m in agent_modules().values() if rel == m.SETTINGS_FILE), None)
    if module is not None:
        try:
            data = json.loads(current)
        except ValueError:
            return
        if isinstance(data, dict):
            path.write_text(json.dumps(module.uninstall_settings(data), indent=2) + "\n", "utf-8")


def installed_agents(root: Path) -> list[str]:
    """Agents whose hooks the install record lists (empty when codewitness is not installed)."""
    try:
        return list(_load_manifest(root).get("agents", []))
    except InputError:
        return []
