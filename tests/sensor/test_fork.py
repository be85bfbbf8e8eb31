"""fork() and multiprocessing: no child inherits a lock held by a thread it does not have, every
child reports its own calls (``multiprocessing`` children too, which end through ``os._exit``),
and starting and stopping the sensor again and again keeps no sensor alive."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import textwrap
import weakref
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import codewitness.sensor
from codewitness.config import SensorSection
from codewitness.ingest import read_spool

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")

BACKENDS = ["wrapping", "monitoring", "auto"] if sys.version_info >= (3, 12) else ["wrapping"]


def run_host(tmp_path: Path, source: str, *args: str) -> str:
    (tmp_path / "host.py").write_text(textwrap.dedent(source))
    proc = subprocess.run(
        [sys.executable, "host.py", *args], cwd=tmp_path, capture_output=True, text=True, timeout=180, check=False
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc.stdout


def records_by_pid(folder: Path, kind: str, function: str) -> Counter[int]:
    counts: Counter[int] = Counter()
    for _, records, _ in read_spool(folder):
        for r in records:
            if r["kind"] == kind and r.get("function") == function:
                counts[r["pid"]] += r.get("calls", 1)
    return counts


FORK_UNDER_LOAD = """
import os, sys, threading, time, warnings
warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads, as prefork servers do
import codewitness
from codewitness.config import SensorSection

@codewitness.ensure(lambda result: result >= 0, name="non_negative")
def work(x):
    return x - 1

# Many rules: draining their counts keeps the exporter thread busy in the invariants' registry.
for i in range(400):
    exec(f"@codewitness.ensure(lambda result: result >= 0, name='r{i}')\\ndef f{i}(x):\\n    return x\\nf{i}(1)")

sensor = codewitness.init(service="fork", include=["__main__.work"], manifest="none.json", spool_dir="spool",
                          interval=0.001, backend=sys.argv[1], settings=SensorSection())
assert sensor is not None
stop = False

def load():  # another thread calling, breaching and sampling all the while
    while not stop:
        work(5)
        work(0)

threading.Thread(target=load, daemon=True).start()
children = []
for i in range(60):
    pid = os.fork()
    if pid == 0:
        work(0)  # the child's first breach
        sys.exit(0)  # and its exit flushes the child's own interval
    children.append(pid)
    time.sleep(0.002)
hung = []
deadline = time.monotonic() + 30
for pid in children:
    while not os.waitpid(pid, os.WNOHANG)[0]:
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            hung.append(pid)
            break
        time.sleep(0.01)
stop = True
print(json.dumps({"children": children, "hung": hung}))
""".replace("import os, sys", "import json, os, sys")


@pytest.mark.parametrize("backend", BACKENDS)
def test_children_forked_under_load_never_deadlock_and_report_their_breach(tmp_path: Path, backend: str) -> None:
    result = json.loads(run_host(tmp_path, FORK_UNDER_LOAD, backend))
    assert result["hung"] == [], f"{len(result['hung'])} of 60 children hung"
    breaches = records_by_pid(tmp_path / "spool", "breach", "__main__.work")
    calls = records_by_pid(tmp_path / "spool", "aggregate", "__main__.work")
    for child in result["children"]:
        assert breaches[child] == 1 and calls[child] == 1, child


MULTIPROCESSING = """
import json, multiprocessing, os, sys, warnings
warnings.simplefilter("ignore", DeprecationWarning)
import codewitness
from codewitness.config import SensorSection

def work(x):
    return x * 2

def many(n):
    for i in range(n):
        work(i)

if __name__ == "__main__":
    sensor = codewitness.init(service="mp", include=["__main__.work", "__main__.many"], manifest="none.json",
                              spool_dir="spool", interval=3600, backend=sys.argv[1], settings=SensorSection())
    assert sensor is not None
    ctx = multiprocessing.get_context("fork")
    process = ctx.Process(target=many, args=(5,))
    process.start()
    process.join()
    pool = ctx.Pool(2)
    assert sum(pool.map(work, range(20))) == 380
    pool.close()
    pool.join()  # the workers end through os._exit
    with ctx.Pool(2) as pool:  # terminate(): SIGTERM, often while a worker is already ending
        assert sum(pool.map(work, range(100, 130))) == 6870
    print(json.dumps({"parent": os.getpid(), "process": process.pid, "exitcode": process.exitcode}))
"""


@pytest.mark.parametrize("backend", BACKENDS)
def test_multiprocessing_children_flush_their_last_interval(tmp_path: Path, backend: str) -> None:
    result = json.loads(run_host(tmp_path, MULTIPROCESSING, backend))
    assert result["exitcode"] == 0
    calls = records_by_pid(tmp_path / "spool", "aggregate", "__main__.work")
    assert calls[result["process"]] == 5  # the Process child's own calls
    workers = {pid: n for pid, n in calls.items() if pid not in (result["process"], result["parent"])}
    assert sum(workers.values()) == 20 + 30 and workers  # the pools' workers'
    assert calls[result["parent"]] == 0  # the parent's calls only went through its children


def test_starting_and_stopping_again_and_again_keeps_no_sensor_alive(tmp_path: Path) -> None:
    made: list[weakref.ref[Any]] = []
    for _ in range(200):
        sensor = codewitness.sensor.init(
            service="cycles",
            manifest=tmp_path / "none.json",
            include=["cw_nothing_here.*"],
            spool_dir=tmp_path / "spool",
            interval=3600,
            settings=SensorSection(),
        )
        assert sensor is not None
        made.append(weakref.ref(sensor))
        del sensor
        codewitness.sensor.shutdown()
    gc.collect()
    assert sum(ref() is not None for ref in made) == 0
