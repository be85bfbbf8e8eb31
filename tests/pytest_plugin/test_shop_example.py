"""The AI-coverage table on the example shop's own tests (examples/shop/ai_coverage.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "shop" / "ai_coverage.py"


def test_the_shop_tests_report_ai_coverage_per_file(tmp_path: Path) -> None:
    out = tmp_path / "shop.json"
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--json", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "8 passed" in done.stdout
    rows = {
        line.split()[0]: line.split()[1:] for line in done.stdout.splitlines() if line.startswith(("shop/", "TOTAL"))
    }
    # file: AI lines, AI cov, human lines, human cov, mixed, mixed cov (statements)
    assert rows == {
        "shop/checkout.py": ["8", "87.5%", "18", "94.4%", "0", "-"],
        "shop/pricing.py": ["36", "94.4%", "16", "100.0%", "0", "-"],
        "TOTAL": ["44", "93.2%", "84", "39.3%", "0", "-"],
    }
    document = json.loads(out.read_text())
    assert document["total"]["ai"] == {"statements": 44, "covered": 41, "percent": 93.18}
    # The HTTP server module is measured but never run by these tests: human, 0% covered.
    server = next(f for f in document["files"] if f["path"] == "shop/server.py")
    assert server["human"]["covered"] == 0 and server["human"]["statements"] == 50
