"""Baselines and generated tests on a real repository: ``corpus add`` inputs, ``baseline pin`` at v1,
``baseline check`` with a threshold (an alarm kept in the store, exit 1; within it, exit 0), a
pinned baseline never rewritten, and ``gen-tests`` writing a pytest file that passes on v1 and
fails on v2 -- with a reviewer's corrected expectation among its cases."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests.behavior.replay_project import cli
from tests.conftest import GitRepo
from tests.runtime_records import ingest, review

from codewitness.behavior.corpus import add_user_entry
from codewitness.store import open_store

V1 = """from decimal import ROUND_HALF_UP, Decimal


def total(amount: Decimal, qty: int, currency: str = "EUR") -> Decimal:
    places = Decimal("1") if currency == "JPY" else Decimal("0.01")
    return (amount * qty).quantize(places, rounding=ROUND_HALF_UP)


def label(qty: int) -> str:
    return f"{qty} item(s)"
"""
#: v2 rounds half-even: of the 20 inputs pinned, the one ending in a half cent changes.
V2 = V1.replace("rounding=ROUND_HALF_UP)", "rounding=ROUND_HALF_EVEN)").replace(
    "import ROUND_HALF_UP, Decimal", "import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal"
)
AMOUNTS = [f"{n}.{n % 100:02d}" for n in range(1, 20)] + ["0.125"]  # 0.125 * 1 rounds to .13 or .12


@pytest.fixture
def repo(git_repo: GitRepo) -> GitRepo:
    git_repo.write("shop/__init__.py", "")
    git_repo.write("shop/pricing.py", V1)
    git_repo.write(".gitignore", ".codewitness/\n")
    git_repo.write("codewitness.toml", "[behavior]\nrepeat = 2\n")
    git_repo.commit("v1")
    git_repo.git("tag", "v1")
    # One input through the command line; the others through the same stage directly (each
    # command costs a second or more of start-up on a loaded machine).
    args = json.dumps({"amount": {"$": "decimal", "v": AMOUNTS[0]}, "qty": 1})
    assert cli(git_repo.root, "corpus", "add", "shop.pricing:total", "--args-json", args).returncode == 0
    with open_store(f"sqlite:///{git_repo.root / '.codewitness' / 'witness.db'}") as store:
        for amount in AMOUNTS[1:]:
            add_user_entry(store, "shop.pricing:total", {"amount": {"$": "decimal", "v": amount}, "qty": 1})
        add_user_entry(store, "shop.pricing.label", {"qty": 2})
    git_repo.write("shop/pricing.py", V2)
    git_repo.commit("v2: banker's rounding")
    return git_repo


def test_pin_then_check_with_a_threshold_alarms_and_keeps_every_check(repo: GitRepo) -> None:
    pinned = cli(repo.root, "baseline", "pin", "v1", "--rev", "v1", "--json")
    assert pinned.returncode == 0, pinned.stderr
    baseline = json.loads(pinned.stdout)["baseline"]
    assert baseline["cases"] == 21 and baseline["functions"] == ["shop.pricing.label", "shop.pricing.total"]
    assert baseline["revision"] == repo.git("rev-parse", "v1").strip() and baseline["dirty"] is False

    alarm = cli(repo.root, "baseline", "check", "v1", "--threshold", "2%", "--json")
    assert alarm.returncode == 1
    result = json.loads(alarm.stdout)
    assert (result["compared"], result["alarm"], result["threshold"]) == (21, True, 0.02)
    assert result["share"] == pytest.approx(1 / 21)
    (total,) = [f for f in result["replay"]["functions"] if f["function"] == "shop.pricing.total"]
    (example,) = total["differing_inputs"]
    assert example["input"] == "amount=Decimal('0.125'), qty=1"
    assert example["old"][0] == "returned Decimal('0.13')" and example["new"][0] == "returned Decimal('0.12')"

    calm = cli(repo.root, "baseline", "check", "v1", "--threshold", "0.1", "--json")
    assert calm.returncode == 0 and json.loads(calm.stdout)["alarm"] is False

    shown = json.loads(cli(repo.root, "baseline", "show", "v1", "--json").stdout)
    assert [c["alarm"] for c in shown["checks"]] == [False, True]  # newest first
    assert [c["differing"] for c in shown["checks"]] == [1, 1]
    assert shown["by_function"]["shop.pricing.label"] == [
        {
            "id": shown["by_function"]["shop.pricing.label"][0]["id"],
            "inputs": "qty=2",
            "outcome": "returned '2 item(s)'",
        }
    ]
    listed = json.loads(cli(repo.root, "baseline", "list", "--json").stdout)
    assert [b["name"] for b in listed] == ["v1"] and listed[0]["last_check"]["alarm"] is False


def test_an_alarm_is_an_alert_delivered_once_and_cleared_within_the_threshold(repo: GitRepo) -> None:
    log = repo.root / ".codewitness" / "alerts.log"
    with (repo.root / "codewitness.toml").open("a") as handle:
        handle.write('\n[alerts]\nchannels = ["log", "stdout"]\n')
    assert cli(repo.root, "baseline", "pin", "v1", "--rev", "v1").returncode == 0

    first = cli(repo.root, "baseline", "check", "v1", "--threshold", "2%")
    assert first.returncode == 1
    (alert,) = json.loads(cli(repo.root, "alerts", "list", "--json").stdout)
    assert (alert["rule"], alert["condition"], alert["subject"], alert["status"]) == (
        "baseline",
        "baseline:v1",
        "v1",
        "firing",
    )
    head = repo.git("rev-parse", "HEAD").strip()
    assert alert["message"] == (
        f"baseline v1: 1 of 21 pinned input(s) behave differently at {head[:12]} (4.8%; alert > 2.0%)"
    )
    evidence = alert["evidence"]
    assert (evidence["differing"], evidence["compared"], evidence["threshold"]) == (1, 21, 0.02)
    assert evidence["functions"] == [{"function": "shop.pricing.total", "differing": 1, "errors": 0}]
    assert alert["deliveries"]["log"]["ok"] is True and alert["deliveries"]["stdout"]["ok"] is True
    assert f"alert {alert['id']} fired" in first.stderr
    assert "ALERT high baseline v1: baseline v1: 1 of 21" in first.stdout  # the stdout channel
    (line,) = log.read_text().splitlines()
    assert json.loads(line)["id"] == alert["id"]

    # The same alarm again: the same alert, still firing, nobody told twice; stdout holds only JSON.
    again = cli(repo.root, "baseline", "check", "v1", "--threshold", "2%", "--json")
    assert again.returncode == 1
    assert json.loads(again.stdout)["alert"] == {"id": alert["id"], "new": False, "cleared": [], "deliveries": []}
    assert len(log.read_text().splitlines()) == 1
    judged = cli(repo.root, "alerts", "check", "--offline", "--json")
    assert judged.returncode == 1
    assert [a["id"] for a in json.loads(judged.stdout)["firing"]] == [alert["id"]]

    calm = cli(repo.root, "baseline", "check", "v1", "--threshold", "0.1", "--json")
    assert calm.returncode == 0
    assert json.loads(calm.stdout)["alert"] == {"id": None, "new": False, "cleared": [alert["id"]], "deliveries": []}
    (stored,) = json.loads(cli(repo.root, "alerts", "list", "--json").stdout)
    assert stored["status"] == "cleared" and stored["cleared_at"] is not None

    # A new alarm is a new alert; deleting the baseline clears it at the next `alerts check`.
    comment = cli(repo.root, "baseline", "check", "v1", "--threshold", "2%", "--md")
    assert comment.returncode == 1 and "ALERT" not in comment.stdout  # stdout holds only the comment
    assert comment.stdout.startswith("#") and "alarm" in comment.stdout
    assert len(log.read_text().splitlines()) == 2
    assert cli(repo.root, "baseline", "delete", "v1").returncode == 0
    after = cli(repo.root, "alerts", "check", "--offline", "--json")
    assert after.returncode == 0, after.stdout
    assert [a["condition"] for a in json.loads(after.stdout)["cleared"]] == ["baseline:v1"]
    statuses = [a["status"] for a in json.loads(cli(repo.root, "alerts", "list", "--json").stdout)]
    assert statuses == ["cleared", "cleared"]


def test_a_pinned_baseline_is_never_rewritten(repo: GitRepo) -> None:
    assert cli(repo.root, "baseline", "pin", "v1", "--rev", "v1").returncode == 0
    again = cli(repo.root, "baseline", "pin", "v1", check=False)
    assert again.returncode == 2 and again.stdout == ""
    assert again.stderr.strip() == (
        "codewitness: error: a baseline named 'v1' exists; pinned baselines are never rewritten: "
        "`codewitness baseline delete v1` first, or pick another name"
    )
    shown = json.loads(cli(repo.root, "baseline", "show", "v1", "--json").stdout)
    assert shown["revision"] == repo.git("rev-parse", "v1").strip()  # still the v1 pin
    assert cli(repo.root, "baseline", "delete", "v1").returncode == 0
    assert cli(repo.root, "baseline", "pin", "v1").returncode == 0  # the name is free again
    missing = cli(repo.root, "baseline", "check", "nope", check=False)
    assert missing.returncode == 1 and "no baseline 'nope'" in missing.stderr


def _pytest(root: Path, test_file: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CODEWITNESS_", "PYTEST_"))}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:codewitness", str(test_file)],
        cwd=root,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def test_generated_tests_pass_on_v1_and_fail_on_v2(repo: GitRepo) -> None:
    assert cli(repo.root, "baseline", "pin", "v1", "--rev", "v1").returncode == 0
    # A reviewer marks a sampled call of label() wrong and gives the correct result.
    db = f"sqlite:///{repo.root / '.codewitness' / 'witness.db'}"
    item = review("shop.pricing.label")
    item.update(arguments={"qty": 1}, input={"qty": 1}, result="1 item(s)")
    with open_store(db) as store:
        ingest(store, [item])
    marked = cli(repo.root, "review", "mark", item["id"][:12], "wrong", "--expect-json", '"1 item(s)"')
    assert marked.returncode == 0, marked.stderr
    target = repo.root / "tests" / "test_codewitness_regressions.py"
    made = cli(repo.root, "gen-tests", "-o", "tests/test_codewitness_regressions.py", "--json")
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout) == {
        "output": "tests/test_codewitness_regressions.py",
        "functions": {"shop.pricing.label": 2, "shop.pricing.total": 20},
        "cases": 22,
        "skipped": {},
    }
    text = target.read_text()
    assert "pytest.param({'amount': Decimal('0.125'), 'qty': 1}, (\"returns\", Decimal('0.13'))" in text
    assert "def test_shop_pricing_total(arguments, expected):" in text and "corrected-" in text
    compile(text, str(target), "exec")

    on_v2 = _pytest(repo.root, target)
    assert on_v2.returncode == 1, on_v2.stdout[-3000:]
    assert "1 failed, 21 passed" in on_v2.stdout
    assert "result: Decimal('0.12') != Decimal('0.13')" in on_v2.stdout
    repo.git("checkout", "v1", "--", "shop/pricing.py")
    on_v1 = _pytest(repo.root, target)
    assert on_v1.returncode == 0, on_v1.stdout[-3000:]
    assert "22 passed" in on_v1.stdout


def test_generated_tests_assert_types_not_only_equality(repo: GitRepo) -> None:
    """2 == 2.0 in Python; the generated assertion does not let one pass for the other."""
    assert cli(repo.root, "baseline", "pin", "v1", "shop.pricing.label", "--rev", "v1").returncode == 0
    target = repo.root / "test_generated.py"
    assert cli(repo.root, "gen-tests", "shop.pricing.label", "-o", "test_generated.py").returncode == 0
    assert _pytest(repo.root, target).returncode == 0
    (repo.root / "shop" / "pricing.py").write_text(
        V1.replace('return f"{qty} item(s)"', "return 2.0 if qty == 2 else 0")
    )
    text = target.read_text().replace("(\"returns\", '2 item(s)')", '("returns", 2)')
    target.write_text(text)
    failed = _pytest(repo.root, target)
    assert failed.returncode == 1 and "result: 2.0 is not 2 (float is not int)" in failed.stdout


def test_an_agent_s_function_brief_carries_the_corpus_and_the_baseline_s_latest_check(repo: GitRepo) -> None:
    # What MCP's function_context answers: before, a function's replay corpus and baselines were
    # reachable only through the behaviour commands and pages, not by an agent about to change it.
    from codewitness.views.agent import function_brief

    assert cli(repo.root, "baseline", "pin", "v1", "--rev", "v1").returncode == 0
    assert cli(repo.root, "baseline", "check", "v1", "--threshold", "2%").returncode == 1
    with open_store(f"sqlite:///{repo.root / '.codewitness' / 'witness.db'}") as store:
        total = function_brief(store, "shop.pricing.total", root=repo.root).to_dict()["behavior"]
        label = function_brief(store, "shop.pricing.label", root=repo.root).to_dict()["behavior"]
    assert total is not None and label is not None
    assert total["corpus"] == {"entries": 20, "replayable": 20, "seen": total["corpus"]["seen"]}
    (pinned,) = total["baselines"]
    assert (pinned["baseline"], pinned["revision"]) == ("v1", repo.git("rev-parse", "v1").strip())
    check = pinned["latest_check"]
    assert (check["alarm"], check["replayed"], check["equal"], check["differing"]) == (True, 20, 19, 1)
    assert label["baselines"][0]["latest_check"]["differing"] == 0
    assert label["corpus"]["entries"] == 1 and label["nondeterministic_inputs"] == 0
