"""Teammates' clones: ``codewitness doctor`` on a fresh clone of a repository with notes, notes that
survive a ``git pull`` before they were pushed, and the journal and hook log checks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from capture_helpers import Forge, Hooks, git, make_forge

from codewitness.attribution.blame import line_origins
from codewitness.attribution.notes import NOTES_REF, read_note_text, tracking_ref
from codewitness.capture.doctor import diagnose
from codewitness.capture.sync import LEGACY_FETCH_REFSPEC
from codewitness.cli import main


@pytest.fixture
def forge(installed: Any, hooks: Hooks, tmp_path: Path) -> Forge:
    return make_forge(installed, hooks, tmp_path)


def _statuses(root: Path, **kwargs: Any) -> dict[str, str]:
    return {c.name: c.status for c in diagnose(root, **kwargs).checks}


def _mate(forge: Forge, tmp_path: Path) -> Path:
    """A teammate's fresh clone, on the feature branch (whose commits have notes on origin)."""
    mate = tmp_path / "mate"
    git(tmp_path, "clone", "-q", "--branch", "feature", forge.origin.as_uri(), str(mate))
    git(mate, "config", "user.name", "Mo Mate")
    git(mate, "config", "user.email", "mo@example.com")
    return mate


def test_doctor_fixes_a_teammates_fresh_clone(forge: Forge, tmp_path: Path, capsys: Any, monkeypatch: Any) -> None:
    mate = _mate(forge, tmp_path)
    # The clone has the code and the committed agent settings, but no notes, hooks or refspecs.
    assert [o.evidence for o in line_origins(mate, "src/net.py")][:5] == ["author"] * 5
    assert _statuses(mate) == {
        "hooks": "fail",
        "refspecs": "fail",
        "notes fetched": "fail",
        "notes merged": "ok",
        "notes reachable": "ok",
        "journal": "ok",
        "hook log": "ok",
    }
    monkeypatch.chdir(mate)
    capsys.readouterr()
    assert main(["doctor"]) == 1
    assert "hooks: install the git hooks" in capsys.readouterr().err
    assert main(["doctor", "--fix", "--json"]) == 0
    checks = {c["name"]: c["status"] for c in json.loads(capsys.readouterr().out)["checks"]}
    assert checks["hooks"] == checks["refspecs"] == checks["notes fetched"] == checks["notes merged"] == "fixed"
    # The agent's lines are the agent's in the teammate's clone now, from the notes.
    origins = line_origins(mate, "src/net.py")
    assert [(o.kind, o.evidence) for o in origins[:5]] == [("ai", "note")] * 5
    assert read_note_text(mate, forge.branch_commits[0], ref=NOTES_REF) is not None
    assert set(_statuses(mate).values()) == {"ok"}
    # And the teammate's own commits get notes: the hooks run.
    (mate / "src" / "more.py").write_text("x = 1\n")
    git(mate, "add", "-A")
    git(mate, "commit", "-q", "-m", "more")
    assert read_note_text(mate, "HEAD") is not None


def test_unpushed_notes_survive_a_pull_and_reach_origin_with_the_next_push(forge: Forge, tmp_path: Path) -> None:
    dev = forge.dev
    mate = _mate(forge, tmp_path)
    assert diagnose(mate, fix=True).healthy
    # The developer commits (a note), but does not push yet.
    dev.write("src/own.py", "y = 2\n")
    own = dev.commit("own work")
    # The teammate pushes a commit with its note meanwhile.
    (mate / "src" / "mate.py").write_text("z = 3\n")
    git(mate, "add", "-A")
    git(mate, "commit", "-q", "-m", "mate's work")
    theirs = git(mate, "rev-parse", "HEAD").strip()
    git(mate, "push", "-q", "origin", "feature")
    # The developer pulls: the remote's notes arrive in the tracking ref and are merged in;
    # the developer's own unpushed note is still there (a forced fetch into the notes ref dropped it).
    dev.git("branch", "-q", "--set-upstream-to=origin/feature")
    dev.git("pull", "-q", "--no-rebase", "--no-edit")
    assert read_note_text(dev.root, own, ref=NOTES_REF) is not None
    assert read_note_text(dev.root, theirs, ref=NOTES_REF) is not None
    dev.git("push", "-q", "origin", "feature")
    remote_notes = git(forge.origin, "notes", "--ref", NOTES_REF, "list")
    assert own in remote_notes and theirs in remote_notes


