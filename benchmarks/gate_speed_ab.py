"""The merge gate's speed, this tree against another revision's, interleaved, with ruff as the yardstick.

``gate_precision.py`` times one tree (``--src`` picks another); run twice, minutes apart, on a shared machine,
the two runs see different loads. This script times both in the same rounds instead: for each repository it
keeps two clones (``NAME`` for this tree, ``NAME-base`` for ``--base-src``, so their caches never mix), and in
each round runs ``codewitness check --json`` cold (no ``.codewitness/cache``) and warm on both (the order
alternating between rounds), then ``ruff check --select S`` cold (``--no-cache``) and warm. It reports medians,
ratios to ruff's, and new/base. Clones, virtualenvs and the loopback index are ``gate_precision.py``'s.

Run:  git archive REV src | tar -x -C /tmp/base    # the revision to compare with
      python benchmarks/gate_speed_ab.py --base-src /tmp/base/src datasette=/work/.mirror/simonw+datasette/repo \\
          flask=/work/.mirror/pallets+flask/repo attrs=/work/.mirror/python-attrs+attrs/repo [--work DIR] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gate_precision import clone, environment, gate, index_names, loopback_index


def _ruff(checkout: Path, venv: Path, *, cold: bool) -> float:
    args = [str(venv / "bin" / "ruff"), "check", *(["--no-cache"] if cold else []), "--select", "S"]
    started = time.perf_counter()
    subprocess.run([*args, "--exit-zero", "--quiet", "."], cwd=checkout, capture_output=True, check=False)
    return time.perf_counter() - started


def compare(name: str, mirror: Path, work: Path, base_src: Path, rounds: int) -> dict[str, float]:
    checkouts = {"new": work / name, "base": work / f"{name}-base"}
    for checkout in checkouts.values():
        clone(mirror, checkout)
    venv = work / f"venv-{name}"
    python = environment(checkouts["new"], venv)
    pypi, npm = index_names(checkouts["new"], python)
    times: dict[str, list[float]] = {k: [] for k in ("base cold", "new cold", "base warm", "new warm")}
    times |= {"ruff cold": [], "ruff warm": []}
    with loopback_index(pypi, npm) as url:
        common = {k: v for k, v in os.environ.items() if not k.startswith("CODEWITNESS_")}
        common |= {"CODEWITNESS_CHECK_INDEX_URL": f"{url}/simple", "CODEWITNESS_CHECK_NPM_REGISTRY": f"{url}/npm"}
        common |= {"NO_COLOR": "1"}
        common.pop("PYTHONDONTWRITEBYTECODE", None)
        envs = {"new": common, "base": {**common, "PYTHONPATH": str(base_src.resolve())}}
        for side in ("new", "base"):  # compile both trees' modules once
            gate(checkouts[side], venv, envs[side])
        for index in range(rounds):
            for side in ("base", "new") if index % 2 == 0 else ("new", "base"):
                shutil.rmtree(checkouts[side] / ".codewitness" / "cache", ignore_errors=True)
                times[f"{side} cold"].append(gate(checkouts[side], venv, envs[side])[0])
                times[f"{side} warm"].append(gate(checkouts[side], venv, envs[side])[0])
            shutil.rmtree(checkouts["new"] / ".ruff_cache", ignore_errors=True)
            times["ruff cold"].append(_ruff(checkouts["new"], venv, cold=True))
            _ruff(checkouts["new"], venv, cold=False)  # fills ruff's cache
            times["ruff warm"].append(_ruff(checkouts["new"], venv, cold=False))
    return {k: statistics.median(v) for k, v in times.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("repos", nargs="+", help="NAME=GIT_DIR of a mirror")
    parser.add_argument("--base-src", type=Path, required=True, help="the other revision's src folder")
    parser.add_argument("--work", type=Path, help="keep clones and virtualenvs here (default: a temp folder)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (medians)")
    args = parser.parse_args()
    temp = None if args.work else tempfile.TemporaryDirectory(prefix="gate-speed-ab-")
    work = args.work or Path(temp.name)  # type: ignore[union-attr]
    work.mkdir(parents=True, exist_ok=True)
    try:
        for spec in args.repos:
            name, _, mirror = spec.partition("=")
            m = compare(name, Path(mirror), work, args.base_src, args.rounds)
            print(f"{name} ({args.rounds} rounds, medians): " + ", ".join(f"{k} {v:.3f} s" for k, v in m.items()))
            print(
                f"  ratio to ruff: cold base {m['base cold'] / m['ruff cold']:.1f}x, new "
                f"{m['new cold'] / m['ruff cold']:.1f}x; warm base {m['base warm'] / m['ruff warm']:.1f}x, new "
                f"{m['new warm'] / m['ruff warm']:.1f}x; new/base cold {m['new cold'] / m['base cold']:.2f}, "
                f"warm {m['new warm'] / m['base warm']:.2f}",
                flush=True,
            )
    finally:
        if temp is not None:
            temp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
