"""The optional ``Codewitness-Generation`` commit trailer: written by the prepare-commit-msg hook when
configured, read back as evidence by attribution, and checked against the note by the gate (CW404)."""

from __future__ import annotations

import json

from metrics_helpers import Project


def _message(project: Project, rev: str = "HEAD") -> str:
    return project.git("log", "-1", "--format=%B", rev)


def _note_generations(project: Project, rev: str = "HEAD") -> set[str]:
    note = json.loads(project.codewitness("notes", "show", rev, "--json", check=True).stdout)
    found = set()
    for entries in note["files"].values():
        for entry in entries:
            found.update(entry.get("generations") or entry.get("generation_ids") or [])
    return found


def _cw404(project: Project, base: str) -> list[dict[str, object]]:
    proc = project.codewitness("check", "--offline", "--json", "--base", base, "--provenance-since", "base")
    findings = json.loads(proc.stdout)["findings"]
    return [f for f in findings if f["rule"] == "CW404"]


def test_the_hook_writes_one_trailer_per_staged_generation(project: Project) -> None:
    base = project.git("rev-parse", "HEAD").strip()
    project.config("[capture]\ncommit_trailer = true\n")
    project.claude_write("app/a.py", "def a():\n    return 1\n", prompt="Write a.")
    project.claude_write("app/b.py", "def b():\n    return 2\n", prompt="Write b.")
    project.commit("a and b")
    message = _message(project)
    trailers = [line.split(": ", 1)[1] for line in message.splitlines() if line.startswith("Codewitness-Generation: ")]
    assert len(trailers) == 2 and all(t.startswith("gen_") for t in trailers)
    assert set(trailers) == _note_generations(project)
    assert _cw404(project, base) == []


def test_no_trailer_unless_configured(project: Project) -> None:
    project.claude_write("app/a.py", "def a():\n    return 1\n", prompt="Write a.")
    project.commit("a")
    assert "Codewitness-Generation" not in _message(project)
    assert "capture.commit_trailer is off" in (project.root / ".codewitness" / "log").read_text()


def test_a_trailer_without_its_note_is_evidence_and_a_finding(project: Project) -> None:
    base = project.git("rev-parse", "HEAD").strip()
    project.config("[capture]\ncommit_trailer = true\n")
    project.claude_write("app/a.py", "def a():\n    return 1\n", prompt="Write a.")
    project.commit("a")
    (named,) = [line.split(": ", 1)[1] for line in _message(project).splitlines() if line.startswith("Codewitness-")]
    project.git("notes", "--ref=codewitness", "remove", "HEAD")  # the note was not fetched, say
    blame = json.loads(project.codewitness("blame", "app/a.py", "--json", check=True).stdout)
    lines = blame["lines"] if isinstance(blame, dict) else blame
    first = lines[0]
    assert first["origin"] == "ai" and first["evidence"] == "trailer"
    assert first["generations"] == [named]
    (finding,) = _cw404(project, base)
    assert "names 1 generation(s) in Codewitness-Generation trailers but has no note" in str(finding["message"])


def test_a_trailer_the_note_does_not_credit_is_reported(project: Project) -> None:
    base = project.git("rev-parse", "HEAD").strip()
    project.config("[capture]\ncommit_trailer = true\n")
    project.claude_write("app/a.py", "def a():\n    return 1\n", prompt="Write a.")
    project.commit("a")
    fake = "gen_" + "f" * 20
    project.git("commit", "--amend", "-q", "-m", _message(project) + f"\nCodewitness-Generation: {fake}\n")
    (finding,) = _cw404(project, base)
    assert f"trailers name {fake} the note does not credit" in str(finding["message"])
