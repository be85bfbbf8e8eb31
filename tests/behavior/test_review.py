"""Review sampling riding on the sensor (the review plug-in), on every backend: items leave the
process with the origin of their function, at most ``PER_INTERVAL`` per function per interval,
and go through the store and the CLI to a regression case."""

from __future__ import annotations

import importlib
import json
import random
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import codewitness
import codewitness.sensor
from codewitness import invariants
from codewitness.behavior.review import PER_INTERVAL, ReviewPlugin
from codewitness.cli import main
from codewitness.config import ReviewRule
from codewitness.ingest import ingest_batch
from codewitness.store import open_store


@pytest.fixture(autouse=True)
def _restore_mode() -> Iterator[None]:
    before = invariants.default_mode()
    yield
    invariants.set_default_mode(before)


def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rules: str) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    (root / ".git").mkdir()
    (root / "codewitness.toml").write_text('[sensor]\nspool_dir = ""\ninterval = 60\n' + rules)
    monkeypatch.chdir(root)
    invariants.set_default_mode("record")  # the end-to-end test breaks an invariant on purpose
    return root


def start_from_config(app: Any, backend: str, exporter: Any) -> Any:
    with pytest.MonkeyPatch.context() as env:
        if backend.endswith("/py"):  # the pure-Python meter; the project's configuration otherwise
            env.setenv("CODEWITNESS_SENSOR_SPEEDUPS", "false")
        sensor = codewitness.init(
            service="shop", manifest=app.manifest(), exporters=[exporter], backend=backend.removesuffix("/py")
        )
    assert sensor is not None
    return sensor


