"""``diff-behavior``: a property-based search (strategies from the type hints, seeded with the
corpus) finds an input on which two revisions differ although the corpus holds none, prints it
minimised, and exits 1; revisions that agree exit 0 saying how many inputs were tried."""

from __future__ import annotations

import json

import pytest
from tests.behavior.replay_project import cli
from tests.conftest import GitRepo

from codewitness.behavior.corpus import add_user_entry
from codewitness.store import open_store

V1 = '''def fee(amount: int) -> int:
    """A tenth, rounded down."""
    return amount // 10


def same(flag: bool, count: int) -> int:
    return count + 1 if flag else count
'''
#: Truncates instead: the same as v1 for every amount >= 0, and for the multiples of ten.
V2 = V1.replace("return amount // 10", "return int(amount / 10)")


@pytest.fixture
def repo(git_repo: GitRepo) -> GitRepo:
    git_repo.write("fees.py", V1)
    git_repo.write(".gitignore", ".codewitness/\n")
    git_repo.commit("v1")
    git_repo.git("tag", "v1")
    git_repo.write("fees.py", V2)
    git_repo.commit("v2")
    with open_store(f"sqlite:///{git_repo.root / '.codewitness' / 'witness.db'}") as store:
        for amount in (0, 10, 55, 1234):  # real traffic: never a negative amount
            add_user_entry(store, "fees.fee", {"amount": amount})
    return git_repo


def test_the_search_finds_a_minimal_input_the_corpus_lacked(repo: GitRepo) -> None:
    replayed = json.loads(cli(repo.root, "replay", "fees.fee", "--against", "v1", "--json").stdout)
    assert replayed["totals"]["differing"] == 0  # the corpus alone sees no change
    proc = cli(repo.root, "diff-behavior", "fees.fee", "--against", "v1", "--json")
    assert proc.returncode == 1, proc.stderr
    found = json.loads(proc.stdout)
    assert found["found"] is True and found["input"] == "amount=-1"  # shrunk to the smallest such amount
    assert (found["old_outcome"], found["new_outcome"]) == ("returned -1", "returned 0")
    assert found["differences"] == [{"path": "result", "old": "-1", "new": "0"}]
    assert found["hints"] == {"amount": {"kind": "int"}}
    human = cli(repo.root, "diff-behavior", "fees:fee", "--against", "v1")
    assert human.returncode == 1 and human.stdout.splitlines()[0] == "fees.fee differs on: amount=-1"


def test_revisions_that_agree_exit_0(repo: GitRepo) -> None:
    proc = cli(repo.root, "diff-behavior", "fees.same", "--against", "v1", "--max-examples", "40", "--json")
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout)
    assert found["found"] is False and found["tried"] >= 4  # booleans and counts do not take 40 draws
    assert found["hints"] == {"flag": {"kind": "bool"}, "count": {"kind": "int"}}
    assert len(repo.git("worktree", "list").splitlines()) == 1
