"""How long `codewitness check` takes on a generated tree of >= 100,000 lines.

Generates a tree of ordinary Python modules (services, handlers, models; a few flaws sprinkled
in), then times, in this one process run:

* the baseline: a bare ``ruff check --select S`` over the same tree (one subprocess);
* codewitness with no cache at all (the loopback index is local, so the index part is cheap here);
* codewitness computing every file again (package-index cache warm, per-file result cache removed
  before each run), in one process and in two (``--jobs``);
* codewitness with warm caches (the goal: <= 5 s), and with ``--offline``;
* a ``--base`` run after 10% of the files changed (only those are computed again).

Every family runs (deps, apis, security, provenance, complexity); provenance and complexity
only act with ``--base``, so a second figure times a ``--base`` run where 10% of files changed.

Run:  python benchmarks/check_speed.py [--lines 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

MODULE = '''"""Service module {n}."""
import json
import logging
import os
from dataclasses import dataclass

import requests

logger = logging.getLogger(__name__)


@dataclass
class Order{n}:
    order_id: int
    amount: float
    currency: str = "EUR"

    def total(self, tax: float) -> float:
        if tax < 0:
            raise ValueError("tax")
        return round(self.amount * (1 + tax), 2)


def load_{n}(path: str) -> dict:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def fetch_{n}(url: str) -> dict:
    response = requests.get(url, timeout=10)
    response.raise_for_status()
    logger.info("fetched %s", url)
    return response.json()


def price_{n}(items: list[dict], discount: float) -> float:
    total = 0.0
    for item in items:
        if item.get("qty", 0) <= 0:
            continue
        if item.get("kind") == "gift":
            total += 0
        elif discount > 0.5:
            total += item["price"] * item["qty"] * 0.5
        else:
            total += item["price"] * item["qty"] * (1 - discount)
    return total


def env_{n}(name: str) -> str:
    return os.environ.get(name, "")
'''
FLAW = """

def broken_{n}(text: str):
    try:
        return json.parse(text)
    except Exception:
        return None
"""


def generate(root: Path, lines: int) -> int:
    (root / "requirements.txt").write_text("requests\n")
    written = 0
    n = 0
    while written < lines:
        pkg = root / "app" / f"pkg{n // 50}"
        pkg.mkdir(parents=True, exist_ok=True)
        (pkg / "__init__.py").touch()
        text = MODULE.format(n=n) + (FLAW.format(n=n) if n % 25 == 0 else "")
        (pkg / f"mod{n}.py").write_text(text)
        written += text.count("\n")
        n += 1
    return written


class _Index(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        body = json.dumps(
            {
                "meta": {"api-version": "1.1"},
                "name": "requests",
                "versions": ["2.31.0", "2.32.3"],
                "files": [
                    {
                        "filename": "requests-2.32.3.tar.gz",
                        "upload-time": "2014-01-01T00:00:00Z",
                        "hashes": {},
                        "url": "x",
                    }
                ],
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/vnd.pypi.simple.v1+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def timed(
    args: list[str], cwd: Path, env: dict[str, str], repeat: int = 1, fresh: bool = False
) -> tuple[float, subprocess.CompletedProcess[str]]:
    """The median wall time of ``repeat`` runs (a shared 2-core machine is noisy) and the last run.

    ``fresh`` removes the per-file result cache before each run.
    """
    times = []
    for _ in range(repeat):
        if fresh:
            (cwd / ".codewitness" / "cache" / "file-results.json").unlink(missing_ok=True)
        started = time.perf_counter()
        done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)
        times.append(time.perf_counter() - started)
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(args[:4])} failed: {done.stderr[-500:]}")
    return statistics.median(times), done


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000)
    opts = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Index)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "tree"
        root.mkdir()
        count = generate(root, opts.lines)
        files = sum(1 for _ in root.rglob("*.py"))
        env = dict(
            os.environ,
            HOME=tmp,
            CODEWITNESS_CHECK_INDEX_URL=f"http://127.0.0.1:{server.server_address[1]}/simple",
        )
        git = ["git", "-c", "user.name=b", "-c", "user.email=b@b"]
        subprocess.run([*git, "init", "-q"], cwd=root, check=True)
        subprocess.run([*git, "add", "."], cwd=root, check=True)
        subprocess.run([*git, "commit", "-qm", "tree"], cwd=root, check=True)

        from ruff.__main__ import find_ruff_bin

        ruff = [
            str(find_ruff_bin()),
            "check",
            "--isolated",
            "--no-cache",
            "--exit-zero",
            "--select",
            "S",
            ".",
        ]
        cw = [sys.executable, "-m", "codewitness", "check", "--json", "--fail-on", "never"]
        ruff_s, _ = timed(ruff, root, env, repeat=3)
        cold_s, _ = timed(cw, root, env)
        full1_s, _ = timed([*cw, "--jobs", "1"], root, env, repeat=3, fresh=True)
        full2_s, _ = timed([*cw, "--jobs", "2"], root, env, repeat=3, fresh=True)
        timed(cw, root, env)  # fill the result cache again
        warm_s, warm = timed(cw, root, env, repeat=3)
        offline_s, _ = timed([*cw, "--offline"], root, env, repeat=3)
        for path in sorted(root.rglob("mod*.py"))[::10]:
            path.write_text(path.read_text() + "\n\ndef extra():\n    return json.parse('1')\n")
        base_s, based = timed([*cw, "--base", "HEAD"], root, env)
    server.shutdown()
    report = json.loads(warm.stdout)
    based_report = json.loads(based.stdout)
    print(f"tree: {count} lines in {files} files (python {sys.version.split()[0]})")
    print(f"baseline: ruff check --select S         : {ruff_s:6.2f} s")
    print(f"codewitness check, no cache at all      : {cold_s:6.2f} s  ({cold_s / ruff_s:5.1f}x ruff)")
    print(f"every file computed again, 1 process    : {full1_s:6.2f} s  ({full1_s / ruff_s:5.1f}x ruff)")
    print(f"every file computed again, 2 processes  : {full2_s:6.2f} s  ({full2_s / ruff_s:5.1f}x ruff)")
    print(
        f"codewitness check, warm caches          : {warm_s:6.2f} s  ({warm_s / ruff_s:5.1f}x ruff)  goal <= 5 s: "
        f"{'met' if warm_s <= 5 else 'NOT met'}"
    )
    print(f"codewitness check --offline, warm       : {offline_s:6.2f} s")
    print(f"codewitness check --base HEAD           : {base_s:6.2f} s  (10% of files changed)")
    print(f"findings: {len(report['findings'])} full run, {len(based_report['findings'])} --base run")
    print("in-process seconds per step (warm caches):", report["seconds"])
    print(f"load average after measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
