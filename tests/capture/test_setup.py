"""`codewitness init` / `uninstall`: idempotent, chaining existing hooks, exactly reversible."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from codewitness.attribution.notes import read_note
from codewitness.capture.setup import install, uninstall
from codewitness.cli import main
from codewitness.errors import InputError


def _tree(root: Path) -> dict[str, bytes]:
    """Every file under root (outside .git and .codewitness), with its bytes and mode."""
    files = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if rel.startswith((".git/", ".codewitness")) or path.is_dir():
            continue
        files[rel] = path.read_bytes()
    return files


def _git_state(repo: Any) -> tuple[dict[str, bytes], bytes, dict[str, tuple[bytes, int]]]:
    hooks = repo.root / ".git" / "hooks"
    scripts = {p.name: (p.read_bytes(), p.stat().st_mode) for p in hooks.iterdir() if not p.name.endswith(".sample")}
    return _tree(repo.root), (repo.root / ".git" / "config").read_bytes(), scripts


@pytest.fixture
def project(git_repo: Any) -> Any:
    """A repository with a remote, a team's own Claude settings and its own post-commit hook."""
    git_repo.write("README.md", "# demo\n")
    git_repo.write(".gitignore", "__pycache__/\n*.pyc")  # no final newline on purpose
    git_repo.write(
        ".claude/settings.json",
        '{\n    "permissions": {"allow": ["Bash(pytest:*)"]},\n    "hooks": {"PostToolUse": [{"matcher": "Bash", '
        '"hooks": [{"type": "command", "command": "ruff check"}]}]}\n}\n',
    )
    git_repo.commit("initial")
    git_repo.git("remote", "add", "origin", "https://example.invalid/demo.git")
    hook = git_repo.root / ".git" / "hooks" / "post-commit"
    hook.write_text(f"#!/bin/sh\necho team-hook >> '{git_repo.root.parent / 'team-hook.log'}'\n", "utf-8")
    hook.chmod(0o755)
    return git_repo


def test_init_then_uninstall_restores_every_byte(project: Any) -> None:
    before = _git_state(project)
    report = install(project.root, ("claude", "cursor", "codex", "gemini"))
    assert ".claude/settings.json" in report.changed and ".gemini/settings.json" in report.changed
    assert any("kept the existing post-commit hook" in note for note in report.notes)

    settings = json.loads((project.root / ".claude/settings.json").read_text("utf-8"))
    assert settings["permissions"] == {"allow": ["Bash(pytest:*)"]}
    assert settings["hooks"]["PostToolUse"][0]["matcher"] == "Bash"  # the team's hook is still there
    ours = settings["hooks"]["PreToolUse"][0]
    assert ours["matcher"] == "Write|Edit|MultiEdit"
    assert ours["hooks"][0]["command"].endswith("-m codewitness.capture.hook claude || true")
    cursor = json.loads((project.root / ".cursor/hooks.json").read_text("utf-8"))
    assert cursor["version"] == 1 and set(cursor["hooks"]) == {
        "beforeSubmitPrompt",
        "afterFileEdit",
        "afterTabFileEdit",
    }
    assert set(json.loads((project.root / ".codex/hooks.json").read_text("utf-8"))["hooks"]) == {
        "PreToolUse",
        "PostToolUse",
        "UserPromptSubmit",
    }
    assert (project.root / ".gitignore").read_text("utf-8") == "__pycache__/\n*.pyc\n.codewitness/\n"
    assert 'agents = ["claude", "cursor", "codex", "gemini"]' in (project.root / "codewitness.toml").read_text("utf-8")
    assert project.git("config", "--get-all", "remote.origin.fetch").splitlines() == [
        "+refs/heads/*:refs/remotes/origin/*",
        "+refs/notes/codewitness:refs/notes/remotes/origin/codewitness",
    ]
    assert project.git("config", "--get-all", "remote.origin.push").splitlines() == ["HEAD", "refs/notes/codewitness"]
    hooks = project.root / ".git" / "hooks"
    assert (hooks / "post-commit.codewitness-chained").exists()
    assert os.stat(hooks / "post-rewrite").st_mode & stat.S_IXUSR

    # Idempotent: a second run changes nothing.
    state = _git_state(project)
    again = install(project.root, ("claude", "cursor", "codex", "gemini"))
    assert again.changed == []
    assert _git_state(project) == state

    # The chained team hook still runs on commit, and so does ours (the note is written).
    project.write("src/x.py", "x = 1\n")
    commit = project.commit("x")
    assert (project.root.parent / "team-hook.log").read_text("utf-8") == "team-hook\n"
    assert read_note(project.root, commit) is not None

    uninstall(project.root)
    restored = _git_state(project)
    assert restored[0] == {**before[0], "src/x.py": b"x = 1\n"}
    assert restored[1] == before[1]
    assert restored[2] == before[2]
    assert not (project.root / ".cursor").exists() and not (project.root / ".gemini").exists()


def test_init_from_another_interpreter_replaces_our_entries(project: Any) -> None:
    install(project.root, ("claude",), python="/opt/old/bin/python")
    install(project.root, ("claude",), python="/opt/new/bin/python")
    settings = json.loads((project.root / ".claude/settings.json").read_text("utf-8"))
    commands = [h["command"] for entry in settings["hooks"]["PreToolUse"] for h in entry["hooks"]]
    assert commands == ["/opt/new/bin/python -m codewitness.capture.hook claude || true"]
    uninstall(project.root)
    assert "codewitness" not in (project.root / ".claude/settings.json").read_text("utf-8")


