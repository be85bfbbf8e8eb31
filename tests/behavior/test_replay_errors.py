"""Bad input to a replay: each is one clear line, counted in the report, and skips nothing else --
a function that cannot be imported at the old revision, a corpus entry that cannot be rebuilt
there, a call that hangs (timed out; the next input goes on in a new process), a call that kills
its process, a function with side effects excluded by configuration, a revision that does not
exist -- and the temporary worktrees are always removed."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.behavior.replay_project import cli
from tests.conftest import GitRepo

from codewitness.sensor.exact import encode_arguments
from codewitness.store import open_store
from codewitness.store.corpus import add_entry

TYPES_V1 = """from dataclasses import dataclass


@dataclass(frozen=True)
class Money:
    cents: int
"""
TYPES_V2 = (
    TYPES_V1
    + """

@dataclass(frozen=True)
class Money2:
    cents: int
"""
)
CALC_V1 = """import os


def add(a, b):
    return a + b


def slow(n):
    return n * 10


def crash(n):
    return n


def write_log(path):
    with open(path, "w") as handle:
        handle.write("side effect")
    return True


def money(m):
    return m.cents
"""
CALC_V2 = CALC_V1.replace(
    "def slow(n):\n    return n * 10",
    "def slow(n):\n    if n == 3:\n        while True:\n            pass\n    return n * 10",
).replace("def crash(n):\n    return n", "def crash(n):\n    if n == 2:\n        os._exit(3)\n    return n")
NEWMOD = "def fresh(x):\n    return x + 1\n"


class Money2:  # stands for shop.types.Money2 when encoding (only its name is recorded)
    pass


def _entry(store: Any, function: str, **arguments: Any) -> None:
    with store.write() as conn:
        add_entry(conn, function=function, source="user", input=encode_arguments(arguments), arguments={})


@pytest.fixture
def project(git_repo: GitRepo, tmp_path: Path) -> Iterator[tuple[GitRepo, Path]]:
    repo = git_repo
    repo.write("shop/__init__.py", "")
    repo.write("shop/types.py", TYPES_V1)
    repo.write("shop/calc.py", CALC_V1)
    repo.write(".gitignore", ".codewitness/\n")
    repo.write(
        "codewitness.toml",
        '[behavior]\ntimeout = 2\nrepeat = 1\nexclude = ["shop.calc:write_log"]\n',
    )
    repo.commit("v1")
    repo.git("tag", "v1")
    repo.write("shop/types.py", TYPES_V2)
    repo.write("shop/calc.py", CALC_V2)
    repo.write("shop/newmod.py", NEWMOD)
    repo.commit("v2")
    with open_store(f"sqlite:///{repo.root / '.codewitness' / 'witness.db'}") as store:
        for a, b in ((1, 2), (2.5, 1)):
            _entry(store, "shop.calc.add", a=a, b=b)
        for n in (1, 3, 5):
            _entry(store, "shop.calc.slow", n=n)
        for n in (1, 2, 4):
            _entry(store, "shop.calc.crash", n=n)
        _entry(store, "shop.calc.write_log", path=str(tmp_path / "side-effect.txt"))
        _entry(store, "shop.newmod.fresh", x=1)
        with store.write() as conn:
            money2 = {"m": {"$": "dataclass", "type": "shop.types:Money2", "fields": [["cents", 5]]}}
            add_entry(conn, function="shop.calc.money", source="user", input=money2, arguments={})
            money = {"m": {"$": "dataclass", "type": "shop.types:Money", "fields": [["cents", 7]]}}
            add_entry(conn, function="shop.calc.money", source="user", input=money, arguments={})
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    with pytest.MonkeyPatch.context() as env:
        env.setenv("TMPDIR", str(scratch))  # the worktrees go here: the test sees what is left
        yield repo, scratch


def test_each_bad_input_is_one_line_counted_and_nothing_else_is_skipped(project: tuple[GitRepo, Path]) -> None:
    repo, scratch = project
    proc = cli(repo.root, "replay", "--all", "--against", "v1", "--json")
    assert proc.returncode == 0, proc.stderr  # nothing behaves differently: errors are not differences
    report = json.loads(proc.stdout)
    by = {f["function"]: f for f in report["functions"]}
    old = report["old"]["label"]
    assert old.startswith("v1 (")

    fresh = by["shop.newmod.fresh"]
    assert fresh["replayed"] == 0 and fresh["errors"] == 1
    (reason,) = fresh["errors_by_reason"]
    assert reason == f"{old}: cannot import shop.newmod.fresh: ModuleNotFoundError: No module named 'shop.newmod'"

    money = by["shop.calc.money"]
    assert (money["replayed"], money["equal"], money["not_replayable"]) == (1, 1, 1)
    (reason,) = money["not_replayable_by_reason"]
    assert reason.startswith(f"cannot be rebuilt at {old}: arguments.m: type shop.types:Money2 cannot be imported here")

    slow = by["shop.calc.slow"]
    assert (slow["replayed"], slow["equal"], slow["errors"]) == (2, 2, 1)
    assert slow["errors_by_reason"] == {"working tree: timed out after 2 s (behavior.timeout)": 1}

    crash = by["shop.calc.crash"]
    assert (crash["replayed"], crash["equal"], crash["errors"]) == (2, 2, 1)
    (reason,) = crash["errors_by_reason"]
    assert reason.startswith("working tree: the process ended during the call")

    log = by["shop.calc.write_log"]
    assert log["excluded"] == "behavior.exclude 'shop.calc:write_log' (side effects): not run"
    assert log["replayed"] == 0 and not (repo.root.parent / "side-effect.txt").exists()
    assert not any(Path(p).name == "side-effect.txt" for p in os.listdir(repo.root.parent))

    assert by["shop.calc.add"]["equal"] == 2
    assert report["totals"] == {
        "replayed": 7,
        "equal": 7,
        "differing": 0,
        "nondeterministic": 0,
        "errors": 3,
        "not_replayable": 1,
        "excluded": 1,
    }
    assert len(repo.git("worktree", "list").splitlines()) == 1
    assert sorted(os.listdir(scratch)) == []  # every worktree and runner folder removed


def test_the_human_report_says_each_reason_on_its_own_line(project: tuple[GitRepo, Path]) -> None:
    repo, _ = project
    proc = cli(repo.root, "replay", "shop.calc.slow", "shop.newmod.fresh", "shop.calc.write_log", "--against", "v1")
    lines = proc.stdout.splitlines()
    assert "  error (1): working tree: timed out after 2 s (behavior.timeout)" in lines
    assert any(ln.startswith("  error (1): v1 (") and "No module named 'shop.newmod'" in ln for ln in lines)
    assert "shop.calc.write_log  excluded: behavior.exclude 'shop.calc:write_log' (side effects): not run" in lines


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["shop.calc.add", "--against", "nope"], 1, "revision 'nope' does not exist in "),
        (["shop.calc.add", "--against", "v1", "--rev", "nope2"], 1, "revision 'nope2' does not exist in "),
        (["--against", "v1"], 2, "name the functions to replay (module.qualname), or --all"),
        (["shop.calc.add"], 2, "say what to replay against: --against REV"),
        (["shop.calc.add", "--same-rev", "--against", "v1"], 2, "--same-rev runs one revision"),
    ],
)
def test_a_mistake_is_one_line_and_an_exit_code(
    project: tuple[GitRepo, Path], args: list[str], code: int, message: str
) -> None:
    repo, scratch = project
    proc = cli(repo.root, "replay", *args, check=False)
    assert proc.returncode == code
    assert proc.stdout == ""
    (line,) = proc.stderr.splitlines()
    assert line.startswith("codewitness: error: ") and message in line
    assert len(repo.git("worktree", "list").splitlines()) == 1
    assert os.listdir(scratch) == []


def test_a_budget_that_runs_out_counts_what_was_not_run(project: tuple[GitRepo, Path]) -> None:
    repo, _ = project
    (repo.root / "codewitness.toml").write_text("[behavior]\ntimeout = 3\nrepeat = 1\nbudget = 2\n")
    proc = cli(repo.root, "replay", "shop.calc.slow", "shop.calc.add", "--against", "v1", "--json")
    report = json.loads(proc.stdout)
    assert report["budget_spent"] is True
    reasons = [r for f in report["functions"] for r in f["errors_by_reason"]]
    assert any("the replay's budget (2 s) ran out" in r for r in reasons)
    total = sum(f["replayed"] + f["errors"] + f["not_replayable"] for f in report["functions"])
    assert total == 5  # every input is accounted for: replayed, or counted with its reason
