"""The benchmarks the README and docs name run in the README's environment (the `all` extra, no test extra)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: Runs a script as `python script.py` would, with the OpenTelemetry SDK absent (the `all` extra
#: installs the OpenTelemetry API only; the SDK comes with the test extra).
_WITHOUT_SDK = """
import runpy, sys
for name in ("opentelemetry.sdk", "opentelemetry.sdk.trace", "opentelemetry.sdk.trace.export"):
    sys.modules[name] = None
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def test_sensor_overhead_runs_without_the_opentelemetry_sdk() -> None:
    # Before: ModuleNotFoundError: No module named 'opentelemetry.sdk', after every other measurement.
    script = ROOT / "benchmarks" / "sensor_overhead.py"
    done = subprocess.run(
        [sys.executable, "-c", _WITHOUT_SDK, str(script), "--calls", "2000", "--repeats", "1"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "uninstrumented" in done.stdout
    assert "OpenTelemetry span         not measured: the OpenTelemetry SDK is not installed" in done.stdout


def test_mcp_latency_runs_on_a_small_project() -> None:
    # Before: IndexError (functions[40]) below 41 functions; below 20, no function at all.
    script = ROOT / "benchmarks" / "mcp_latency.py"
    small = [sys.executable, str(script), "--rows", "400", "--calls", "1"]
    done = subprocess.run([*small, "--functions", "20"], capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "problems 29-30d, longest part-day" in done.stdout and "goal p95 <= 100 ms" in done.stdout
    refused = subprocess.run([*small, "--functions", "5"], capture_output=True, text=True, timeout=600, check=False)
    assert refused.returncode == 2 and "--functions must be at least 20" in refused.stderr


def test_ingest_runs_this_tree_beside_a_baseline_revision() -> None:
    script = ROOT / "benchmarks" / "ingest.py"
    command = [sys.executable, str(script), "--skip-page", "--batches", "2", "--batch", "50", "--clients", "2"]
    done = subprocess.run([*command, "--baseline", "HEAD"], capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert lines[0].startswith("ingest over HTTP, SQLite, this tree: ") and "(2 x 50, 2 clients)" in lines[0]
    assert lines[1].startswith("ingest over HTTP, SQLite, baseline HEAD: ")
    assert lines[2].startswith("ingest over HTTP, SQLite: this tree / baseline HEAD: rows/s x")
