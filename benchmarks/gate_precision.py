"""The merge gate on real repositories: precision, recall on planted hallucinations, and speed against ruff.

Takes git directories of public Python repositories (mirrors: the ``fetch`` tool's ``/work/.mirror/OWNER+NAME/repo``)
and, for each:

1. clones it with ``git clone --shared`` into a work folder (the mirror's objects are read through git's
   alternates; nothing is written into the mirror and nothing of its code is kept here);
2. makes a virtualenv with codewitness (``[check]``, from this checkout) and the project installed in editable
   mode with its development dependency group or test extra, as its CI would (pip, the machine's index);
3. serves a Python package index on loopback that knows the names a real index would: the popular-names snapshot
   shipped with codewitness, every distribution installed in that virtualenv, and every package the project's
   ``uv.lock`` resolved (npm: the names in ``package-lock.json``); everything else is missing. No registry is
   asked about invented names;
4. runs ``codewitness check --json`` with default settings, cold (no ``.codewitness/cache``) and warm, and
   ``ruff check --select S`` on the same tree, cold (``--no-cache``) and warm, ``--repeat`` times each (medians);
5. compares the findings with the labelled ones in ``benchmarks/gate_labels.json`` (true or false positive, with
   the reason; keyed by rule, path and fingerprint, at the labelled commit) and reports precision per rule family,
   over all findings and over high ones;
6. inserts the planted hallucinations of ``benchmarks/gate_plants.json`` (invented modules, packages,
   attributes, functions; file, anchor line, text) into the clone's files, runs the gate again and reports which
   were caught (recall), then restores the files.

Run:  python benchmarks/gate_precision.py datasette=/work/.mirror/simonw+datasette/repo \\
          flask=/work/.mirror/pallets+flask/repo attrs=/work/.mirror/python-attrs+attrs/repo [--work DIR] [--repeat 3]

``--work DIR`` keeps clones and virtualenvs between runs (default: a temp folder, removed at the end).
``--label NAME`` prints every finding of NAME's clean run with its label, for reviewing and labelling.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from collections import Counter, defaultdict
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CODEWITNESS = HERE.parent
LABELS = HERE / "gate_labels.json"
PLANTS = HERE / "gate_plants.json"


def normalize(name: str) -> str:
    import re

    return re.sub(r"[-_.]+", "-", name).lower()


# -- the loopback index ----------------------------------------------------------------------------------------


def _project_doc(name: str) -> dict[str, Any]:
    files = [
        {
            "filename": f"{name}-{v}.tar.gz",
            "url": f"../../files/{name}-{v}.tar.gz",
            "hashes": {},
            "size": 1,
            "upload-time": f"20{18 + i}-01-01T00:00:00Z",
        }
        for i, v in enumerate(("1.0", "1.1", "2.0"))
    ]
    return {"meta": {"api-version": "1.4"}, "name": name, "files": files, "versions": ["1.0", "1.1", "2.0"]}


@contextlib.contextmanager
def loopback_index(pypi: set[str], npm: set[str]) -> Iterator[str]:
    """A PEP 691 index (and npm registry) on 127.0.0.1 that knows ``pypi`` (normalised) and ``npm`` names."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _send(self, status: int, body: object, ctype: str = "application/json") -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            from urllib.parse import unquote

            parts = [p for p in self.path.split("/") if p]
            if len(parts) == 2 and parts[0] == "simple":
                if normalize(parts[1]) in pypi:
                    self._send(200, _project_doc(parts[1]), "application/vnd.pypi.simple.v1+json")
                else:
                    self._send(404, {"message": "not found"})
            elif parts and parts[0] == "npm":
                name = unquote("/".join(parts[1:]))
                if name in npm:
                    versions = {"1.0.0": {}, "2.0.0": {}}
                    doc = {
                        "name": name,
                        "dist-tags": {"latest": "2.0.0"},
                        "versions": versions,
                        "time": {"created": "2018-01-01T00:00:00Z"},
                    }
                    self._send(200, doc)
                else:
                    self._send(404, {"error": "Not found"})
            else:
                self._send(404, {"error": "no route"})

    class Server(ThreadingHTTPServer):
        # The gate asks the index about up to 8 names at once. With the default listen backlog of 5, connections
        # beyond it were dropped and retried by the client's TCP a second later: a second of every cold run was
        # this server's, not the gate's (an index on the internet keeps a backlog far longer than 8).
        request_queue_size = 128

    server = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def index_names(checkout: Path, python: Path) -> tuple[set[str], set[str]]:
    """The names the loopback index knows for one repository (see the module docstring)."""
    snapshot = CODEWITNESS / "src" / "codewitness" / "checks" / "data" / "popular-pypi.tsv"
    pypi = {normalize(line.split("\t")[1]) for line in snapshot.read_text().splitlines()[4:] if "\t" in line}
    listed = subprocess.run(
        [
            str(python),
            "-c",
            "import importlib.metadata as m; print('\\n'.join(d.metadata['Name'] for d in m.distributions()))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    pypi |= {normalize(n) for n in listed.split()}
    lock = checkout / "uv.lock"
    if lock.is_file():
        pypi |= {normalize(p["name"]) for p in tomllib.loads(lock.read_text()).get("package", [])}
    npm: set[str] = set()
    package_lock = checkout / "package-lock.json"
    if package_lock.is_file():
        data = json.loads(package_lock.read_text())
        npm = {key.rsplit("node_modules/", 1)[-1] for key in data.get("packages", {}) if key}
        npm |= set(data.get("dependencies", {}))
    return pypi, npm


# -- clones and environments -----------------------------------------------------------------------------------


def run(args: list[str], cwd: Path | None = None, env: dict[str, str] | None = None, check: bool = True) -> str:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise SystemExit(f"failed: {' '.join(args)}\n{done.stderr[-2000:]}")
    return done.stdout


def clone(mirror: Path, target: Path) -> str:
    """A clone of ``mirror``'s HEAD at ``target`` (reused when it is there); returns the commit."""
    if not (target / ".git").exists():
        run(["git", "clone", "--quiet", "--shared", str(mirror), str(target)])
    run(["git", "checkout", "--quiet", "--force", "HEAD"], cwd=target)
    run(["git", "clean", "-fdxq", "-e", ".codewitness"], cwd=target)
    return run(["git", "rev-parse", "HEAD"], cwd=target).strip()


def environment(checkout: Path, venv: Path) -> Path:
    """A virtualenv with codewitness[check] and the project (editable, with its dev group or test extra)."""
    python = venv / "bin" / "python"
    if (venv / ".ready").exists():
        return python
    run([sys.executable, "-m", "venv", str(venv)])
    run([str(python), "-m", "pip", "install", "-q", "-U", "pip"])
    run([str(python), "-m", "pip", "install", "-q", "-e", f"{CODEWITNESS}[check]"])
    project = (
        tomllib.loads((checkout / "pyproject.toml").read_text()) if (checkout / "pyproject.toml").is_file() else {}
    )
    groups = project.get("dependency-groups", {})
    extras = (project.get("project") or {}).get("optional-dependencies", {})
    attempts: list[list[str]] = []
    wanted = [g for g in ("dev", "tests", "test") if g in groups]
    if wanted:
        attempts.append(["-e", str(checkout), *(f"--group={checkout / 'pyproject.toml'}:{g}" for g in wanted)])
    for extra in ("tests", "test", "dev"):
        if extra in extras:
            attempts.append(["-e", f"{checkout}[{extra}]"])
    attempts.append(["-e", str(checkout)])
    for attempt in attempts:
        if subprocess.run([str(python), "-m", "pip", "install", "-q", *attempt], capture_output=True).returncode == 0:
            print(f"  installed: pip install {' '.join(attempt).replace(str(checkout), '<clone>')}", file=sys.stderr)
            break
    (venv / ".ready").write_text("ok\n")
    return python


# -- the gate and ruff -----------------------------------------------------------------------------------------


def gate(checkout: Path, venv: Path, env: dict[str, str]) -> tuple[float, dict[str, Any], int]:
    started = time.perf_counter()
    done = subprocess.run(
        [str(venv / "bin" / "codewitness"), "check", "--json"],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    try:
        report = json.loads(done.stdout)
    except ValueError:
        raise SystemExit(f"codewitness check gave no JSON (exit {done.returncode}):\n{done.stderr[-3000:]}") from None
    return seconds, report, done.returncode


def ruff(checkout: Path, venv: Path, *, cold: bool) -> float:
    args = [str(venv / "bin" / "ruff"), "check", "--select", "S", "--exit-zero", "--quiet", "."]
    if cold:
        args.insert(2, "--no-cache")
    started = time.perf_counter()
    subprocess.run(args, cwd=checkout, capture_output=True, check=False)
    return time.perf_counter() - started


def timings(checkout: Path, venv: Path, env: dict[str, str], repeat: int) -> dict[str, float]:
    cache = checkout / ".codewitness" / "cache"
    cold, warm, ruff_cold, ruff_warm = [], [], [], []
    for _ in range(repeat):
        shutil.rmtree(cache, ignore_errors=True)
        cold.append(gate(checkout, venv, env)[0])
        warm.append(gate(checkout, venv, env)[0])
        shutil.rmtree(checkout / ".ruff_cache", ignore_errors=True)
        ruff_cold.append(ruff(checkout, venv, cold=True))
        ruff(checkout, venv, cold=False)  # fills ruff's cache
        ruff_warm.append(ruff(checkout, venv, cold=False))
    got = {
        "gate_cold_s": statistics.median(cold),
        "gate_warm_s": statistics.median(warm),
        "ruff_cold_s": statistics.median(ruff_cold),
        "ruff_warm_s": statistics.median(ruff_warm),
    }
    got["cold_ratio"] = got["gate_cold_s"] / got["ruff_cold_s"]
    got["warm_ratio"] = got["gate_warm_s"] / got["ruff_warm_s"]
    return got


# -- labels and plants -----------------------------------------------------------------------------------------


def family(rule: str) -> str:
    return {"1": "deps", "2": "apis", "3": "security", "4": "provenance", "5": "complexity"}[rule[2]]


def score(name: str, report: dict[str, Any], labels: dict[str, Any]) -> dict[str, Any]:
    """Precision per family (all findings, high ones) against the labels of ``name``."""
    mine = {(x["rule"], x["path"], x["fingerprint"]): x for x in labels.get("findings", [])}
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    unlabelled = []
    for f in report["findings"]:
        if f["rule"] == "CW107":
            continue  # "not checked" is no verdict
        label = mine.get((f["rule"], f["path"], f["fingerprint"]))
        fam = family(f["rule"])
        if label is None:
            unlabelled.append(f)
            counts[fam]["unlabelled"] += 1
            continue
        kind = "tp" if label["true"] else "fp"
        counts[fam][kind] += 1
        if f["severity"] == "high":
            counts[fam][f"high_{kind}"] += 1
    out: dict[str, Any] = {}
    for fam, c in sorted(counts.items()):
        row = dict(c)
        for prefix in ("", "high_"):
            judged = c[f"{prefix}tp"] + c[f"{prefix}fp"]
            row[f"{prefix}precision"] = round(c[f"{prefix}tp"] / judged, 3) if judged else None
        out[fam] = row
    return {"families": out, "unlabelled": unlabelled}


def plant(checkout: Path, plants: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Insert ``plants`` into the clone's files; returns each with the line its first inserted line got."""
    placed = []
    by_file: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for p in plants:
        by_file[p["file"]].append(p)
    for rel, items in by_file.items():
        path = checkout / rel
        lines = path.read_text(encoding="utf-8").splitlines()
        for p in items:
            if p.get("after"):
                index = next((i for i, line in enumerate(lines) if line.strip() == p["after"]), None)
                if index is None:
                    raise SystemExit(f"plant anchor {p['after']!r} not in {rel}")
                at = index + 1
            else:
                at = len(lines)
            new = p["text"].splitlines()
            lines[at:at] = new
            for q in placed:  # earlier plants below this one move down
                if q["file"] == rel and q["line"] > at:
                    q["line"] += len(new)
            placed.append({**p, "line": at + 1 + int(p.get("offset", 0))})
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return placed


def recall(placed: list[dict[str, Any]], report: dict[str, Any]) -> list[dict[str, Any]]:
    found = {(f["rule"], f["path"], f["line"]) for f in report["findings"]}
    return [{**p, "caught": (p["expect"], p["file"], p["line"]) in found} for p in placed]


# -- main ------------------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "repos", nargs="+", help="NAME=GIT_DIR of a mirror, e.g. datasette=/work/.mirror/simonw+datasette/repo"
    )
    parser.add_argument("--work", type=Path, help="keep clones and virtualenvs here (default: a temp folder)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per measurement (medians)")
    parser.add_argument("--label", help="print NAME's findings with their labels, for labelling")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--reports", type=Path, help="write each repository's clean `check --json` report here")
    parser.add_argument(
        "--src",
        type=Path,
        help="run the gate from this codewitness source folder (PYTHONPATH), e.g. an older revision's "
        "`git archive REV src | tar -x -C DIR` for before/after figures",
    )
    args = parser.parse_args()

    labels = json.loads(LABELS.read_text()) if LABELS.is_file() else {}
    plants = json.loads(PLANTS.read_text())["plants"]
    temp = None
    work = args.work
    if work is None:
        temp = tempfile.TemporaryDirectory(prefix="gate-precision-")
        work = Path(temp.name)
    work.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {}
    try:
        for spec in args.repos:
            name, _, mirror = spec.partition("=")
            print(f"== {name}", file=sys.stderr)
            checkout = work / name
            commit = clone(Path(mirror), checkout)
            venv = work / f"venv-{name}"
            python = environment(checkout, venv)
            pypi, npm = index_names(checkout, python)
            with loopback_index(pypi, npm) as url:
                env = {
                    **os.environ,
                    "CODEWITNESS_CHECK_INDEX_URL": f"{url}/simple",
                    "CODEWITNESS_CHECK_NPM_REGISTRY": f"{url}/npm",
                    "NO_COLOR": "1",
                }
                env = {
                    k: v
                    for k, v in env.items()
                    if not k.startswith("CODEWITNESS_") or k.startswith("CODEWITNESS_CHECK_")
                }
                # As on a user's machine, Python keeps the modules it compiled: a sandbox that sets
                # PYTHONDONTWRITEBYTECODE would make every timed run compile the whole CLI again.
                env.pop("PYTHONDONTWRITEBYTECODE", None)
                if args.src:
                    env["PYTHONPATH"] = str(args.src.resolve())
                speed = timings(checkout, venv, env, args.repeat)
                _, report, exit_code = gate(checkout, venv, env)
                mine = labels.get(name, {})
                if args.reports:
                    args.reports.mkdir(parents=True, exist_ok=True)
                    (args.reports / f"{name}.json").write_text(json.dumps(report, indent=1) + "\n")
                scored = score(name, report, mine)
                if args.label == name:
                    show(report, mine)
                placed = plant(checkout, [p for p in plants if p["repo"] == name])
                _, planted_report, _ = gate(checkout, venv, env)
                caught = recall(placed, planted_report)
                run(["git", "checkout", "--quiet", "--", "."], cwd=checkout)
            results[name] = {
                "commit": commit,
                "labelled_commit": mine.get("commit"),
                "files": report["files"],
                "exit_code": exit_code,
                "counts": report["counts"],
                "in_tests": report.get("in_tests"),
                "undecided": report.get("undecided"),
                "by_rule": dict(Counter(f"{f['rule']} {f['severity']}" for f in report["findings"])),
                "precision": scored["families"],
                "unlabelled": [f"{f['rule']} {f['path']}:{f['line']} {f['fingerprint']}" for f in scored["unlabelled"]],
                "planted": len(caught),
                "caught": sum(p["caught"] for p in caught),
                "missed": [
                    f"{p['file']}:{p['line']} {p['kind']} {p['text'].strip()!r} (expected {p['expect']})"
                    for p in caught
                    if not p["caught"]
                ],
                "speed": speed,
            }
            print_result(name, results[name])
    finally:
        if temp is not None:
            temp.cleanup()
    print_summary(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    return 0


def show(report: dict[str, Any], labels: dict[str, Any]) -> None:
    mine = {(x["rule"], x["path"], x["fingerprint"]): x for x in labels.get("findings", [])}
    for f in report["findings"]:
        if f["rule"] == "CW107":
            continue
        label = mine.get((f["rule"], f["path"], f["fingerprint"]))
        verdict = "unlabelled" if label is None else ("TRUE " if label["true"] else "FALSE") + " " + label["why"]
        where = f"{f['path']}:{f['line']}"
        print(f"{f['rule']} {f['severity']:6} {where} {f['fingerprint']} | {f['message'][:90]} | {verdict}")


def print_result(name: str, r: dict[str, Any]) -> None:
    s = r["speed"]
    print(
        f"\n{name} @ {r['commit'][:12]} (labels @ {str(r['labelled_commit'])[:12]}): {r['files']} files, "
        f"exit {r['exit_code']}, counts {r['counts']}, in tests {r['in_tests']}, undecided {r['undecided']}"
    )
    print(f"  by rule: {dict(sorted(r['by_rule'].items()))}")
    for fam, row in r["precision"].items():
        print(
            f"  {fam:11} tp {row.get('tp', 0):3} fp {row.get('fp', 0):3} unlabelled {row.get('unlabelled', 0):3} "
            f"precision {row['precision']}  | high: tp {row.get('high_tp', 0)} fp {row.get('high_fp', 0)} "
            f"precision {row['high_precision']}"
        )
    print(f"  planted {r['planted']}, caught {r['caught']}" + "".join(f"\n    MISSED {m}" for m in r["missed"]))
    print(
        f"  gate cold {s['gate_cold_s']:.2f} s, warm {s['gate_warm_s']:.2f} s; ruff --select S cold "
        f"{s['ruff_cold_s']:.3f} s, warm {s['ruff_warm_s']:.3f} s; ratio cold {s['cold_ratio']:.1f}x, "
        f"warm {s['warm_ratio']:.1f}x"
    )
    if r["unlabelled"]:
        print(f"  {len(r['unlabelled'])} unlabelled finding(s): run with --label {name}")


def print_summary(results: dict[str, Any]) -> None:
    totals: dict[str, Counter[str]] = defaultdict(Counter)
    for r in results.values():
        for fam, row in r["precision"].items():
            totals[fam].update({k: v for k, v in row.items() if isinstance(v, int)})
    print("\nall repositories")
    for fam, c in sorted(totals.items()):
        judged, high = c["tp"] + c["fp"], c["high_tp"] + c["high_fp"]
        print(
            f"  {fam:11} precision {c['tp'] / judged if judged else float('nan'):.3f} ({c['tp']}/{judged}), "
            f"high {c['high_tp'] / high if high else float('nan'):.3f} ({c['high_tp']}/{high})"
        )
    planted = sum(r["planted"] for r in results.values())
    caught = sum(r["caught"] for r in results.values())
    print(f"  planted hallucinations caught: {caught}/{planted}")


if __name__ == "__main__":
    sys.exit(main())
