"""The runtime sensor on a real ASGI application: datasette under uvicorn, under HTTP load.

Installs datasette and uvicorn (from PyPI) and this codewitness (editable) into a venv of its own
(``--venv``, kept between runs), makes a SQLite database to serve, and runs datasette in three
variants, each round in a rotating order:

* ``plain`` -- no sensor;
* ``manifest`` -- ``codewitness run`` with a manifest of 30 datasette functions (every 15th of the
  package's functions, as if an agent had written them): the usual deployment;
* ``all`` -- ``codewitness run --include 'datasette.*'``: every datasette function watched.

A load process sends keep-alive GETs as fast as it can over a mix of pages: table pages as HTML
and JSON, a row, SQL queries, and two kinds of failing SQL (``no such table`` and ``malformed
JSON``, the rare and the frequent failure of the same type). datasette's time limits are
lifted, so that every variant does the same work: with them, a query that a slower run (a busier
machine, or the sensor) takes past a limit is interrupted, which changes both the work done and the
exceptions raised. ``--warmup S`` sends the same load for S seconds before each measured run, so
that a run is measured as a service runs for long: past the sensor's first interval, at the end of
which it stops watching the cheap, busy functions (``sensor.unwatch_cheap_calls``). With
``--baseline REV``, the sensor variants also run with the sensor of that git revision
(``manifest@base``, ``all@base``: its tree extracted and its compiled meter built for the venv's
Python), in the same rounds, so that a change is measured against what it changes under the same
machine load. On two or more CPUs the server and the load get one CPU each. The loss is paired round
by round (each sensor run against the same round's plain run), so that machine noise lasting a round
hits both.

It then reports, from the spool the sensor wrote with its defaults (10 s intervals): bytes spooled
per 1,000 requests, whether both failures were captured with their counts, the largest exception
capture, the store's size after ``codewitness ingest`` of it, and the size of a capture of the
real ``Datasette`` object as ``self``.

    python benchmarks/sensor_datasette.py --python python3.12 --rounds 5 --seconds 10
    python benchmarks/sensor_datasette.py --python python3.12 --variants plain,all,all@base --baseline 7ac48c5
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = ("plain", "manifest", "all")
#: datasette's wall-clock limits: a query that runs past one is interrupted (and raises), so a
#: slower run (a busier machine, or a sensor) would do less work and raise more than a faster one.
TIME_LIMITS = ("sql_time_limit_ms", "facet_time_limit_ms", "facet_suggest_time_limit_ms")
VERSIONS = "import sys, datasette as d, uvicorn as u; print(sys.version.split()[0], d.__version__, u.__version__)"

LOAD = r"""
import http.client, sys, threading, time
port, seconds, connections = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
paths = [
    "/fixture/items", "/fixture/items.json?_size=20", "/fixture/items/7.json", "/fixture/orders.json?_size=10",
    "/fixture.json?sql=select+count(*)+from+items", "/fixture/items.json?price__gt=50&_size=5",
    "/fixture.json?sql=select+json_extract(note,'$.a')+from+items+limit+3",   # malformed JSON: the frequent failure
    "/fixture/orders.json?_sort=quantity&_size=5", "/fixture/items.json?_facet=kind",
] * 4 + ["/fixture.json?sql=select+*+from+nosuch"]                           # no such table: the rare one
done = [0] * connections
deadline = time.perf_counter() + seconds
def worker(k):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    i = k
    while time.perf_counter() < deadline:
        conn.request("GET", paths[i % len(paths)])
        conn.getresponse().read()
        i += 1
    done[k] = i - k
threads = [threading.Thread(target=worker, args=(k,)) for k in range(connections)]
start = time.perf_counter()
for t in threads: t.start()
for t in threads: t.join()
print(sum(done) / (time.perf_counter() - start), sum(done))
"""

BUDGET = r"""
import json, sys
from datasette.app import Datasette
from codewitness.sensor.snapshot import Redactor
ds = Datasette([sys.argv[1]])
for budget in (1024, 4096, 16384):
    try:
        redactor = Redactor(max_bytes=budget, time_budget_ms=1000)
    except TypeError:  # a codewitness before capture budgets: one capture, as it was
        redactor, budget = Redactor(time_budget_ms=1000), "none"
    shown = redactor.snapshot_arguments({"self": ds, "datasette": ds, "request": None})
    print(budget, len(json.dumps(shown, separators=(",", ":"), ensure_ascii=False).encode()))