def test_a_missing_interpreter_does_not_fail_the_agent(project: Any) -> None:
    import subprocess

    install(project.root, ("claude",), python="/nonexistent/python")
    settings = json.loads((project.root / ".claude/settings.json").read_text("utf-8"))
    command = settings["hooks"]["PostToolUse"][-1]["hooks"][0]["command"]
    done = subprocess.run(["sh", "-c", command], input=b"{}", capture_output=True, cwd=project.root, check=False)
    assert done.returncode == 0


def test_uninstall_keeps_later_user_changes(project: Any) -> None:
    install(project.root, ("claude",))
    path = project.root / ".claude/settings.json"
    data = json.loads(path.read_text("utf-8"))
    data["model"] = "opus"
    path.write_text(json.dumps(data), "utf-8")
    report = uninstall(project.root)
    assert any("changed since" in note for note in report.notes)
    kept = json.loads(path.read_text("utf-8"))
    assert kept["model"] == "opus"
    assert "PreToolUse" not in kept["hooks"] and kept["hooks"]["PostToolUse"][0]["matcher"] == "Bash"


def test_init_refuses_broken_settings_and_touches_nothing(project: Any) -> None:
    (project.root / ".gemini").mkdir()
    (project.root / ".gemini/settings.json").write_text("{not json", "utf-8")
    with pytest.raises(InputError, match="not valid JSON"):
        install(project.root, ("gemini",))
    assert (project.root / ".gemini/settings.json").read_text("utf-8") == "{not json"


def test_cli_init_status_uninstall(project: Any, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    monkeypatch.chdir(project.root)
    assert main(["init", "--agents", "claude,cursor", "--json"]) == 0
    changed = json.loads(capsys.readouterr().out)["changed"]
    assert ".claude/settings.json" in changed and ".cursor/hooks.json" in changed
    assert main(["status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["installed_agents"] == ["claude", "cursor"] and status["pending"] == []
    assert main(["init", "--agents", "vim"]) == 2
    assert "unknown agent vim" in capsys.readouterr().err
    assert main(["uninstall"]) == 0
    assert not (project.root / ".cursor").exists()


def test_cli_outside_a_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["init"]) == 1
    assert "not inside a git repository" in capsys.readouterr().err


def test_uninstall_in_a_copied_repository_leaves_the_original_alone(project: Any, tmp_path: Path) -> None:
    # Found by running docs/privacy.md on a copy of the demo project: uninstall there removed the
    # original's git hooks (the install record held their absolute paths) and kept the copy's.
    import shutil

    install(project.root, ("claude",))
    original = _git_state(project)
    copy = tmp_path / "copy"
    shutil.copytree(project.root, copy, symlinks=True)
    uninstall(copy)
    assert _git_state(project) == original, "the original keeps its hooks"
    hooks = copy / ".git" / "hooks"
    assert (hooks / "post-commit").read_text("utf-8") == (
        project.root / ".git" / "hooks" / "post-commit.codewitness-chained"
    ).read_text("utf-8"), "the copy's own chained hook is back"
    assert not (hooks / "pre-push").exists() and not (hooks / "post-commit.codewitness-chained").exists()


def test_push_notes_false_keeps_the_notes_in_this_clone(git_repo: Any, tmp_path: Path) -> None:
    # docs/privacy.md: the notes leave the machine with `git push` unless capture.push_notes is false.
    from codewitness._git import config_values, run_git
    from codewitness.capture.doctor import diagnose
    from codewitness.capture.sync import push_notes

    remote = tmp_path / "remote.git"
    run_git(["init", "-q", "--bare", str(remote)], cwd=tmp_path)
    git_repo.write("a.py", "x = 1\n")
    git_repo.commit("first")
    git_repo.git("remote", "add", "origin", str(remote))
    install(git_repo.root, ("claude",))
    assert "refs/notes/codewitness" in config_values(git_repo.root, "remote.origin.push")

    (git_repo.root / "codewitness.toml").write_text("[capture]\npush_notes = false\n", "utf-8")
    report = install(git_repo.root, ("claude",))
    assert "git config --unset remote.origin.push refs/notes/codewitness" in report.changed
    assert config_values(git_repo.root, "remote.origin.push") == []  # the HEAD it had added went too
    recorded = json.loads((git_repo.root / ".codewitness/install.json").read_text())["config"]
    assert [key for key, _ in recorded] == ["remote.origin.fetch"]

    git_repo.git("notes", "--ref", "codewitness", "add", "-m", "{}", "HEAD")
    assert push_notes(git_repo.root, "origin", "") == "capture.push_notes is false: notes not pushed"
    git_repo.git("push", "-q", "origin", "main")  # the pre-push hook runs too
    assert run_git(["for-each-ref", "refs/notes"], cwd=remote) == ""
    (refspecs,) = [c for c in diagnose(git_repo.root, network=False).checks if c.name == "refspecs"]
    assert refspecs.status == "ok" and "push_notes is false" in refspecs.detail

    (git_repo.root / "codewitness.toml").write_text("[capture]\npush_notes = true\n", "utf-8")
    assert push_notes(git_repo.root, "origin", "") == "notes pushed to origin"
    assert "refs/notes/codewitness" in run_git(["for-each-ref", "refs/notes"], cwd=remote)
