"""Notes planted by anyone who can push them: a 100k-deep JSON note is skipped with a warning.

The notes reach the victim the ordinary way -- pushed to a shared remote, fetched by the
refspec ``codewitness init`` installs -- and every face that reads notes (``blame``,
``report``, ``notes show``, ``check``, ``import``) is run through the real command line.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from codewitness.attribution import agenttrace, gitai
from codewitness.attribution.notes import (
    MAX_JSON_DEPTH,
    NOTES_REF,
    CommitNote,
    NoteEntry,
    NoteError,
    load_json,
    parse_note,
    tracking_ref,
)
from codewitness.cli import main

from .conftest import CLAUDE_TRAILER, Repo

DEEP = "[" * 100_000 + "]" * 100_000


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def victim(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Repo, str, str]:
    """A clone of a shared repository where an attacker pushed deep notes onto one commit.

    Returns the clone, the commit with a sound note, and the commit with the planted notes.
    """
    origin = Repo(tmp_path / "origin")
    origin.write("svc/core.py", "def f(x):\n    return x\n")
    origin.commit("human")
    origin.write("svc/core.py", "def f(x):\n    return x\n\n\ndef g(y):\n    return y * 2\n")
    sound = origin.commit("agent g" + CLAUDE_TRAILER)
    origin.note(sound, {"svc/core.py": [NoteEntry("ai", ((5, 6),), ("gen_g",), agent="claude-code", model="opus")]})
    origin.write("svc/other.py", "import os\n\n\ndef h():\n    return os.getcwd()\n")
    planted = origin.commit("other")
    origin.raw_note(NOTES_REF, planted, DEEP)
    origin.raw_note(gitai.GITAI_REF, planted, "svc/other.py\n  h_0123456789abcd 1-5\n---\n" + DEEP)

    clone = Repo(tmp_path / "clone")
    clone.git("remote", "add", "origin", str(origin.root))
    monkeypatch.chdir(clone.root)
    assert main(["init", "--agents", "claude"]) == 0
    clone.git("fetch", "-q", "origin")  # the notes refspec init installed brings the planted note (tracked)
    clone.git("fetch", "-q", "origin", f"+{gitai.GITAI_REF}:{gitai.GITAI_REF}")
    clone.git("checkout", "-q", "-b", "main", "origin/main")
    assert clone.git("notes", "--ref", tracking_ref("origin"), "list", planted).strip()
    return clone, sound, planted


def test_blame_and_report_skip_a_deep_note_with_one_warning(
    victim: tuple[Repo, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    _clone, _sound, planted = victim
    code, out, err = _run(capsys, "blame", "svc/other.py", "--json", "--no-cache")
    assert code == 0, err
    assert "Traceback" not in err and "RecursionError" not in err
    warnings = [line for line in err.splitlines() if "nested too deeply" in line]
    assert len(warnings) == 2, err  # one for our note, one for the git-ai note, each one line
    assert any(f"codewitness note on commit {planted[:12]}" in w for w in warnings)
    assert any(f"git-ai note on commit {planted[:12]}" in w for w in warnings)
    assert {line["origin"] for line in json.loads(out)["lines"]} == {"human"}

    code, out, err = _run(capsys, "blame", "svc/core.py", "--json", "--no-cache")
    assert code == 0, err
    assert [line["origin"] for line in json.loads(out)["lines"]][4:] == ["ai", "ai"]  # the sound note still counts

    code, out, err = _run(capsys, "report", "--json", "--no-cache")
    assert code == 0, err
    assert "Traceback" not in err
    report = json.loads(out)
    assert report["totals"]["ai"] == 2
    assert sum(report["warnings"].values()) == 2
    assert all("nested too deeply" in message for message in report["warnings"])


def test_notes_show_names_the_problem_and_the_fix(
    victim: tuple[Repo, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    _clone, sound, planted = victim
    code, _out, err = _run(capsys, "notes", "show", planted)
    assert code == 1
    assert len(err.strip().splitlines()) == 1, err
    assert "nested too deeply" in err and f"git notes --ref {tracking_ref('origin')} remove {planted}" in err
    code, out, err = _run(capsys, "notes", "show", sound, "--json")
    assert code == 0, err
    assert json.loads(out)["files"]["svc/core.py"][0]["generations"] == ["gen_g"]


def test_check_reports_the_deep_note_as_a_finding_not_a_crash(
    victim: tuple[Repo, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    clone, _sound, planted = victim
    base = clone.git("rev-parse", f"{planted}~2").strip()
    code, out, err = _run(capsys, "check", "--base", base, "--json", "--offline", "--only", "provenance")
    assert "Traceback" not in err and "RecursionError" not in err
    findings = json.loads(out)["findings"]
    deep = [f for f in findings if f["rule"] == "CW403"]
    assert len(deep) == 1 and "nested too deeply" in deep[0]["message"] and planted[:12] in deep[0]["message"]
    assert code in (0, 1)
    code, out, err = _run(capsys, "check", "--ai-only", "--json", "--offline")
    assert "Traceback" not in err and "RecursionError" not in err, err


def test_imports_skip_deep_records_and_count_them(
    victim: tuple[Repo, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    clone, sound, _planted = victim
    code, out, err = _run(capsys, "import", "git-ai")
    assert code == 0, err
    assert "skipped 1" in out and "nested too deeply" in err
    trace = clone.root / ".agent-trace"
    trace.mkdir()
    good = {
        "version": "0.1",
        "id": "11111111-1111-1111-1111-111111111111",
        "timestamp": "2026-01-01T00:00:00Z",
        "vcs": {"type": "git", "revision": sound},
        "files": [
            {
                "path": "svc/core.py",
                "conversations": [{"contributor": {"type": "ai"}, "ranges": [{"start_line": 5, "end_line": 6}]}],
            }
        ],
    }
    (trace / "traces.jsonl").write_text(
        json.dumps(good) + "\n" + '{"version": "0.1", "metadata": ' + DEEP + "}\n", "utf-8"
    )
    (trace / "list.jsonl").write_text(DEEP, "utf-8")
    code, out, err = _run(capsys, "import", "agent-trace")
    assert code == 0, err
    assert "imported 1 records, skipped 2" in out
    assert err.count("nested too deeply") == 2


def test_every_note_reader_refuses_deep_json_with_a_note_error() -> None:
    for reader in (
        parse_note,
        lambda text: gitai.parse_gitai("a.py\n  h_0123456789abcd 1\n---\n" + text),
        agenttrace.parse_record,
    ):
        for text in (DEEP, '{"schema": "codewitness.note/1", "files": ' + DEEP + "}", _nested(MAX_JSON_DEPTH + 1)):
            with pytest.raises(NoteError, match="nested too deeply"):
                reader(text)
    errors = list(agenttrace.iter_records(DEEP, source="t.json"))
    assert len(errors) == 1 and isinstance(errors[0], NoteError)


@given(st.lists(st.sampled_from(["list", "dict"]), min_size=1, max_size=3 * MAX_JSON_DEPTH), st.integers(0, 2))
def test_load_json_takes_exactly_what_is_at_most_max_depth(kinds: list[str], siblings: int) -> None:
    value: object = "leaf"
    for kind in reversed(kinds):  # a chain of arrays and objects, with scalar siblings at every level
        value = [value, *range(siblings)] if kind == "list" else {"k": value, **{f"s{i}": i for i in range(siblings)}}
    text = json.dumps(value)
    if len(kinds) <= MAX_JSON_DEPTH:
        assert load_json(text, "t") == value
    else:
        with pytest.raises(NoteError, match="t is nested too deeply"):
            load_json(text, "t")


def test_a_sound_note_round_trips_through_the_safe_loader() -> None:
    note = CommitNote(files={"a.py": (NoteEntry("ai", ((1, 3),), ("gen_x",)),)})
    assert parse_note(note.to_json()) == note
