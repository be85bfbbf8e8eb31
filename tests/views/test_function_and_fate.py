"""Function context and a generation's fate, on a real repository with notes and a real store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from codewitness import ledger
from codewitness.attribution.notes import NoteEntry
from codewitness.cli import main
from codewitness.errors import InputError, NotFoundError
from codewitness.ingest import ingest_batch
from codewitness.model import Generation
from codewitness.store import Store, open_store
from codewitness.views.function import function_context, parse_target
from codewitness.views.generations import generation_fate
from tests.attribution.conftest import Repo
from tests.git_calls import log_git_calls
from tests.runtime_records import aggregate, breach, exception

PRICING = """\
def total(items):
    s = 0
    for i in items:
        s += i
    return s


def helper(x):
    return x * 2
"""


@dataclass
class Project:
    repo: Repo
    store: Store
    gid: str
    first: str
    second: str


@pytest.fixture
def project(tmp_path: Path, db_url: str) -> Iterator[Project]:
    """An agent wrote total() (a person edited line 4 before the commit; a later commit rewrote line 3)."""
    repo = Repo(tmp_path / "repo")
    store = open_store(db_url)
    generation = ledger.record(
        store, Generation.create(agent="claude-code", model="claude-opus-4-5", prompt="write total", output="...")
    )
    repo.write("shop/__init__.py", "")
    repo.write("shop/pricing.py", PRICING)
    first = repo.commit("pricing")
    ai = {"generation_ids": (generation.id,), "agent": "claude-code", "model": "claude-opus-4-5"}
    repo.note(
        first,
        {
            "shop/pricing.py": [
                NoteEntry("ai", ((1, 3), (5, 5)), **ai),
                NoteEntry("mixed", ((4, 4),), **ai),
                NoteEntry("human", ((8, 9),)),
            ]
        },
    )
    repo.write("shop/pricing.py", PRICING.replace("for i in items:", "for i in list(items):"))
    second = repo.commit("iterate over a copy")
    ingest_batch(
        store,
        [
            aggregate("shop.pricing.total", [1_000_000] * 4, {"TypeError": 1}, generation_ids=[generation.id]),
            exception("shop.pricing.total", "unsupported operand", generation_ids=[generation.id]),
            breach("shop.pricing.total", "total_not_negative", generation_ids=[generation.id]),
        ],
        source="test",
    )
    try:
        yield Project(repo, store, generation.id, first, second)
    finally:
        store.close()


def test_function_context_by_line_and_by_name(project: Project) -> None:
    by_line = function_context(project.store, "shop/pricing.py:4", root=project.repo.root)
    by_name = function_context(project.store, "shop.pricing.total", root=project.repo.root)
    assert by_line == by_name
    ctx = by_line
    assert (ctx.qualname, ctx.path, ctx.start_line, ctx.end_line) == ("shop.pricing.total", "shop/pricing.py", 1, 5)
    assert ctx.revision == project.second and ctx.origin_source == "attribution"
    assert ctx.origin is not None
    assert ctx.origin.ai_share == pytest.approx(4 / 5)  # line 3 was rewritten by a person
    assert ctx.origin.human_edit_share == pytest.approx(2 / 5)  # line 4 (mixed) and line 3
    assert ctx.origin.generation_ids == (project.gid,) and ctx.origin.models == ("claude-opus-4-5",)
    assert [g.id for g in ctx.generations] == [project.gid] and ctx.generations[0].prompt == "write total"
    assert ctx.runtime is not None and ctx.runtime["calls"] == 4 and ctx.runtime["errors"] == 1
    assert [e["message"] for e in ctx.exceptions] == ["unsupported operand"]
    assert [b["rule"] for b in ctx.breaches] == ["total_not_negative"]
    data = ctx.to_dict()
    assert data["origin"] is not None and data["origin"]["source"] == "attribution"
    assert data["generations"][0]["model"] == "claude-opus-4-5"
    json.dumps(data)


def test_a_human_function_without_runtime_facts(project: Project) -> None:
    ctx = function_context(project.store, "shop/pricing.py:9", root=project.repo.root)
    assert ctx.qualname == "shop.pricing.helper" and ctx.origin is not None and ctx.origin.ai_share == 0.0
    assert ctx.runtime is None and ctx.generations == () and ctx.exceptions == []


def test_outside_a_repository_the_origin_is_what_the_sensor_reported(project: Project) -> None:
    ctx = function_context(project.store, "shop.pricing.total")
    assert ctx.origin_source == "runtime" and ctx.revision is None
    assert ctx.origin is not None and ctx.origin.ai_share == 1.0 and ctx.origin.generation_ids == (project.gid,)
    assert [g.id for g in ctx.generations] == [project.gid]


@pytest.mark.parametrize(
    ("target", "error", "message"),
    [
        ("shop.pricing.nothing", NotFoundError, "nothing is known about shop.pricing.nothing"),
        ("shop/pricing.py:7", InputError, "not inside a Python function"),
        ("shop/pricing.py:99", InputError, "past its end"),
        ("shop.pricing.*", InputError, "not a pattern"),
        ("shop/pricing.py:0", InputError, "numbered from 1"),
        ("  ", InputError, "name a function"),
    ],
)
def test_unknown_or_bad_targets_are_clear_errors(
    project: Project, target: str, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message.replace("*", r"\*")):
        function_context(project.store, target, root=project.repo.root)


def test_a_path_and_line_needs_the_repository(project: Project) -> None:
    with pytest.raises(InputError, match="needs the repository"):
        function_context(project.store, "shop/pricing.py:4")
    assert parse_target("a/b.py:12") == ("a/b.py", 12) and parse_target("pkg.mod.Cls.m") == "pkg.mod.Cls.m"


def test_the_fate_of_a_generation(project: Project) -> None:
    fate = generation_fate(project.repo.root, project.gid)
    assert (fate.written, fate.kept, fate.edited, fate.deleted) == (5, 3, 1, 1)
    assert [c.commit for c in fate.commits] == [project.first] and fate.commits[0].lines == 5
    assert fate.commits[0].subject == "pricing" and fate.agent == "claude-code"
    at_first = generation_fate(project.repo.root, project.gid, project.first)
    assert (at_first.kept, at_first.edited, at_first.deleted) == (4, 1, 0)
    nothing = generation_fate(project.repo.root, "gen_" + "0" * 20)
    assert (nothing.written, nothing.files, nothing.commits) == (0, (), ())


def test_the_commands_show_the_views(
    project: Project, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project.repo.root)
    url = project.store.url
    assert main(["--db", url, "function", "shop/pricing.py:4", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["function"] == "shop.pricing.total"
    assert main(["--db", url, "function", "shop.pricing.total"]) == 0
    shown = capsys.readouterr().out
    assert "80% AI-written" in shown and project.gid in shown and "unsupported operand" in shown
    assert main(["--db", url, "generations", "fate", project.gid[:10], "--json"]) == 0
    fate = json.loads(capsys.readouterr().out)
    assert (fate["written"], fate["kept"], fate["edited"], fate["deleted"], fate["recorded"]) == (5, 3, 1, 1, True)
    assert main(["--db", url, "generations", "fate", project.gid]) == 0
    assert "3 kept, 1 edited by a person before commit, 1 deleted or rewritten since" in capsys.readouterr().out
    assert main(["--db", url, "function", "shop.pricing.gone"]) == 1
    assert "nothing is known about shop.pricing.gone" in capsys.readouterr().err


def test_a_second_brief_at_the_same_commit_asks_git_only_what_may_have_changed(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from codewitness.attribution.storecache import store_cache
    from codewitness.views.agent import function_brief

    def brief() -> dict[str, object]:  # as the MCP server asks: the store's attribution cache
        return dict(function_brief(project.store, "shop/pricing.py:4", root=project.repo.root, cache=cache).to_dict())

    cache = store_cache(project.store)
    first = brief()
    log = log_git_calls(monkeypatch, tmp_path)
    again = brief()
    assert again == first
    assert first["reach"] is not None  # the call graph was read (and is not again)
    calls = [c.split(" ")[:2] for c in log.read_text().splitlines()]
    # Where HEAD and the notes are now is read again; the commit's tree, history and call graph are not.
    assert ["rev-list", project.second] not in calls
    assert [c for c in calls if c[0] in ("ls-tree", "rev-list", "blame")] == []
    assert calls.count(["rev-parse", "--show-toplevel"]) == 1
    assert calls.count(["rev-parse", "--verify"]) == 1

    project.repo.write("shop/pricing.py", PRICING.replace("return s", "return s  # summed"))
    third = project.repo.commit("a comment")
    assert brief()["revision"] == third  # HEAD moved: read at the new commit
