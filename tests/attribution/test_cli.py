"""``codewitness blame / report / manifest build / import / export`` through the real entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codewitness.attribution import agenttrace
from codewitness.attribution.notes import NoteEntry
from codewitness.cli import main
from codewitness.model import Manifest

from .conftest import CLAUDE_TRAILER, Repo, lines


class CLI:
    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys

    def __call__(self, *args: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        code = main(list(args))
        out, err = self.capsys.readouterr()
        return code, out, err


@pytest.fixture
def cli(repo: Repo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> CLI:
    monkeypatch.chdir(repo.root)
    return CLI(capsys)


@pytest.fixture
def project(repo: Repo) -> Repo:
    repo.write("svc/__init__.py", "# package\n")
    repo.write("svc/core.py", "def f(x):\n    return x\n")
    repo.commit("human")
    repo.write("svc/core.py", "def f(x):\n    return x\n\n\ndef g(y):\n    return y * 2\n")
    commit = repo.commit("agent g" + CLAUDE_TRAILER)
    repo.note(commit, {"svc/core.py": [NoteEntry("ai", ((5, 6),), ("gen_g",), agent="claude-code", model="opus")]})
    return repo


def test_blame_json_and_text(project: Repo, cli: CLI) -> None:
    code, out, err = cli("blame", "svc/core.py", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert [ln["origin"] for ln in data["lines"]] == ["human", "human", "human", "human", "ai", "ai"]
    assert data["lines"][4]["generations"] == ["gen_g"]
    assert data["lines"][4]["evidence"] == "note"
    code, out, err = cli("blame", "svc/core.py", "--no-cache")
    assert code == 0
    assert "gen_g" in out and "def g(y):" in out and err == ""


def test_report_formats(project: Repo, cli: CLI, tmp_path: Path) -> None:
    code, out, err = cli("report", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["totals"]["ai"] == 2
    assert data["risk_ranking"] == ["svc.core.g"]
    code, out, _ = cli("report", "svc", "--md")
    assert code == 0 and out.startswith("# AI attribution report")
    page = tmp_path / "r.html"
    code, out, err = cli("report", "--html", str(page))
    assert code == 0 and page.read_text().startswith("<!doctype html>") and out == ""
    code, _, err = cli("report", "--json", "--md")
    assert code == 2 and "choose one" in err


def test_manifest_build(project: Repo, cli: CLI) -> None:
    code, _, err = cli("manifest", "build", "--min-share", "0.5")
    assert code == 0, err
    manifest = Manifest.from_json((project.root / ".codewitness/manifest.json").read_text())
    assert [f.name for f in manifest.functions] == ["svc.core.g"]
    code, _, err = cli("manifest", "build", "--min-share", "2")
    assert code == 2 and "between 0 and 1" in err


def test_export_import_round_trip(project: Repo, cli: CLI, tmp_path: Path) -> None:
    out_file = tmp_path / "traces.jsonl"
    code, _, err = cli("export", "agent-trace", "-o", str(out_file))
    assert code == 0, err
    records = [agenttrace.parse_record(x) for x in out_file.read_text().splitlines()]
    note = agenttrace.to_commit_note(records[0])
    entry = note.entry_for("svc/core.py", 5)
    assert (entry.origin, entry.agent, entry.model, entry.generation_ids) == ("ai", "claude-code", "opus", ("gen_g",))
    assert note.entry_for("svc/core.py", 6) is entry
    code, out, _ = cli("export", "agent-trace")
    assert code == 0 and json.loads(out.splitlines()[0])["version"] == "0.1"
    code, out, _ = cli("import", "agent-trace", str(out_file))
    assert code == 0 and "imported 1 records" in out
    code, out, _ = cli("export", "git-ai")
    assert code == 0 and "exported 1 records" in out
    code, out, _ = cli("import", "git-ai")
    assert code == 0 and "imported 1 records" in out


def test_clear_errors_not_tracebacks(repo: Repo, cli: CLI, tmp_path: Path) -> None:
    code, _, err = cli("report")
    assert code == 1 and "no commits yet" in err and "Traceback" not in err
    repo.write("a.py", lines(1))
    repo.commit("one")
    code, _, err = cli("blame", "nope.py")
    assert code == 2 and "not a file" in err
    code, _, err = cli("blame", "a.py", "--rev", "v9")
    assert code == 1 and "no commit 'v9'" in err
    code, _, err = cli("import", "agent-trace", str(tmp_path / "missing.jsonl"))
    assert code == 2 and "cannot read" in err
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{nope\n")
    code, out, err = cli("import", "agent-trace", str(bad))
    assert code == 0 and "skipped 1" in out and "not valid JSON" in err
    repo.raw_note("refs/notes/codewitness", repo.head(), "{corrupt")
    code, _out, err = cli("blame", "a.py", "--json")
    assert code == 0 and "corrupt codewitness note" in err
