"""Fingerprints survive unrelated edits; the markdown report says what a reviewer needs."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from codewitness.checks.findings import Finding, ordered, with_fingerprints
from codewitness.checks.markdown import to_markdown
from codewitness.checks.runner import Report


@given(st.integers(min_value=1, max_value=5000), st.integers(min_value=0, max_value=500), st.text(max_size=40))
def test_fingerprint_ignores_line_moves_and_spacing(line, shift, text):
    a = with_fingerprints([Finding("CW201", "a.py", line, "m", snippet=f"x = {text!r}")])[0]
    b = with_fingerprints([Finding("CW201", "a.py", line + shift, "m", snippet=f"  x  =  {text!r} ")])[0]
    assert a.fingerprint == b.fingerprint


def test_identical_findings_get_distinct_fingerprints_and_other_files_differ():
    same = with_fingerprints([Finding("CW201", "a.py", 1, "m", snippet="json.parse(x)")] * 2)
    other = with_fingerprints([Finding("CW201", "b.py", 1, "m", snippet="json.parse(x)")])
    assert len({same[0].fingerprint, same[1].fingerprint, other[0].fingerprint}) == 3


def test_ai_written_first_then_severity():
    findings = [
        Finding("CW309", "a.py", 1, "low one"),
        Finding("CW101", "b.py", 1, "high one"),
        Finding("CW309", "c.py", 9, "ai low", ai_authored=True),
    ]
    assert [f.message for f in ordered(findings)] == ["ai low", "high one", "low one"]


def test_markdown_report():
    findings = with_fingerprints(
        [
            Finding("CW101", "requirements.txt", 2, "pypi package 'x|y' does not exist", ai_authored=True),
            Finding("CW107", "requirements.txt", 3, "pypi package 'z' was not checked: index unreachable"),
        ]
    )
    text = to_markdown(Report(findings=ordered(findings), skipped=[("bad.py", "not valid Python")]))
    assert text.startswith("### codewitness check: 2 finding(s) (1 high, 1 info)")
    assert "1 on AI-written lines" in text and "x\\|y" in text
    assert "**not checked**" in text and "`bad.py` (not valid Python)" in text
    assert to_markdown(Report(findings=[])).startswith("### codewitness check: no findings")


def test_ignore_comments_suppress_named_rules_only(tmp_path):
    from codewitness.checks import CheckContext, run_checks

    (tmp_path / "a.py").write_text(
        "import json\n"
        "json.parse('1')  # codewitness: ignore[CW201]\n"
        "json.parse('2')  # codewitness: ignore[CW305]\n"
        "json.parse('3')  # codewitness: ignore\n"
    )
    report = run_checks(CheckContext.build(tmp_path), families=("apis",))
    assert [f.line for f in report.findings] == [3]


def test_placeholder_url_passwords_are_not_secrets(tmp_path):
    from codewitness.checks.context import SourceFile
    from codewitness.checks.security import secret_findings

    path = tmp_path / "db.py"
    secret_url = "postgresql://app:S3cr3tPassw0rd2024@db.internal/app"  # codewitness: ignore[CW302] - test data
    path.write_text(f'DOC = "postgresql://user:pw@host/db"\nURL = "{secret_url}"\n')
    assert [f.line for f in secret_findings([SourceFile(path, "db.py")])] == [2]