def test_a_push_merges_notes_the_remote_has_and_this_clone_lacks(forge: Forge, tmp_path: Path) -> None:
    dev = forge.dev
    mate = _mate(forge, tmp_path)
    assert diagnose(mate, fix=True).healthy
    (mate / "m.py").write_text("m = 1\n")
    git(mate, "add", "-A")
    git(mate, "commit", "-q", "-m", "m")
    git(mate, "push", "-q", "origin", "HEAD:refs/heads/mate")  # its notes go to origin first
    dev.write("d.py", "d = 1\n")
    own = dev.commit("d")
    dev.git("push", "-q", "origin", "feature")  # notes rejected first (origin moved), then merged and pushed
    assert own in git(forge.origin, "notes", "--ref", NOTES_REF, "list")
    assert "notes merged with origin's and pushed" in Hooks(dev.root, pytest.MonkeyPatch()).log()


def test_doctor_replaces_the_refspec_that_fetched_over_local_notes(installed: Any, tmp_path: Path) -> None:
    origin = tmp_path / "o.git"
    git(tmp_path, "init", "-q", "--bare", str(origin))
    installed.git("remote", "add", "up", str(origin))
    installed.git("config", "--add", "remote.up.fetch", LEGACY_FETCH_REFSPEC)
    [refspecs] = [c for c in diagnose(installed.root, network=False).checks if c.name == "refspecs"]
    assert refspecs.status == "fail" and "fetches notes over the local ones" in refspecs.detail
    report = diagnose(installed.root, fix=True, network=False)
    assert {c.name: c.status for c in report.checks}["refspecs"] == "fixed"
    fetches = installed.git("config", "--get-all", "remote.up.fetch").split()
    assert LEGACY_FETCH_REFSPEC not in fetches and f"+{NOTES_REF}:{tracking_ref('up')}" in fetches


def test_init_replaces_its_own_old_refspec(installed: Any, tmp_path: Path) -> None:
    import json as _json

    from codewitness.capture.setup import MANIFEST, install

    installed.git("remote", "add", "up", str(tmp_path / "o.git"))
    installed.git("config", "--add", "remote.up.fetch", LEGACY_FETCH_REFSPEC)
    manifest_path = installed.root / MANIFEST
    manifest = _json.loads(manifest_path.read_text())
    manifest["config"].append(["remote.up.fetch", LEGACY_FETCH_REFSPEC])  # what an earlier init recorded
    manifest_path.write_text(_json.dumps(manifest))
    install(installed.root, ("claude",))
    fetches = installed.git("config", "--get-all", "remote.up.fetch").split()
    assert LEGACY_FETCH_REFSPEC not in fetches and f"+{NOTES_REF}:{tracking_ref('up')}" in fetches


def test_a_broken_journal_is_moved_aside_and_kept(installed: Any, hooks: Hooks) -> None:
    hooks.claude_write("src/a.py", "a = 1\n")  # creates the journal with one pending edit
    journal = installed.root / ".codewitness" / "pending.db"
    data = bytearray(journal.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)  # overwrite the first page's schema area
    journal.write_bytes(bytes(data))
    [check] = [c for c in diagnose(installed.root, network=False).checks if c.name == "journal"]
    assert check.status == "fail"
    [fixed] = [c for c in diagnose(installed.root, fix=True, network=False).checks if c.name == "journal"]
    assert fixed.status == "fixed"
    [aside] = list(journal.parent.glob("pending.db.broken-*"))
    assert aside.read_bytes() == bytes(data)
    assert not journal.exists()


def test_pending_edits_and_hook_errors_are_reported(installed: Any, hooks: Hooks) -> None:
    hooks.claude_write("src/a.py", "a = 1\n")
    checks = {c.name: c for c in diagnose(installed.root, network=False).checks}
    assert checks["journal"].status == "ok" and "1 pending agent edits" in checks["journal"].detail
    log = installed.root / ".codewitness" / "log"
    before = log.read_text() if log.exists() else ""
    log.write_text(before + "2026-01-01T00:00:00Z git post-commit: error: boom\n")
    checks = {c.name: c for c in diagnose(installed.root, network=False).checks}
    assert checks["hook log"].status == "warn" and "boom" in checks["hook log"].detail


def test_forge_merges_without_a_note_are_named(forge: Forge, tmp_path: Path) -> None:
    forge.before()
    squash = forge.squash("Parse ports (#12)\n")
    forge.push_main()
    dev = forge.dev
    dev.git("checkout", "-q", "main")
    dev.git("pull", "-q", "--ff-only", "origin", "main")
    [check] = [c for c in diagnose(dev.root, network=False).checks if c.name == "notes reachable"]
    assert check.status == "warn" and "1 of the last" in check.detail
    assert check.fix is not None and f"--since {squash[:12]}^" in check.fix
