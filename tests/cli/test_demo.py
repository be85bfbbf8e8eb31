"""The README's first command: `codewitness demo` tells the whole story on a real temp project."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def test_the_demo_runs_every_capability(tmp_path: Path) -> None:
    target = tmp_path / "demo"
    proc = subprocess.run(
        [sys.executable, "-m", "codewitness", "demo", "--dir", str(target), "--json"],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout)
    assert "Traceback" not in proc.stderr
    # The story (stderr) shows each command it runs and what that command printed on stdout.
    story = proc.stderr
    blame = story.index("$ codewitness blame shop/pricing.py")
    assert "| def refund(amount, paid):" in story[blame:]
    runtime = story.index("$ codewitness runtime")
    assert "shop.pricing.total" in story[runtime:] and "AI-written:" in story[runtime:]
    assert "$ codewitness check --offline --record shop" in story
    review = story.index("$ codewitness review list")
    assert story[review:].count("shop.pricing.refund") >= 2, "both refunds are sampled for review"
    # The story ends by saying how to open the dashboard on the demo's data.
    assert f"cd {target.resolve()} && codewitness serve" in story.splitlines()[-1]

    assert summary["ledger"]["prompt_versions"] == 2 and len(summary["ledger"]["generations"]) == 2

    entries = summary["capture"]["note"]["files"]["shop/pricing.py"]
    by_origin = {e["origin"]: e for e in entries}
    assert set(by_origin) == {"ai", "mixed", "human"}
    assert by_origin["mixed"]["lines"] == "7", "the person's edit to one AI line"
    assert by_origin["ai"]["model"] == "claude-sonnet-4-5-20250929", "the model comes from the transcript"

    functions = {f["function"]: f for f in summary["attribution"]["functions"]}
    assert functions["shop.pricing.refund"]["ai_share"] == 1.0
    assert functions["shop.pricing.describe"]["ai_share"] == 0.0

    runtime = {f["function"]: f for f in summary["runtime"]["functions"]}
    assert runtime["shop.pricing.total"]["calls"] == 401
    (exception,) = runtime["shop.pricing.total"]["exceptions"]
    assert exception["type"] == "TypeError"
    (breach,) = runtime["shop.pricing.refund"]["breaches"]
    assert breach["rule"] == "refund_never_exceeds_payment"
    assert breach["arguments"] == {"amount": 1500, "paid": 1000} and breach["result"] == 1500
    assert runtime["shop.pricing.refund"]["generation_ids"] == by_origin["ai"]["generations"]

    assert summary["check"]["exit_code"] == 1
    assert {"CW201", "CW301", "CW304", "CW306", "CW307"} <= set(summary["check"]["rules"])

    # `codewitness metrics` prints all eight with their status.
    metrics = story[story.index("$ codewitness metrics --offline --cost") :]
    for title in (
        "hallucination rate",
        "compilation success rate",
        "test pass rate (first pass)",
        "security vulnerability rate",
        "cognitive complexity drift",
        "context adherence",
        "generation latency p95",
        "human edit distance",
    ):
        assert title in metrics
    statuses = summary["metrics"]["statuses"]
    assert statuses == {
        "hallucination_rate": "ok",
        "compilation_success_rate": "ok",
        "test_pass_rate": "ok",
        "security_vulnerability_rate": "ok",
        "complexity_drift": "ok",
        "context_adherence": "breach",
        "latency_p95": "ok",
        "human_edit_distance": "ok",
    }
    assert "prompt pricing version 2" in metrics and "$0.0509" in metrics
    assert summary["metrics"]["alerts_exit_code"] == 1


def test_the_demo_refuses_a_folder_that_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    proc = subprocess.run(
        [sys.executable, "-m", "codewitness", "demo", "--dir", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2 and "is not empty" in proc.stderr
    assert (tmp_path / "keep.txt").read_text() == "mine"
