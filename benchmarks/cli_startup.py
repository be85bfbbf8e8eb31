"""How fast the command line answers: ``codewitness blame FILE`` cold, warm, and through Typer.

Like hyperfine, in one script: every command is started as a fresh process, run a few times to
warm the file-system and bytecode caches, then timed ``--runs`` times in interleaved rounds (so a
busy moment of the machine hits every command alike). The baseline is a bare ``python -c pass``
started the same way; each command is reported as milliseconds (median, mean, min, p95) and as a
ratio of its median to the baseline's. Output goes to a pipe, as in a script or ``| less``.

The project is the demo's (``codewitness demo``: a real repository with notes, a store and an
attribution cache) unless ``--project`` names another repository; ``--file`` is the file blamed.
The goal (issue 15): ``codewitness blame FILE`` on a warm cache starts in <= 150 ms.

Run:
    python benchmarks/cli_startup.py                      # 30 timed runs of each command
    python benchmarks/cli_startup.py --runs 60 --project ~/src/app --file app/main.py

To compare with another version of the code, run the same command with ``PYTHONPATH`` pointing
at that version's ``src`` folder and the same ``--project``.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE" and not k.startswith("CODEWITNESS_")}


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def _cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def _timed(args: list[str], cwd: Path) -> tuple[float, float]:
    """Wall-clock and CPU milliseconds of one run (CPU: user + system of the process and the git
    processes it waited for -- less sensitive than the wall clock to other work on the machine)."""
    cpu = _cpu()
    start = time.perf_counter()
    proc = subprocess.run(args, cwd=cwd, capture_output=True, check=False, env=_ENV)
    elapsed = (time.perf_counter() - start) * 1000
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed: {proc.stderr.decode(errors='replace')}")
    return elapsed, (_cpu() - cpu) * 1000


def _demo(base: Path) -> Path:
    target = base / "demo"
    proc = subprocess.run(
        [sys.executable, "-m", "codewitness", "demo", "--dir", str(target)], capture_output=True, env=_ENV, check=False
    )
    if proc.returncode != 0:
        raise SystemExit(f"codewitness demo failed: {proc.stderr.decode(errors='replace')}")
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=30, help="timed runs of each command")
    parser.add_argument("--warmup", type=int, default=3, help="untimed runs of each command first")
    parser.add_argument("--project", type=Path, help="a git repository (default: a fresh demo project)")
    parser.add_argument("--file", default="shop/pricing.py", help="the file to blame, relative to the project")
    options = parser.parse_args()

    base = Path(tempfile.mkdtemp(prefix="cw-startup-"))
    try:
        root = options.project.resolve() if options.project else _demo(base)
        cw = [sys.executable, "-m", "codewitness"]
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "codewitness --version": [*cw, "--version"],
            "blame FILE --no-cache": [*cw, "blame", options.file, "--no-cache"],
            "blame FILE (warm cache)": [*cw, "blame", options.file],
            "blame FILE --json (warm)": [*cw, "blame", options.file, "--json"],
            "blame -- FILE (Typer, warm)": [*cw, "blame", "--", options.file],
        }
        _timed(commands["blame FILE (warm cache)"], root)  # fills the attribution cache
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
        for args in commands.values():
            for _ in range(options.warmup):
                _timed(args, root)
        samples: dict[str, list[float]] = {name: [] for name in commands}
        cpu: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(options.runs):
            for name, args in commands.items():
                wall, used = _timed(args, root)
                samples[name].append(wall)
                cpu[name].append(used)
        baseline = statistics.median(samples["python -c pass"])
        print(f"{options.runs} runs each, {options.warmup} warm-up; project {root}; Python {sys.version.split()[0]}")
        print(f"load average before the runs: {load}; ms of wall-clock time, and CPU time (user + system)")
        print(f"{'command':<30}{'median':>9}{'mean':>9}{'min':>9}{'p95':>9}{'x pass':>9}{'cpu med':>9}")
        for name, values in samples.items():
            median = statistics.median(values)
            print(
                f"{name:<30}{median:>9.1f}{statistics.fmean(values):>9.1f}{min(values):>9.1f}"
                f"{_percentile(values, 0.95):>9.1f}{median / baseline:>9.2f}{statistics.median(cpu[name]):>9.1f}"
            )
        warm = statistics.median(samples["blame FILE (warm cache)"])
        print(f"goal: blame on a warm cache <= 150 ms; median {warm:.1f} ms ({'met' if warm <= 150 else 'not met'})")
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
