"""The sensor's per-call and service benchmarks on every Python at hand, side by side.

Runs each benchmark (``sensor_overhead.py``, ``sensor_slow_path.py``, ``invariants_overhead.py``,
and the in-process comparison of ``sensor_service.py``) under each Python in a fresh process, in
rounds: every round runs every benchmark once under each Python, in turn, so that load on the
machine lasting a while falls on all of them alike. Each benchmark run with ``--json`` ends its
output with one JSON line, ``{"python": ..., "compiled": ..., "unit": ..., "rows": {...}}``; this
prints, per benchmark, a Markdown table with a row per figure and a column per Python: the median
of the rounds and, with more than one round, their range.

The Pythons are the test environments ``bash scripts/test`` makes (``.venv-test/3.*``), or those
given with ``--python`` (each needs codewitness installed with the ``test`` extra)::

    .venv-test/3.12/bin/python benchmarks/by_python.py
    .venv-test/3.12/bin/python benchmarks/by_python.py --rounds 5 --only sensor_overhead
    .venv-test/3.12/bin/python benchmarks/by_python.py --arg sensor_service="--ab-runs 1 --batches 150"

The benchmarks' own output goes to stderr as they run; the tables go to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent

#: Each benchmark and the arguments it gets by default (``--arg NAME=ARGS`` replaces them).
BENCHMARKS: dict[str, str] = {
    "sensor_overhead": "",
    "sensor_slow_path": "",
    "invariants_overhead": "",
    "sensor_service": "--ab-runs 1 --batches 40",
}


def test_pythons() -> list[Path]:
    """The interpreters of ``.venv-test/3.*`` (made by ``scripts/test``), oldest first."""
    found = [p for p in (ROOT / ".venv-test").glob("3.*/bin/python") if p.exists()]
    return sorted(found, key=lambda p: tuple(int(part) for part in p.parent.parent.name.split(".")))


def python_version(python: Path) -> str | None:
    """``"3.13"`` when ``python`` runs and imports codewitness, else ``None``."""
    probe = "import sys, codewitness; print('%d.%d' % sys.version_info[:2])"
    try:
        done = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, check=False)
    except OSError:
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def run_once(python: Path, name: str, args: str) -> dict[str, Any]:
    """One run of one benchmark under one Python; its JSON summary (the last line of its output)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODEWITNESS_")}
    command = [str(python), str(HERE / f"{name}.py"), *shlex.split(args), "--json"]
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT, env=env)
    sys.stderr.write(done.stdout + done.stderr)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"{name} failed under {python} (exit status {done.returncode}); its output is above")
    summary: dict[str, Any] = json.loads(lines[-1])
    return summary


def shown(values: list[float]) -> str:
    """The median of the rounds, and their range when there are several: ``58 (55-61)``."""
    middle = statistics.median(values)
    digits = 2 if max(abs(v) for v in values) < 10 else 0
    text = f"{middle:.{digits}f}"
    if len(values) > 1:
        text += f" ({min(values):.{digits}f} to {max(values):.{digits}f})"
    return text


def table(name: str, runs: dict[str, list[dict[str, Any]]]) -> list[str]:
    """A Markdown table of one benchmark: a row per figure, a column per Python."""
    versions = [v for v in runs if runs[v]]
    first = runs[versions[0]][0]
    heads = []
    for version in versions:
        full = runs[version][0]["python"]
        heads.append(full if runs[version][0]["compiled"] else f"{full} (pure-Python meter)")
    rows: list[str] = []
    for version in reversed(versions):  # the newest Python has every row (3.11 has no sys.monitoring)
        rows += [row for row in runs[version][0]["rows"] if row not in rows]
    lines = [f"### {name} ({first['unit']}; median of {len(runs[versions[0]])} rounds)", ""]
    lines.append("| | " + " | ".join(heads) + " |")
    lines.append("|---" * (len(heads) + 1) + "|")
    for row in rows:
        cells = []
        for version in versions:
            values = [run["rows"][row] for run in runs[version] if row in run["rows"]]
            cells.append(shown(values) if values else "-")
        lines.append(f"| {row} | " + " | ".join(cells) + " |")
    return lines


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--python", type=Path, action="append", help="an interpreter to run (repeatable)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", action="append", choices=sorted(BENCHMARKS), help="this benchmark (repeatable)")
    parser.add_argument("--arg", action="append", default=[], metavar="NAME=ARGS", help="a benchmark's arguments")
    args = parser.parse_args()
    arguments = dict(BENCHMARKS)
    for given in args.arg:
        name, _, value = given.partition("=")
        if name not in BENCHMARKS:
            parser.error(f"--arg {given!r}: no benchmark {name!r} (one of {', '.join(BENCHMARKS)})")
        arguments[name] = value
    pythons: dict[str, Path] = {}
    for python in args.python or test_pythons():
        version = python_version(python)
        if version is None:
            print(f"skipped {python}: it does not run or cannot import codewitness", file=sys.stderr)
        else:
            pythons.setdefault(version, python)
    if not pythons:
        parser.error("no Python with codewitness installed: run 'bash scripts/test' once, or pass --python")
    names = args.only or list(BENCHMARKS)
    results: dict[str, dict[str, list[dict[str, Any]]]] = {name: {v: [] for v in pythons} for name in names}
    for round_no in range(args.rounds):
        for name in names:
            for version, python in pythons.items():
                print(f"== {name} on {version} (round {round_no + 1} of {args.rounds})", file=sys.stderr)
                try:
                    results[name][version].append(run_once(python, name, arguments[name]))
                except RuntimeError as failed:
                    sys.exit(str(failed))
    for name in names:
        print("\n".join(table(name, results[name])) + "\n")


if __name__ == "__main__":
    main()
