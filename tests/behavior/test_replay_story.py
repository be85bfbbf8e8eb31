"""The story of the issue, end to end on a real project: a person's v1, real traffic sampled under
``codewitness run``, an AI v2 through the capture hooks; ``codewitness replay --against v1``
finds each change of behaviour -- rounding of one rare input shape, an int become a float (equal
under ``==``), a datetime that lost its time zone, an exception newly raised -- names the
generation that wrote it, keeps an unseeded ``random.choice`` out of the verdict as
non-deterministic, counts the redacted inputs it cannot replay, and exits 1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from tests.behavior.replay_project import EDITS, Project, build, cli, new_repo

from codewitness import ledger
from codewitness.store import open_store


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    base = tmp_path_factory.mktemp("story")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("GIT_CONFIG_GLOBAL", str(base / "gitconfig"))
        env.setenv("GIT_CONFIG_NOSYSTEM", "1")
        yield build(new_repo(base / "repo"))


@pytest.fixture(scope="module")
def replayed(project: Project) -> dict[str, Any]:
    proc = cli(project.root, "replay", "--all", "--against", "v1", "--json")
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    report["by_function"] = {f["function"]: f for f in report["functions"]}
    return report


def generation_of(project: Project, prompt: str) -> str:
    with open_store(project.db_url) as store:
        (found,) = [g for g in ledger.find(store) if g.prompt == prompt]
    return found.id


def test_the_rare_input_shape_is_in_the_corpus(project: Project) -> None:
    detail = json.loads(cli(project.root, "corpus", "show", "shop.pricing.price", "--json", "--limit", "100").stdout)
    yen = [item for item in detail["items"] if "Currency.JPY" in item["inputs"]]
    euro = [item for item in detail["items"] if "Currency.EUR" in item["inputs"]]
    assert yen and euro  # 20 of 200 calls were in yen; sampling kept their shape
    assert all(item["source"] == "sample" and item["observed"] for item in detail["items"])


def test_the_changed_rounding_of_one_shape_is_found_and_its_generation_named(
    project: Project, replayed: dict[str, Any]
) -> None:
    price = replayed["by_function"]["shop.pricing.price"]
    assert price["differing"] >= 1 and price["equal"] >= 1
    assert price["replayed"] == price["equal"] + price["differing"]
    for example in price["differing_inputs"]:
        assert "currency=Currency.JPY" in example["input"]  # only the yen shape changed
        old, new = example["old"][0], example["new"][0]
        assert old.startswith("returned Decimal('") and new.startswith("returned Decimal('")
        assert "." in old.split("'")[1] and "." not in new.split("'")[1]  # cents, then whole yen
        assert example["differences"][0]["path"] == "result"
    changed = price["changed_by"]
    assert [g["id"] for g in changed["generations"]] == [generation_of(project, EDITS[0][2])]
    assert changed["generations"][0]["model"] == "gpt-5.1-codex"
    assert changed["human_edited"] is False and changed["uncommitted"] is False
    assert changed["commits"] == [project.v2]


def test_an_int_become_a_float_is_a_difference_although_equal_under_eq(
    project: Project, replayed: dict[str, Any]
) -> None:
    units = replayed["by_function"]["shop.pricing.units"]
    assert units["differing"] == units["replayed"] > 0 and units["equal"] == 0
    example = units["differing_inputs"][0]
    count = int(example["input"].split("=")[1])
    assert example["old"][0] == f"returned {count * 2}" and example["new"][0] == f"returned {count * 2}.0"
    assert units["changed_by"]["generations"][0]["id"] == generation_of(project, EDITS[1][2])


def test_a_datetime_that_lost_its_zone_is_a_difference(project: Project, replayed: dict[str, Any]) -> None:
    stamp = replayed["by_function"]["shop.pricing.stamp"]
    assert stamp["differing"] == stamp["replayed"] > 0
    example = stamp["differing_inputs"][0]
    assert example["old"][0].endswith(", tzinfo=timezone.utc)") and "tzinfo" not in example["new"][0]
    assert stamp["changed_by"]["generations"][0]["id"] == generation_of(project, EDITS[2][2])


def test_an_exception_newly_raised_is_a_difference_for_those_inputs_only(
    project: Project, replayed: dict[str, Any]
) -> None:
    discount = replayed["by_function"]["shop.pricing.discount"]
    assert discount["differing"] >= 1 and discount["equal"] >= 1
    for example in discount["differing_inputs"]:
        assert int(example["input"].split("'")[1]) > 500
        assert example["new"][0] == "raised builtins.ValueError: discounts stop at 500"
        assert example["differences"] == [
            {"path": "outcome", "old": example["old"][0], "new": "raised builtins.ValueError: discounts stop at 500"}
        ]
    assert discount["changed_by"]["generations"][0]["id"] == generation_of(project, EDITS[3][2])


def test_an_unseeded_random_choice_is_non_deterministic_not_a_regression(replayed: dict[str, Any]) -> None:
    pick = replayed["by_function"]["shop.pricing.pick"]
    assert pick["nondeterministic"] == pick["replayed"] >= 1
    assert pick["differing"] == 0 and pick["differing_inputs"] == []
    runs = pick["nondeterministic_inputs"][0]
    assert len(set(runs["old"] + runs["new"])) > 1


def test_redacted_inputs_are_counted_not_replayed(replayed: dict[str, Any]) -> None:
    login = replayed["by_function"]["shop.pricing.login"]
    assert login["replayed"] == 0 and login["not_replayable"] >= 1
    assert list(login["not_replayable_by_reason"]) == ["redacted: its snapshot hides a secret"]


def test_the_report_names_both_sides_exits_1_and_leaves_no_worktree(project: Project, replayed: dict[str, Any]) -> None:
    assert replayed["exit_code"] == 1 and replayed["mode"] == "against"
    assert replayed["old"]["commit"] == project.v1 and replayed["old"]["label"].startswith("v1 (")
    assert replayed["new"] == {"label": "working tree", "commit": None, "working_tree": True}
    assert replayed["totals"]["differing"] == sum(f["differing"] for f in replayed["functions"])
    assert len(project.repo.git("worktree", "list").splitlines()) == 1


def test_markdown_for_a_pull_request_and_the_human_report(project: Project) -> None:
    md = cli(project.root, "replay", "shop.pricing.price", "--against", "v1", "--md")
    assert md.returncode == 1
    text = md.stdout
    assert text.startswith("### codewitness replay: 1 of 1 function(s) behave differently against `v1 (")
    assert "| 🔴 `shop.pricing.price` |" in text and "<details><summary>`shop.pricing.price`" in text
    assert generation_of(project, EDITS[0][2]) in text
    human = cli(project.root, "replay", "shop.pricing.units", "--against", "v1")
    assert human.returncode == 1
    assert "shop.pricing.units  replayed" in human.stdout and "result: " in human.stdout
    assert "changed by: gen_" in human.stdout


def test_the_same_revision_shows_only_the_random_function(project: Project) -> None:
    proc = cli(project.root, "replay", "--all", "--same-rev", "--json")
    report = json.loads(proc.stdout)
    flaky = {f["function"] for f in report["functions"] if f["nondeterministic"]}
    assert flaky == {"shop.pricing.pick"} and proc.returncode == 1
    assert report["old"] is None and report["totals"]["differing"] == 0
    history = json.loads(cli(project.root, "flaky", "--json").stdout)
    pick = next(row for row in history if row["function"] == "shop.pricing.pick")
    assert pick["runs"] >= 2 and pick["nondeterministic"] >= 2  # this replay and the one against v1


def test_the_corpus_of_one_revision_only(project: Project) -> None:
    # The traffic ran at v1's child (the driver's commit), v2's parent: nothing was captured at v1.
    none = cli(project.root, "replay", "shop.pricing.units", "--against", "v1", "--corpus-from", "v1", "--json")
    assert json.loads(none.stdout)["functions"][0]["replayed"] == 0 and none.returncode == 0
    some = cli(project.root, "replay", "shop.pricing.units", "--against", "v1", "--corpus-from", "HEAD~1", "--json")
    units = json.loads(some.stdout)["functions"][0]
    assert units["replayed"] == units["differing"] > 0 and some.returncode == 1