def test_review_sampling_to_regression_case_end_to_end(
    app: Any,
    backend: str,
    memory: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = project(
        tmp_path,
        monkeypatch,
        f'[[review]]\nfunction = "{app.module}:Cart.*"\nrate = 1.0\n'
        f'[[invariants]]\nfunction = "{app.module}:add"\nensure = "result >= a"\n',
    )
    exporter = memory
    sensor = start_from_config(app, backend, exporter)
    svc = importlib.import_module(app.module)
    cart = svc.Cart("dana")
    cart.add_item("sku-1", qty=2)
    svc.add(3, -5)
    assert cart.tax(10) == 2.0
    sensor.flush()
    reviews = exporter.of("review")
    # The glob Cart.* matches every method the calls went through, the constructor included.
    expected = {f"{app.module}.Cart.{m}" for m in ("__init__", "add_item", "tax")}
    assert {r["function"] for r in reviews} == expected
    origins = {r["function"].rsplit(".", 1)[1]: (r["origin"], r["generation_ids"]) for r in reviews}
    assert origins["add_item"] == origins["tax"] == ("ai", ["gen_00000000000000000001"])
    assert origins["__init__"] == ("human", []), "not in the manifest, which lists every AI function"

    url = f"sqlite:///{root / '.codewitness' / 'witness.db'}"
    with open_store(url) as store:
        first = ingest_batch(store, exporter.records, source="test")
        again = ingest_batch(store, exporter.records, source="test")
    assert first.bad == 0 and first.by_kind["review"] == 3 and first.by_kind["breach"] == 1
    assert again.inserted == 0, "ingesting twice adds nothing"

    def cli(*args: str) -> tuple[int, Any]:
        capsys.readouterr()
        code = main([*args, "--json"])
        out = capsys.readouterr().out
        return code, json.loads(out) if out.strip() else None

    code, items = cli("review", "list")
    assert code == 0 and len(items) == 3
    code, nxt = cli("review", "next")
    target = next(i for i in items if i["function"].endswith("add_item"))
    assert nxt["id"] == items[0]["id"]
    assert target["arguments"] == {"self": target["arguments"]["self"], "sku": "sku-1", "qty": 2}
    code, marked = cli("review", "mark", target["id"][:10], "wrong", "--note", "qty ignored")
    assert code == 0 and marked["verdict"] == "wrong"
    code, left = cli("review", "list")
    assert [i["id"] for i in left] == [i["id"] for i in items if i["id"] != target["id"]]
    with open_store(url) as store:
        from codewitness.store.invariants import regression_cases

        (case,) = regression_cases(store)
    assert case["function"].endswith("Cart.add_item") and case["note"] == "qty ignored"
    assert case["arguments"]["sku"] == "sku-1" and case["generation_ids"] == ["gen_00000000000000000001"]

    code, rules = cli("invariants")
    assert code == 0
    (rule,) = [r for r in rules if r["function"] == f"{app.module}.add"]
    assert (rule["passed"], rule["breached"]) == (0, 1)
    code, runtime = cli("runtime", "--function", f"{app.module}.add")
    (entry,) = runtime
    assert entry["breach_count"] == 1 and entry["breaches"][0]["arguments"] == {"a": 3, "b": -5}


def test_the_budget_holds_per_function_per_interval_and_the_rate_is_a_chance(app: Any, memory: Any, start: Any) -> None:
    draws = random.Random(7)
    rules = [
        ReviewRule(function=f"{app.module}:add", rate=1.0),
        ReviewRule(function=f"{app.module}:Cart.tax", rate=0.25),
        ReviewRule(function="", rate=1.0),  # no function: samples nothing
        ReviewRule(function=f"{app.module}:human_helper", rate=0.0),  # rate 0: samples nothing
    ]
    plugin = ReviewPlugin(rules, chance=draws.random)
    assert [r.function for r in plugin.rules] == [f"{app.module}:add", f"{app.module}:Cart.tax"]
    sensor = start(app, memory, "wrapping", include=[f"{app.module}.*"], plugins=[plugin])
    svc = importlib.import_module(app.module)
    for i in range(PER_INTERVAL + 10):
        svc.add(i, 1)
        svc.Cart.tax(i)
        svc.human_helper(i)
    sensor.flush()
    by_function: dict[str, int] = {}
    for item in memory.of("review"):
        by_function[item["function"]] = by_function.get(item["function"], 0) + 1
    assert by_function[f"{app.module}.add"] == PER_INTERVAL  # the budget, not the 30 calls
    assert 0 < by_function[f"{app.module}.Cart.tax"] < PER_INTERVAL + 10
    assert set(by_function) == {f"{app.module}.add", f"{app.module}.Cart.tax"}
    svc.add(1, 1)  # a new interval: a new budget
    sensor.flush()
    assert sum(1 for r in memory.of("review") if r["function"] == f"{app.module}.add") == PER_INTERVAL + 1
    item = memory.of("review", f"{app.module}.add")[0]
    assert item["rule"] == f"{app.module}.add" and item["arguments"] == {"a": 0, "b": 1} and item["result"] == 1
    assert uuid.UUID(item["id"]).hex == item["id"]


@pytest.mark.parametrize(
    ("generation_ids", "models", "shown"),
    [
        ([], ["Claude Opus 4.5"], "written by: no recorded generation  models: Claude Opus 4.5"),
        (["gen_00000000000000000007"], ["gpt-5"], "written by: gen_00000000000000000007  models: gpt-5"),
    ],
)
def test_review_next_names_the_model_also_without_a_generation(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    generation_ids: list[str],
    models: list[str],
    shown: str,
) -> None:
    # Before: a function only a commit trailer attributes (no generation ids) showed "(ai)" and no model.
    from tests.runtime_records import ingest, review

    root = project(tmp_path, monkeypatch, "")
    with open_store(f"sqlite:///{root / '.codewitness' / 'witness.db'}") as store:
        ingest(store, [review("shop.pricing.total", generation_ids=generation_ids, models=models)])
    capsys.readouterr()
    assert main(["review", "next"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "shop.pricing.total  (ai)" in lines[0]
    assert lines[1] == shown


def test_an_empty_review_queue_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Before: "no open review items" / "nothing to review", rules or not.
    root = project(tmp_path, monkeypatch, "")
    capsys.readouterr()
    assert main(["review", "list"]) == 0
    assert "no open review items: no [[review]] rules in the configuration" in capsys.readouterr().err
    (root / "codewitness.toml").write_text('[[review]]\nfunction = "shop.*"\nrate = 0.1\n')
    assert main(["review", "next"]) == 0
    assert "nothing to review: the sensor samples the [[review]] functions' calls" in capsys.readouterr().err