"""

FUNCTIONS = r"""
import importlib, json, pkgutil, types, datasette
names = []
for info in pkgutil.walk_packages(datasette.__path__, "datasette."):
    if info.name.endswith("__main__") or ".vendored" in info.name:
        continue  # a script, and copies of other projects (one parses sys.argv on import)
    try:
        module = importlib.import_module(info.name)
    except BaseException:
        continue
    for name, value in vars(module).items():
        if isinstance(value, types.FunctionType) and value.__module__ == info.name:
            names.append((info.name, value.__qualname__, value.__code__.co_firstlineno))
        elif isinstance(value, type) and value.__module__ == info.name:
            for attr, member in vars(value).items():
                if isinstance(member, types.FunctionType):
                    names.append((info.name, member.__qualname__, member.__code__.co_firstlineno))
print(json.dumps(sorted(set(names))))
"""


def _venv(path: Path, python: str) -> Path:
    """The benchmark's venv: datasette, uvicorn and this codewitness (made once, reused)."""
    bin_python = path / "bin" / "python"
    if not bin_python.exists():
        subprocess.run([python, "-m", "venv", str(path)], check=True)
    probe = subprocess.run(
        [str(bin_python), "-c", "import datasette, uvicorn, codewitness.sensor._meter"], capture_output=True
    )
    if probe.returncode:
        subprocess.run(
            [str(bin_python), "-m", "pip", "install", "-q", "datasette", "uvicorn", "-e", str(ROOT)], check=True
        )
    return bin_python


