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


def test_an_empty_report_and_manifest_say_why_and_what_to_do(repo: Repo, cli: CLI) -> None:
    # Before: 0% and "0 functions" with no word on why.
    repo.write("svc/core.py", "def f(x):\n    return x\n")
    repo.commit("human start")
    repo.write("svc/more.py", "def g(y):\n    return y\n")
    repo.commit("human more")
    code, out, err = cli("report", "--json")
    assert code == 0 and json.loads(out)["totals"]["ai"] == 0
    assert "no AI evidence in the 2 commit(s) of HEAD" in err
    assert "codewitness init" in err and "refs/notes/*" in err
    code, out, err = cli("manifest", "build")
    assert code == 0 and "0 functions" in out
    assert "no AI evidence in the 2 commit(s) of HEAD" in err and "--include" in err


def test_evidence_that_no_longer_reaches_the_code_is_named(repo: Repo, cli: CLI) -> None:
    repo.write("svc/core.py", "def f(x):\n    return x + 1\n")
    repo.commit("agent f" + CLAUDE_TRAILER)
    repo.write("svc/core.py", "def f(x):\n    return x + 2\n")
    repo.commit("person rewrites f")
    repo.write("svc/core.py", "def f(y):\n    return y + 2\n")
    repo.commit("person renames")
    code, _out, err = cli("report", "svc")
    assert code == 0
    assert "no AI-written line under svc at HEAD, although 1 marked by an agent of the 3 commit(s) of HEAD" in err


def test_manifest_build_from_a_subfolder_writes_where_the_sensor_reads(
    project: Repo, cli: CLI, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before: `.codewitness/manifest.json` under the current folder, which the sensor never reads.
    (project.root / "svc" / "sub").mkdir()
    monkeypatch.chdir(project.root / "svc" / "sub")
    code, out, err = cli("manifest", "build")
    assert code == 0, err
    written = project.root / ".codewitness" / "manifest.json"
    assert f"wrote {written}" in out
    assert [f.qualname for f in Manifest.from_json(written.read_text()).functions] == ["g"]
    assert not (project.root / "svc" / "sub" / ".codewitness").exists()


def test_a_root_db_of_an_earlier_run_in_the_process_is_not_used_by_the_next_blame(
    project: Repo, cli: CLI
) -> None:
    # The fast blame path set the root --db and never cleared it: a later run in the same process
    # (a test session, an embedding program) used a database it was never given.
    dead = "postgresql://nobody@127.0.0.1:1/gone"
    code, _, err = cli("--db", dead, "blame", "svc/core.py", "--json")
    assert code == 1 and "127.0.0.1" in err
    code, out, err = cli("blame", "svc/core.py", "--json")
    assert code == 0, err
    assert [ln["origin"] for ln in json.loads(out)["lines"]][-2:] == ["ai", "ai"]
