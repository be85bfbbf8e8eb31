"""How long ``codewitness runtime``'s view takes on a large store, against a baseline revision in the same run.

The store is one made by ``benchmarks/store_retention.py --keep PATH`` (a day of the example
shop's intervals, rolled up by the default retention), or any store of the same schema. Each
round times :func:`codewitness.views.runtime.runtime_view` over everything (best of three, after
a warm-up) in a fresh process of this tree and in one of ``--baseline`` (a git revision, extracted
into a temporary folder and imported from there), in alternating order, and checks that both
give the same answer. It reports each side's median and the median of the per-round ratios.

    python benchmarks/store_retention.py --rate 2 --requests 200000 --keep /tmp/shop-store.db
    python benchmarks/runtime_view.py --db /tmp/shop-store.db --baseline main

Without ``--baseline``, the tree is compared with its own last commit (``HEAD``): a change not
yet committed against what it changes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

TIMED = r"""
import json, sys, time
from codewitness.store import open_store
from codewitness.views.runtime import runtime_view
store = open_store(sys.argv[1])
view = runtime_view(store)  # warm-up: imports, the database's pages
best = float("inf")
for _ in range(3):
    started = time.perf_counter()
    runtime_view(store)
    best = min(best, time.perf_counter() - started)
store.close()
print(json.dumps({"seconds": best, "functions": [dict(f) for f in view.functions]}, default=str, sort_keys=True))
"""


def _extract(revision: str, into: Path) -> Path:
    """The ``src`` folder of ``revision``, written under ``into``."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision, "src"], capture_output=True, check=True)
    with tarfile.open(fileobj=BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def _time(src: Path, url: str) -> tuple[float, list[dict[str, object]]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODEWITNESS_")}
    env["PYTHONPATH"] = str(src)
    done = subprocess.run([sys.executable, "-c", TIMED, url], capture_output=True, text=True, env=env, check=False)
    if done.returncode:
        raise SystemExit(f"{src}: {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else done.returncode}")
    found = json.loads(done.stdout)
    return float(found["seconds"]), found["functions"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", type=Path, required=True, help="a SQLite store (store_retention.py --keep makes one)")
    parser.add_argument("--baseline", default="HEAD", help="git revision to compare with (default: HEAD)")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if not args.db.is_file():
        raise SystemExit(f"no store at {args.db}; make one with benchmarks/store_retention.py --keep {args.db}")
    url = f"sqlite:///{args.db.resolve()}"
    with tempfile.TemporaryDirectory() as tmp:
        sides = {"baseline": _extract(args.baseline, Path(tmp)), "this tree": ROOT / "src"}
        seconds: dict[str, list[float]] = {side: [] for side in sides}
        answers: dict[str, list[dict[str, object]]] = {}
        for r in range(args.rounds):
            order = list(sides) if r % 2 == 0 else list(reversed(sides))
            for side in order:
                took, answers[side] = _time(sides[side], url)
                seconds[side].append(took)
            print(f"round {r + 1}: " + ", ".join(f"{side} {seconds[side][-1]:.3f} s" for side in sides), flush=True)
    same = answers["baseline"] == answers["this tree"]
    ratios = [b / n for b, n in zip(seconds["baseline"], seconds["this tree"], strict=True)]
    print(f"Python {sys.version.split()[0]}, {args.db} ({args.db.stat().st_size / 1e6:.1f} MB):")
    print(f"  runtime view of {len(answers['this tree'])} functions, best of 3 per round, median of {args.rounds}:")
    print(f"  baseline {args.baseline}: {statistics.median(seconds['baseline']):.3f} s")
    print(f"  this tree: {statistics.median(seconds['this tree']):.3f} s")
    print(f"  baseline / this tree, paired by round: median {statistics.median(ratios):.1f}x")
    print(f"  same answer: {'yes' if same else 'NO'}")
    if not same:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
