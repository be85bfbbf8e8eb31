"""Provenance (CW4xx), complexity drift (CW5xx) and AI-first marking, on real git repos with real notes."""

from __future__ import annotations

import dataclasses

from codewitness.attribution.notes import CommitNote, NoteEntry, write_note
from codewitness.checks import CheckContext, run_checks
from codewitness.checks.complexity import function_complexity, growth
from codewitness.config import CheckSection
from tests.checks.conftest import git

CLAUDE = "\n\nCo-Authored-By: Claude Opus 4.5 <noreply@anthropic.com>\n"


def _commit(repo, message: str) -> str:
    git(repo, "add", ".")
    git(repo, "commit", "-qm", message)
    return git(repo, "rev-parse", "HEAD").strip()


def test_ai_commit_without_note_and_metadata_policy(repo):
    base = git(repo, "rev-parse", "HEAD").strip()
    (repo / "a.py").write_text("x = 1\n")
    _commit(repo, "add a" + CLAUDE)  # marked, no note -> CW401
    (repo / "b.py").write_text("y = 2\n")
    noted = _commit(repo, "add b" + CLAUDE)
    write_note(
        repo,
        noted,
        CommitNote(files={"b.py": (NoteEntry("ai", ((1, 1),), ("gen_1",), agent="claude-code"),)}),
    )
    (repo / "c.py").write_text("z = 3\n")
    _commit(repo, "human change")
    (repo / "d.py").write_text("w = 4\n")
    gitai = _commit(repo, "add d" + CLAUDE)
    git(
        repo,
        "notes",
        "--ref",
        "refs/notes/ai",
        "add",
        "-m",
        "d.py\n  s_0123456789abcd::t_0123456789abcd 1\n---\n{}",
        gitai,
    )
    settings = CheckSection(required_metadata=("model",), provenance_since="base")
    report = run_checks(CheckContext.build(repo, base=base, settings=settings), families=("provenance",))
    got = sorted((f.rule_id, f.path) for f in report.findings)
    assert got == [("CW401", "a.py"), ("CW402", "b.py")]
    assert all(f.ai_authored for f in report.findings)


def test_corrupt_note_is_reported(repo):
    base = git(repo, "rev-parse", "HEAD").strip()
    (repo / "a.py").write_text("x = 1\n")
    sha = _commit(repo, "a")
    git(repo, "notes", "--ref", "refs/notes/codewitness", "add", "-m", "{broken", sha)
    report = run_checks(CheckContext.build(repo, base=base), families=("provenance",))
    assert [f.rule_id for f in report.findings] == ["CW403"]


BEFORE = "def price(x):\n    if x > 10:\n        return x * 2\n    return x\n"
AFTER = """def price(x):
    if x > 10:
        for i in range(x):
            if i % 2 and x > 5:
                if i > 3 or x < 100:
                    return i
    elif x < 0:
        while x < 0:
            x += 1
    return x
"""


def test_complexity_drift_of_ai_function_against_base(repo):
    (repo / "shop.py").write_text(BEFORE)
    base = _commit(repo, "price")
    (repo / "shop.py").write_text(AFTER)
    sha = _commit(repo, "make price clever" + CLAUDE)
    write_note(
        repo,
        sha,
        CommitNote(files={"shop.py": (NoteEntry("ai", ((1, 10),), ("gen_2",), agent="claude-code"),)}),
    )
    report = run_checks(CheckContext.build(repo, base=base), families=("complexity",))
    assert [f.rule_id for f in report.findings] == ["CW501"]
    finding = report.findings[0]
    assert finding.properties["before"] < finding.properties["after"] and finding.ai_authored


def test_complexity_drift_ignores_human_functions(repo):
    (repo / "shop.py").write_text(BEFORE)
    base = _commit(repo, "price")
    (repo / "shop.py").write_text(AFTER)
    sha = _commit(repo, "by hand")
    write_note(repo, sha, CommitNote(files={"shop.py": (NoteEntry("human", ((1, 10),)),)}))
    report = run_checks(CheckContext.build(repo, base=base), families=("complexity",))
    assert report.findings == []
    high = CheckSection(complexity_growth=100.0)
    assert run_checks(CheckContext.build(repo, base=base, settings=high), families=("complexity",)).findings == []


def test_ai_written_findings_come_first(repo):
    (repo / "human.py").write_text("import json\njson.parse('1')\n")
    _commit(repo, "human")
    (repo / "robot.py").write_text("import json\njson.parse('2')\n")
    _commit(repo, "robot" + CLAUDE)
    report = run_checks(CheckContext.build(repo), families=("apis",))
    assert [(f.path, f.ai_authored) for f in report.findings] == [("robot.py", True), ("human.py", False)]


def test_ai_only_reports_only_agent_lines(repo, monkeypatch, capsys):
    import json

    from codewitness.cli import main

    (repo / "human.py").write_text("import json\njson.parse('1')\n")
    _commit(repo, "human")
    (repo / "robot.py").write_text("import json\njson.parse('2')\n")
    _commit(repo, "robot" + CLAUDE)
    monkeypatch.chdir(repo)
    assert main(["check", "--only", "apis", "--ai-only", "--json"]) == 1
    assert [f["path"] for f in json.loads(capsys.readouterr().out)["findings"]] == ["robot.py"]


def test_complexity_helpers():
    assert growth(10, 12) == 0.2 and growth(0, 3) == 3.0
    assert function_complexity("def (:") == {}
    assert function_complexity("class A:\n    def m(self, x):\n        if x:\n            return 1\n")["A::m"][0] == 1


def test_disabled_rules_are_not_reported(repo):
    (repo / "a.py").write_text("import json\njson.parse('1')\n")
    settings = dataclasses.replace(CheckSection(), disable=("CW201",))
    assert run_checks(CheckContext.build(repo, settings=settings), families=("apis",)).findings == []


def test_uncommitted_lines_use_the_working_tree_numbers(repo):
    (repo / "robot.py").write_text("import json\njson.parse('1')\n")
    _commit(repo, "robot" + CLAUDE)
    # A person inserts lines above the AI line without committing: the finding moves to line 4.
    (repo / "robot.py").write_text("import json\n# added by hand\njson.parse('0')\njson.parse('1')\n")
    report = run_checks(CheckContext.build(repo), families=("apis",))
    assert [(f.line, f.ai_authored) for f in report.findings] == [(4, True), (3, None)]
