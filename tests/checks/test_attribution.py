"""The gate's line attribution: only the lines findings need are worked out, with the same answers as a whole file's.

A real repository with every kind of evidence (codewitness notes with ai/mixed/human entries, a git-ai note,
an agent trailer, people's commits, a moved block, a binary file, uncommitted and untracked files) is built
once in a temporary folder; generated sets of ``(file, line)`` are asked and compared with the engine's
attribution of every line.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codewitness.attribution.blame import Attributor, line_origins
from codewitness.attribution.gitai import GITAI_REF
from codewitness.attribution.notes import NoteEntry
from codewitness.checks.attribution import Attribution, GateCache
from tests.attribution.conftest import CLAUDE_TRAILER, Repo, lines
from tests.git_calls import log_git_calls

GITAI_NOTE = (
    "{path}\n  s_0123456789abcd::t_0123456789abcd {ranges}\n---\n"
    '{{"schema_version": "authorship/3.0.0", "sessions": {{"s_0123456789abcd": '
    '{{"agent_id": {{"tool": "cursor", "id": "c", "model": "gpt-5"}}}}}}}}'
)
#: Files committed and unchanged in the working tree (the engine answers for them).
CLEAN = ("a.py", "b.py", "c.py", "pkg/d.py", "logo.bin")


@pytest.fixture(scope="module")
def evidence_repo(tmp_path_factory: pytest.TempPathFactory) -> Repo:
    repo = Repo(tmp_path_factory.mktemp("attr") / "repo")
    repo.write("a.py", lines(30, "a"))
    repo.write("b.py", lines(12, "b"))
    repo.write("logo.bin", b"\x89PNG\0\0\0binary")
    repo.commit("people start")
    text = lines(30, "a").splitlines(keepends=True)
    text[4:8] = [f"agent{i} = {i}\n" for i in range(6)]
    repo.write("a.py", "".join(text))
    repo.write("c.py", lines(9, "c"))
    repo.write("wip.py", lines(5, "w"))
    repo.commit("agent work" + CLAUDE_TRAILER)
    text = (repo.root / "a.py").read_text().splitlines(keepends=True)
    text[20:22] = ["noted1 = 1\n", "noted2 = 2\n", "noted3 = 3\n"]
    repo.write("a.py", "".join(text))
    repo.write("b.py", lines(12, "b").replace("b3 = 3", "b3 = 'edited'"))
    repo.write("pkg/d.py", lines(15, "d"))
    noted = repo.commit("hook-recorded work")
    repo.note(
        noted,
        {
            "a.py": [NoteEntry("ai", ((21, 22),), generation_ids=("gen_aaa",), agent="claude-code", model="opus")],
            "pkg/d.py": [NoteEntry("ai", ((1, 4),), agent="codex"), NoteEntry("mixed", ((9, 10),), agent="codex")],
        },
    )
    repo.write("c.py", lines(9, "c") + "tail = 1\nmore = 2\n")
    gitai = repo.commit("cursor work")
    repo.raw_note(GITAI_REF, gitai, GITAI_NOTE.format(path="c.py", ranges="10"))
    text = (repo.root / "a.py").read_text().splitlines(keepends=True)
    text = text[10:16] + text[:10] + text[16:]  # a person moves a block up
    repo.write("a.py", "".join(text))
    repo.commit("people tidy up")
    repo.write("wip.py", lines(5, "w") + "uncommitted = 1\n")  # changed in the working tree
    repo.write("new.py", lines(3, "n"))  # untracked
    return repo


def _whole(repo: Repo, rel: str) -> list[object]:
    return [o for o in line_origins(repo.root, rel)]


_asked = st.lists(st.tuples(st.sampled_from(CLEAN), st.integers(min_value=-1, max_value=40)), max_size=25)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(asked=_asked, warm=st.booleans())
def test_the_lines_asked_get_the_origins_of_the_whole_files_attribution(
    evidence_repo: Repo, asked: list[tuple[str, int]], warm: bool, tmp_path_factory: pytest.TempPathFactory
) -> None:
    repo = evidence_repo
    cache_file = (repo.root.parent / "cache.json") if warm else tmp_path_factory.mktemp("cold") / "cache.json"
    attr = Attribution(repo.root, GateCache(cache_file))
    attr.prefetch(asked)
    try:
        for rel, line in [*asked, *reversed(asked)]:
            whole = _whole(repo, rel)
            expected = whole[line - 1] if 0 < line <= len(whole) else None
            assert attr.origin(rel, line) == expected, (rel, line)
    finally:
        attr.close()


def test_the_evidence_repo_has_every_kind_of_origin(evidence_repo: Repo) -> None:
    """The comparison above means something: the files hold each origin the engine can give."""
    seen = {(o.kind, o.evidence) for rel in CLEAN for o in _whole(evidence_repo, rel)}  # type: ignore[attr-defined]
    assert {("ai", "note"), ("mixed", "note"), ("human", "note"), ("ai", "import"), ("human", "import")} <= seen
    assert {("ai", "trailer"), ("human", "author")} <= seen
    assert _whole(evidence_repo, "logo.bin") == []


def test_changed_and_untracked_files_are_read_from_the_working_tree(evidence_repo: Repo) -> None:
    attr = Attribution(evidence_repo.root)
    attr.prefetch([("wip.py", 1), ("wip.py", 6), ("new.py", 1)])
    try:
        assert attr.ai_authored("wip.py", 1) is True  # the agent's commit, numbered as in the working tree
        assert attr.origin("wip.py", 6) is None  # not committed yet
        assert attr.origin("new.py", 1) is None
    finally:
        attr.close()


def test_the_engine_gives_just_the_lines_asked_for(evidence_repo: Repo) -> None:
    only = {"a.py": {30, 1, 21, 99}, "pkg/d.py": {10}, "c.py": set()}
    with Attributor(evidence_repo.root) as engine:
        entries = engine.files(sorted(only))
        whole = {fa.path: fa for fa in engine.attribute(entries)}
        some = {fa.path: fa for fa in engine.attribute(entries, only=only)}
    for path, wanted in only.items():
        assert some[path].lines == tuple(ln for ln in whole[path].lines if ln.line in wanted)
    assert [ln.line for ln in some["a.py"].lines] == [1, 21, 30]


def test_a_warm_run_lists_no_history(evidence_repo: Repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Cached blames are checked against the commits known to be in ``HEAD``'s history, kept in the cache:
    the second run does not list the history again (``git rev-list``), and answers the same."""
    log = log_git_calls(monkeypatch, tmp_path)
    asked = [(rel, n) for rel in CLEAN for n in (1, 5, 21)]
    answers = []
    for _ in range(2):
        log.write_text("")
        attr = Attribution(evidence_repo.root, GateCache(tmp_path / "attribution.json"))
        attr.prefetch(asked)
        answers.append([attr.origin(rel, n) for rel, n in asked])
        attr.close()
    assert "blame" not in log.read_text()
    assert "rev-list" not in log.read_text()
    assert answers[0] == answers[1]
    assert answers[0][0] is not None
