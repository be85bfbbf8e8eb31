"""The sensor's HTTP exporter against a real ``codewitness serve``: ``codewitness run`` -> server -> API and pages."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import GitRepo

APP = """\
from shop.pricing import total

for _ in range(50):
    total([(1999, 2)])
try:
    total([("1999", "two")])
except TypeError:
    pass
"""
PRICING = """\
def total(items):
    return sum(price * qty for price, qty in items)
"""


def test_codewitness_run_exports_to_the_server_and_the_pages_show_it(
    git_repo: GitRepo, live_server: Any, tmp_path: Path
) -> None:
    git_repo.write("shop/__init__.py", "")
    git_repo.write("shop/pricing.py", PRICING)
    git_repo.write("app.py", APP)
    # The spool is off: whatever the store ends up with came over HTTP.
    git_repo.write("codewitness.toml", '[sensor]\nspool_dir = ""\ninclude = ["shop.*"]\ninterval = 0.2\n')
    git_repo.commit("Shop\n\nCo-Authored-By: Claude <noreply@anthropic.com>")
    db = f"sqlite:///{tmp_path / 'server.db'}"
    server = live_server(db, root=git_repo.root)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODEWITNESS_")}
    env["CODEWITNESS_TOKEN"] = server.token
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "codewitness",
            "run",
            "--service",
            "e2e",
            "--endpoint",
            f"{server.url}/api/v1/ingest",
            "--",
            sys.executable,
            "app.py",
        ],
        cwd=git_repo.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert not (git_repo.root / ".codewitness" / "spool").exists()

    functions = server.get("/api/v1/functions", params={"service": "e2e"}).json()["items"]
    total = next(f for f in functions if f["function"] == "shop.pricing.total")
    assert total["calls"] == 51 and total["errors"] == 1 and total["services"] == ["e2e"]
    (exception,) = server.get("/api/v1/exceptions", params={"function": "shop.pricing.total"}).json()["items"]
    assert exception["type"] == "TypeError" and exception["service"] == "e2e"

    page = server.get("/functions/shop.pricing.total", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert "TypeError" in page.text and "&#34;two&#34;" in page.text  # the input that caused it, escaped
    overview = server.get("/", headers={"Accept": "text/html"}).text
    assert "shop.pricing.total" in overview
