"""Signal handlers that call watched functions: the sensor must never wait for its own thread.

A Python signal handler runs on the main thread between two bytecodes of whatever that thread is
doing, including the sensor's own code on the path of a watched call. A handler that calls a
watched function re-enters that path; had the interrupted code held a lock there, the handler
would wait for it forever. SIGALRM from an interval timer, thousands of times a second, while the
main thread calls the same functions, under sampling, invariants and review, on every backend.
Each run is a subprocess with a timeout (a deadlock fails the test, it does not hang the run).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from tests.sensor_app import BACKENDS

pytestmark = pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs setitimer (POSIX)")

# Every call is counted (the policy that unwatches cheap, busy functions is off: tests/sensor/test_unwatch.py).
CONFIG = {
    "sampling": '[sensor]\nspool_dir = ""\ninterval = 0.05\nsample_rate = 1.0\nunwatch_cheap_calls = 0\n',
    "invariants": (
        '[sensor]\nspool_dir = ""\ninterval = 0.05\nunwatch_cheap_calls = 0\n'
        '[[invariants]]\nfunction = "svc:work"\nensure = "result > 10 ** 9"\nname = "never"\n'
    ),
    "review": (
        '[sensor]\nspool_dir = ""\ninterval = 0.05\nunwatch_cheap_calls = 0\n'
        '[[review]]\nfunction = "svc:work"\nrate = 1.0\n'
    ),
}

SERVICE = """
import codewitness


def work(x):
    return x - 1


@codewitness.ensure(lambda result: result > 10 ** 9, name="guarded_never")
def guarded(x):
    return x + 1
"""

HOST = """
import faulthandler, json, signal, sys
faulthandler.dump_traceback_later(40, exit=True)  # a deadlock shows where it waits, then ends the run

import codewitness
from codewitness.sensor import Exporter

class Memory:
    def __init__(self): self.records = []
    def export(self, records): self.records.extend(records)
    def close(self): pass
    def after_fork(self): pass
    def health(self): return {}

memory = Memory()
sensor = codewitness.init(service="sig", manifest="none.json", include=["svc.*"], backend=sys.argv[1],
                          exporters=[memory])
assert sensor is not None
import svc

in_handler = 0

def on_alarm(signum, frame):
    global in_handler
    svc.work(1)
    svc.guarded(1)
    in_handler += 1
    if in_handler < 3000:  # the next alarm 0.2 ms after this handler ends: handlers never nest
        signal.setitimer(signal.ITIMER_REAL, 0.0002)

signal.signal(signal.SIGALRM, on_alarm)
signal.setitimer(signal.ITIMER_REAL, 0.0002)
calls = 0
while in_handler < 3000:
    svc.work(calls)
    svc.guarded(calls)
    calls += 1
signal.setitimer(signal.ITIMER_REAL, 0)
signal.signal(signal.SIGALRM, signal.SIG_IGN)
codewitness.sensor.shutdown()
counted = sum(r["calls"] for r in memory.records if r["kind"] == "aggregate" and r["function"] == "svc.work")
kinds = sorted({r["kind"] for r in memory.records})
print(json.dumps({"calls": calls, "in_handler": in_handler, "counted": counted, "kinds": kinds}))
"""


@pytest.mark.parametrize("feature", list(CONFIG))
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_signal_handler_calling_watched_functions_never_deadlocks(tmp_path: Path, backend: str, feature: str) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "codewitness.toml").write_text(CONFIG[feature])
    (tmp_path / "svc.py").write_text(textwrap.dedent(SERVICE))
    (tmp_path / "host.py").write_text(textwrap.dedent(HOST))
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODEWITNESS_")}
    if backend.endswith("/py"):
        env["CODEWITNESS_SENSOR_SPEEDUPS"] = "false"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(tmp_path), env.get("PYTHONPATH", "")) if p)
    try:
        proc = subprocess.run(
            [sys.executable, "host.py", backend.removesuffix("/py")],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"the host hung: {exc.stderr!r}")
    assert proc.returncode == 0, proc.stderr[-4000:]
    result = json.loads(proc.stdout)
    assert result["in_handler"] >= 3000
    total = result["calls"] + result["in_handler"]
    if backend.startswith("monitoring"):
        # CPython fires no monitoring event while a monitoring callback runs, so a handler that
        # ran inside one of the sensor's callbacks (the slow path is Python) is not seen.
        assert result["calls"] <= result["counted"] <= total
    else:  # every call counted, those made inside the handler too
        assert result["counted"] == total
    expected = {"sampling": "sample", "invariants": "breach", "review": "review"}[feature]
    assert expected in result["kinds"]