def _database(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("create table items (id integer primary key, name text, kind text, price real, note text)")
        db.executemany(
            "insert into items values (?, ?, ?, ?, ?)",
            [(i, f"item {i}", ("fruit", "bread", "drink")[i % 3], i * 1.5, "not json") for i in range(1, 2001)],
        )
        db.execute("create table orders (id integer primary key, item_id integer references items(id), quantity int)")
        db.executemany("insert into orders values (?, ?, ?)", [(i, i % 2000 + 1, i % 7) for i in range(1, 5001)])


def _manifest(python: Path, workdir: Path) -> Path:
    from codewitness.model import Manifest, ManifestFunction

    listed = subprocess.run([str(python), "-c", FUNCTIONS], capture_output=True, text=True, check=True)
    found = json.loads(listed.stdout)
    chosen = found[::15][:30]
    manifest = Manifest(
        revision="bench",
        functions=tuple(
            ManifestFunction(
                module=module, qualname=qualname, path=module.replace(".", "/") + ".py", start_line=line,
                end_line=line + 1, ai_share=1.0, generation_ids=("gen_bench",), models=("bench-model",),
                agents=("claude-code",),
            )
            for module, qualname, line in chosen
        ),
    )  # fmt: skip
    path = workdir / "manifest.json"
    path.write_text(manifest.to_json())
    print(f"datasette: {len(found)} functions and methods at module and class level; the manifest lists {len(chosen)}")
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(port: int, server: subprocess.Popen[bytes]) -> None:
    for _ in range(600):
        if server.poll() is not None:
            raise RuntimeError("datasette exited before it served")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("datasette did not start")


def _pinned(cpu: int | None):  # type: ignore[no-untyped-def]
    return None if cpu is None else (lambda: os.sched_setaffinity(0, {cpu}))


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a running process (Linux /proc): what a request costs the server,
    which other work on the machine moves less than it moves throughput."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _baseline(python: Path, revision: str, workdir: Path) -> Path:
    """The ``src`` folder of ``revision``'s tree, its compiled meter built in place for ``python``."""
    tree = workdir / "baseline"
    tree.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    # The build needs what pyproject's [build-system] asks for: a venv's own setuptools may be older
    # (Python 3.11's is 65, which refuses the project's license field).
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
    subprocess.run([str(python), "-m", "pip", "install", "-q", *requires], check=True)
    subprocess.run([str(python), "setup.py", "-q", "build_ext", "--inplace"], cwd=tree, capture_output=True, check=True)
    return tree / "src"


def one_run(
    python: Path, variant: str, args: argparse.Namespace, workdir: Path, manifest: Path, spool: Path
) -> tuple[float, int, float]:
    port = _free_port()
    serve = [str(python), "-m", "datasette", "serve", str(workdir / "fixture.db"), "--port", str(port)]
    for limit in TIME_LIMITS:  # the same work in every variant, however slow the machine or the sensor
        serve += ["--setting", limit, "600000"]
    kind, _, at = variant.partition("@")
    if kind != "plain":
        cli = [str(python), "-m", "codewitness", "run", "--spool-dir", str(spool)]
        cli += ["--manifest", str(manifest)] if kind == "manifest" else ["--include", "datasette.*"]
        serve = [*cli, "--", *serve]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODEWITNESS_")}
    if at:  # the baseline's codewitness, ahead of the venv's (`run` keeps PYTHONPATH for the program)
        env["PYTHONPATH"] = str(workdir / "baseline" / "src")
    cpus = sorted(os.sched_getaffinity(0))
    server_cpu, load_cpu = (cpus[0], cpus[1]) if len(cpus) >= 2 else (None, None)
    # The server's stderr goes to a file: a pipe nobody reads while the load runs would fill and
    # stop the server at its next write (log lines, warnings).
    log_path = workdir / f"server-{variant}.log"
    log = log_path.open("wb")
    server = subprocess.Popen(
        serve, cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=log, preexec_fn=_pinned(server_cpu)
    )  # fmt: skip
    try:
        _wait_for(port, server)
        if args.warmup:  # the same load, unmeasured: past the sensor's first interval (10 s), say
            subprocess.run(
                [str(python), "-c", LOAD, str(port), str(args.warmup), str(args.connections)],
                capture_output=True, check=True, preexec_fn=_pinned(load_cpu),
            )  # fmt: skip
        before = _cpu_seconds(server.pid)
        load = subprocess.run(
            [str(python), "-c", LOAD, str(port), str(args.seconds), str(args.connections)],
            capture_output=True, text=True, check=True, preexec_fn=_pinned(load_cpu),
        )  # fmt: skip
        used = _cpu_seconds(server.pid) - before
        rps, requests = load.stdout.split()
        if not int(requests):
            tail = log_path.read_bytes()[-3000:].decode(errors="replace")
            raise RuntimeError(f"{variant}: no request was answered in {args.seconds:g} s; the server said:\n{tail}")
        return float(rps), int(requests), used / int(requests) * 1e6
    finally:
        server.terminate()
        server.communicate(timeout=30)
        log.close()
        stderr = log_path.read_bytes()
        if stderr.strip() and variant != "plain" and b"watches nothing" in stderr:
            raise RuntimeError(stderr.decode(errors="replace"))


def spool_report(python: Path, workdir: Path, spool: Path, requests: int, label: str) -> None:
    size = sum(p.stat().st_size for p in spool.glob("seg-*.jsonl"))
    records = [json.loads(line) for p in sorted(spool.glob("seg-*.jsonl")) for line in p.read_bytes().splitlines()]
    kinds: dict[str, int] = {}
    for r in records:
        kinds[r["kind"]] = kinds.get(r["kind"], 0) + 1
    exceptions = [r for r in records if r["kind"] == "exception"]
    largest = max((len(json.dumps(r, separators=(",", ":"))) for r in exceptions), default=0)
    counted: dict[str, int] = {}
    for r in exceptions:
        key = "no such table" if "no such table" in r.get("message", "") else (
            "malformed JSON" if "malformed JSON" in r.get("message", "") else "other"
        )
        counted[key] = counted.get(key, 0) + int(r.get("count", 1))
    print(
        f"  {label}: {requests:,} requests, {size / 1e6:.2f} MB spooled = {size / requests * 1000 / 1e3:.1f} kB per"
        f" 1,000 requests; records {kinds}; largest exception record {largest:,} B"
    )
    print(f"  {label}: occurrences the captures stand for: {counted}")
    db = workdir / f"{label}.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODEWITNESS_")}
    env["CODEWITNESS_DB"] = f"sqlite:///{db}"
    ingest = [str(python), "-m", "codewitness", "ingest", "--keep", "--spool", str(spool), "--json"]
    if subprocess.run(ingest, cwd=workdir, env=env, capture_output=True).returncode:  # before --keep: kept anyway
        subprocess.run([a for a in ingest if a != "--keep"], cwd=workdir, env=env, capture_output=True, check=True)
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    stored = db.stat().st_size
    per_1000 = stored / requests * 1000 / 1e3
    print(f"  {label}: store after ingest: {stored / 1e6:.2f} MB ({per_1000:.1f} kB per 1,000 requests)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--python", default=sys.executable, help="the interpreter to make the venv with")
    parser.add_argument("--venv", type=Path, default=Path(tempfile.gettempdir()) / "cw-datasette-venv")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument(
        "--warmup",
        type=float,
        default=0.0,
        help="seconds of unmeasured load before each measured run (12: past the sensor's first 10 s interval,"
        " where it decides which cheap functions to stop watching)",
    )
    parser.add_argument("--variants", default=",".join(VARIANTS), help="plain, manifest, all, X@base")
    parser.add_argument("--baseline", help="git revision whose sensor the @base variants run")
    args = parser.parse_args()
    python = _venv(args.venv, args.python)
    version = subprocess.run(
        [str(python), "-c", VERSIONS],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    print(f"Python {version[0]}, datasette {version[1]}, uvicorn {version[2]}")
    variants = [v for v in args.variants.split(",") if v]
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        (workdir / ".git").mkdir()  # the project root codewitness run looks for
        _database(workdir / "fixture.db")
        if any("@" in v for v in variants):
            if not args.baseline:
                raise SystemExit("the @base variants need --baseline REV")
            _baseline(python, args.baseline, workdir)
            print(f"baseline: the sensor of {args.baseline}")
        manifest = _manifest(python, workdir)
        budget = subprocess.run(
            [str(python), "-c", BUDGET, str(workdir / "fixture.db")], capture_output=True, text=True, check=True
        ).stdout.split()
        print("capture of the Datasette object as self, datasette and request (budget -> bytes):", " ".join(
            f"{budget[i]}->{budget[i + 1]}" for i in range(0, len(budget), 2)
        ))  # fmt: skip
        rps: dict[str, list[float]] = {v: [] for v in variants}
        cpu: dict[str, list[float]] = {v: [] for v in variants}
        requests: dict[str, int] = dict.fromkeys(variants, 0)
        for r in range(args.rounds):
            order = variants[r % len(variants) :] + variants[: r % len(variants)]
            for variant in order:
                rate, n, us = one_run(python, variant, args, workdir, manifest, workdir / f"spool-{variant}")
                rps[variant].append(rate)
                cpu[variant].append(us)
                requests[variant] += n
            shown = ", ".join(f"{v} {rps[v][-1]:.0f}/s {cpu[v][-1]:.0f} us CPU/request" for v in variants)
            print(f"round {r + 1}: {shown}", flush=True)
        print(f"throughput, requests per second (median of {args.rounds} rounds of {args.seconds:g} s):")
        for variant in variants:
            print(f"  {variant}: median {statistics.median(rps[variant]):.0f}, best {max(rps[variant]):.0f}")
        if "plain" in variants:
            for variant in variants:
                if variant == "plain":
                    continue
                losses = [1 - s / p for s, p in zip(rps[variant], rps["plain"], strict=True)]
                print(
                    f"  {variant}: throughput loss paired by round: median {statistics.median(losses):.1%},"
                    f" mean {statistics.mean(losses):.1%} (each round: {', '.join(f'{x:.1%}' for x in losses)})"
                )
                extra = [s / p - 1 for s, p in zip(cpu[variant], cpu["plain"], strict=True)]
                print(
                    f"  {variant}: server CPU per request, paired by round: median {statistics.median(extra):+.1%}"
                    f" (each round: {', '.join(f'{x:+.1%}' for x in extra)}); as a throughput loss at full CPU:"
                    f" {1 - 1 / (1 + statistics.median(extra)):.1%}"
                )
        for variant in variants:
            if variant != "plain":
                spool_report(python, workdir, workdir / f"spool-{variant}", requests[variant], variant)


if __name__ == "__main__":
    main()
