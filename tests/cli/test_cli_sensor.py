"""`codewitness run` → `ingest` → `runtime` on the example shop, through the real entry points."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from codewitness.cli import main

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "shop"

DRIVER = """
from decimal import Decimal
from shop import checkout, pricing

L = pricing.Line
for i in range(50):
    pricing.quote([L("apple", i + 1), L("bread", 1)], "WELCOME10" if i % 2 else None)
for bad in ([L("caviar", 1)], [L("apple", 0)]):
    try:
        pricing.quote(bad)
    except pricing.PricingError:
        pass
try:
    checkout.place_order([{"sku": "apple", "quantity": 1}], "4111 1111 1111 1112", "tok_live_abc")
except checkout.PaymentError:
    pass
checkout.place_order([{"sku": "coffee", "quantity": 2}], "4111 1111 1111 1111", "tok_live_abc")
print("driven")
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db_url: str) -> Path:
    (tmp_path / ".git").mkdir()
    sys.path.insert(0, str(EXAMPLE))
    try:
        import make_manifest

        manifest = make_manifest.build(revision="rev-1")
    finally:
        sys.path.remove(str(EXAMPLE))
    (tmp_path / ".codewitness").mkdir()
    (tmp_path / ".codewitness" / "manifest.json").write_text(manifest.to_json())
    (tmp_path / "drive.py").write_text(textwrap.dedent(DRIVER))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CODEWITNESS_DB", db_url)
    return tmp_path


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def drive(root: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODEWITNESS_")}
    env["PYTHONPATH"] = str(EXAMPLE)
    proc = subprocess.run(
        [sys.executable, "-m", "codewitness", "run", "--", sys.executable, "drive.py"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "driven"


def test_run_ingest_runtime(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    drive(project)
    code, out, _ = cli(capsys, "ingest", "--keep", "--json")
    assert code == 0
    first = json.loads(out)
    assert first["inserted"] > 0 and first["bad"] == 0
    assert first["by_kind"]["aggregate"] >= 6
    assert first["by_kind"]["exception"] >= 4
    assert first["deleted_segments"] == 0 and first["segments"] >= 1
    code, out, _ = cli(capsys, "ingest", "--json")
    again = json.loads(out)
    assert again["inserted"] == 0 and again["duplicates"] == first["inserted"]
    # The program ended: its segments are finished, and go once stored.
    assert again["deleted_segments"] == again["segments"] == first["segments"]
    assert list((project / ".codewitness" / "spool").glob("seg-*")) == []
    assert again["pruned"] == {
        "merged": 0,
        "written": 0,
        "captures_merged": 0,
        "deleted": {k: 0 for k in again["pruned"]["deleted"]},
    }

    code, out, _ = cli(capsys, "runtime", "--json")
    assert code == 0
    by_name = {s["function"]: s for s in json.loads(out)}
    quote = by_name["shop.pricing.quote"]
    for key in ("function", "calls", "errors", "p50_ms", "p95_ms", "p99_ms", "origin", "exceptions"):
        assert key in quote
    assert quote["calls"] == 53  # 50 + 2 bad carts + 1 from the successful checkout
    assert quote["errors"] == 2
    assert quote["origin"] == "mixed"
    assert 0 < quote["p50_ms"] <= quote["p95_ms"] <= quote["p99_ms"]
    assert {e["type"] for e in quote["exceptions"]} == {"shop.pricing.PricingError"}
    order = by_name["shop.checkout.place_order"]
    assert order["origin"] == "ai" and order["models"] == ["claude-sonnet-4-5"]
    (declined,) = order["exceptions"]
    assert declined["arguments"]["card_number"] == "[REDACTED]"
    assert declined["arguments"]["api_token"] == "[REDACTED]"
    # No part of either card number (a timing such as 0.074111 may hold "4111" by chance) nor the token.
    assert "4111 1111" not in out and "1111 1111" not in out and "tok_live_abc" not in out

    code, out, _ = cli(capsys, "runtime", "--function", "shop.pricing.quote", "--since", "1h", "--json")
    assert [s["function"] for s in json.loads(out)] == ["shop.pricing.quote"]

    code, out, _ = cli(capsys, "runtime")
    assert code == 0
    assert "shop.pricing.quote" in out and "AI-written" in out and "PricingError" in out


def test_ingest_without_a_spool_is_a_clear_error(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "ingest")
    assert code == 2
    assert "no spool folder" in err and "Traceback" not in err


def test_runtime_with_a_bad_since_is_a_clear_error(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "runtime", "--since", "last tuesday")
    assert code == 2
    assert "cannot read time" in err


def test_runtime_before_any_facts(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "runtime", "--json")
    assert (code, json.loads(out)) == (0, [])


def test_store_stats_prune_and_vacuum(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    drive(project)
    assert cli(capsys, "ingest")[0] == 0
    code, out, _ = cli(capsys, "store", "stats", "--json")
    assert code == 0
    found = json.loads(out)
    tables = {t["table"]: t for t in found["tables"]}
    assert tables["runtime_aggregates"]["rows"] >= 6 and tables["runtime_exceptions"]["rows"] >= 4
    assert found["intervals_by_rollup"] == {"0": tables["runtime_aggregates"]["rows"]}
    code, out, _ = cli(capsys, "store", "stats")
    assert code == 0 and "runtime_aggregates" in out and "database:" in out
    code, out, _ = cli(capsys, "store", "prune")
    assert (code, out.strip()) == (0, "pruned: no interval to merge; nothing past its retention")
    (project / "codewitness.toml").write_text('[retention]\nevents = "0d"\n')
    code, out, _ = cli(capsys, "store", "prune", "--json")
    assert code == 0 and json.loads(out)["deleted"]["runtime_exceptions"] == tables["runtime_exceptions"]["rows"]
    code, out, _ = cli(capsys, "store", "vacuum", "--json")
    assert code == 0 and set(json.loads(out)) == {"bytes_before", "bytes_after"}


def test_a_bad_retention_setting_is_a_clear_error(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "codewitness.toml").write_text('[retention]\nrollup = ["1d:7m"]\n')
    code, _, err = cli(capsys, "store", "prune")
    assert code == 2 and "divide a day" in err and "Traceback" not in err
    (project / "codewitness.toml").write_text('[retention]\nevents = "soon"\n')
    code, _, err = cli(capsys, "store", "prune")
    assert code == 2 and "retention.events" in err
def _run_in(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODEWITNESS_")}
    env["PYTHONPATH"] = str(EXAMPLE)
    return subprocess.run(
        [sys.executable, "-m", "codewitness", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_run_and_ingest_from_subfolders_use_the_project_roots_manifest_and_spool(project: Path) -> None:
    # Before: from a subfolder the manifest and the spool were looked up under that folder: nothing
    # was watched, nothing said so, and `ingest` found no spool.
    (project / "scripts").mkdir()
    (project / "drive.py").rename(project / "scripts" / "drive.py")
    proc = _run_in(project / "scripts", "run", "--", sys.executable, "drive.py")
    assert proc.returncode == 0, proc.stderr
    assert "no manifest" not in proc.stderr
    assert not (project / "scripts" / ".codewitness").exists()
    assert list((project / ".codewitness" / "spool").iterdir())
    (project / "docs").mkdir()
    done = _run_in(project / "docs", "--db", f"sqlite:///{project / 'w.db'}", "ingest", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["spool"] == str(project / ".codewitness" / "spool")
    assert result["by_kind"]["aggregate"] >= 6


def test_run_without_a_manifest_says_that_nothing_will_be_watched(project: Path) -> None:
    (project / ".codewitness" / "manifest.json").unlink()
    proc = _run_in(project, "run", "--", sys.executable, "drive.py")
    assert proc.returncode == 0
    assert f"no manifest at {project / '.codewitness' / 'manifest.json'}" in proc.stderr
    assert "codewitness manifest build" in proc.stderr
    proc = _run_in(project, "run", "--include", "shop.pricing.*", "--", sys.executable, "drive.py")
    assert "watching only what shop.pricing.* select(s)" in proc.stderr


def test_an_include_pattern_with_a_comma_reaches_the_program_whole(project: Path) -> None:
    # --include travels to the program as a JSON array: a comma in a pattern no longer splits it.
    (project / ".codewitness" / "manifest.json").unlink()
    proc = _run_in(project, "run", "--include", "shop.pricing.[q,x]uote", "--", sys.executable, "drive.py")
    assert proc.returncode == 0, proc.stderr
    done = _run_in(project, "--db", f"sqlite:///{project / 'w.db'}", "ingest", "--json")
    runtime = _run_in(project, "--db", f"sqlite:///{project / 'w.db'}", "runtime", "--json")
    assert done.returncode == 0, done.stderr
    assert [f["function"] for f in json.loads(runtime.stdout)] == ["shop.pricing.quote"], proc.stderr


def test_ingest_says_why_there_is_nothing(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "ingest")
    assert code == 2 and "nothing was recorded yet" in err and "codewitness run" in err
    (project / ".codewitness" / "spool").mkdir()
    code, _, err = cli(capsys, "ingest")
    assert code == 0 and "the spool holds no records" in err
    (project / "codewitness.toml").write_text('[sensor]\nspool_dir = ""\n')
    code, _, err = cli(capsys, "ingest")
    assert code == 2 and "sensor.spool_dir is empty" in err
