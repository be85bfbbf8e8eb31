"""The corpus: AI-typical flawed snippets must raise exactly their findings; clean snippets nothing.

Each snippet's first line names its rule ids (``# expect: CW303 CW304`` or ``# expect: none``), and
every line that must be reported ends with ``# finding: <rule ids>``: the report has to match those
line by line, finding for finding (a rule that fires on one line too many or too few fails).
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from codewitness.checks import CheckContext, run_checks

CORPUS = Path(__file__).parent / "corpus"
SNIPPETS = sorted(CORPUS.glob("*.py"))


def expected(path: Path) -> set[str]:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    match = re.match(r"# expect: (.*)$", first)
    assert match, f"{path.name} must start with '# expect: ...'"
    return set() if match.group(1).strip() == "none" else set(match.group(1).split())


_MARK = re.compile(r"# finding: (CW\d+(?: CW\d+)*)$")


def marked(path: Path) -> Counter[tuple[int, str]]:
    """``(line, rule id)`` of every ``# finding:`` mark in the snippet."""
    found: Counter[tuple[int, str]] = Counter()
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        match = _MARK.search(text)
        if match:
            found.update((number, rule) for rule in match.group(1).split())
    return found


@pytest.fixture(scope="module")
def corpus_report():
    ctx = CheckContext.build(CORPUS)
    report = run_checks(ctx, families=("apis", "security"))
    by_file: dict[str, set[str]] = {}
    for f in report.findings:
        by_file.setdefault(f.path, set()).add(f.rule_id)
    return report, by_file


def test_corpus_has_both_kinds():
    names = [p.name for p in SNIPPETS]
    assert sum(n.startswith("flawed_") for n in names) >= 10
    assert sum(n.startswith("clean_") for n in names) >= 4


@pytest.mark.parametrize("snippet", SNIPPETS, ids=lambda p: p.stem)
def test_snippet_raises_exactly_its_rules(snippet: Path, corpus_report):
    _, by_file = corpus_report
    assert by_file.get(snippet.name, set()) == expected(snippet)


@pytest.mark.parametrize("snippet", SNIPPETS, ids=lambda p: p.stem)
def test_snippet_raises_exactly_its_findings_line_by_line(snippet: Path, corpus_report):
    """Issue 25: sets of rule ids hid a rule that stopped firing on a second line of a file.

    Killed by it: dropping ``"admin" in path`` from CW303 (flawed_admin_get.py has only GET handlers
    under /admin) and no longer counting ``except BaseException:`` as swallowing (flawed_swallowed.py).
    """
    report, _ = corpus_report
    got = Counter((f.line, f.rule_id) for f in report.findings if f.path == snippet.name)
    assert got == marked(snippet)
    assert {rule for _, rule in marked(snippet)} == expected(snippet)


def test_findings_name_the_invented_api(corpus_report):
    report, _ = corpus_report
    messages = {f.message for f in report.findings if f.path == "flawed_hallucinated_apis.py"}
    assert any("fetch_json" in m for m in messages)
    assert any("'parse'" in m for m in messages)
    assert any("joinpath" in m for m in messages)
    assert any("os.pathx" in m for m in messages)


def test_two_processes_give_the_same_report(corpus_report):
    report, _ = corpus_report
    parallel = run_checks(CheckContext.build(CORPUS), families=("apis", "security"), jobs=2)
    assert "files (2 processes)" in parallel.seconds
    assert [f.fingerprint for f in parallel.findings] == [f.fingerprint for f in report.findings]


def test_family_entry_points_agree_with_the_runner(corpus_report):
    from codewitness.checks import apis, security

    report, _ = corpus_report
    ctx = CheckContext.build(CORPUS)
    direct = {(f.rule_id, f.path, f.line) for f in apis.run(ctx) + security.run(ctx)}
    assert direct == {(f.rule_id, f.path, f.line) for f in report.findings}
