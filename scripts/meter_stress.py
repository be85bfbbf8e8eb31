"""A stress run of the sensor's compiled meter, alone or under valgrind memcheck.

One process runs watched functions (plain, raising, recursive, generators closed, dropped and
exhausted, coroutines, a context manager that swallows what is thrown in) from several threads
at once, while

* SIGALRM fires every millisecond and its handler calls watched functions,
* a thread runs garbage-collector storms over reference cycles through compiled meters,
* threads end with a ctypes thread-exit callback that calls a watched function after the
  meter freed the thread's start stack,
* children are forked mid-run and count their own calls,
* the sensor is shut down and started again (new compiled ``Monitor``s) between rounds,

and checks that every call the program made was counted, once. Both compiled paths run: a
module loaded before ``init()`` watched through ``sys.monitoring`` (3.12+: ``_meter.Monitor``),
and one imported after it, rewritten at import (``_meter.Meter.enter``/``exit``).

    .venv-test/3.12/bin/python scripts/meter_stress.py
    .venv-test/3.12/bin/python scripts/meter_stress.py --valgrind

``--valgrind`` runs the same workload (smaller: ``--scale``) under ``valgrind --tool=memcheck``
with ``PYTHONMALLOC=malloc`` (every allocation goes through malloc, so memcheck sees it), forked
children included, and reads valgrind's XML report of every process. It prints the memory errors
(invalid reads and writes, uninitialised values, bad frees) and the blocks definitely lost at
exit, lists those of the compiled meter (a memory error with a frame in it; a lost block it
allocated), and exits 1 when the workload failed or the meter has a memory error. No
suppression file is used: what CPython itself leaves at exit is counted, not hidden.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import gc
import os
import signal
import subprocess
import sys
import tempfile
import threading
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

SUBJECT = """
import contextlib


def work(x):
    return x * 2


def fails(x):
    raise ValueError(x)


def recursive(n):
    return 0 if n == 0 else 1 + recursive(n - 1)


def countdown(n):
    while n > 0:
        yield n
        n -= 1


def guarded(n):
    try:
        yield from range(n)
    finally:
        pass


async def fetch(x):
    return x + 1


@contextlib.contextmanager
def forgiving():
    try:
        yield
    except ValueError:
        pass
"""


class Memory:
    """An exporter that keeps what it is given."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def export(self, records: list[dict[str, Any]]) -> None:
        self.records.extend(records)

    def close(self) -> None:
        pass

    def after_fork(self) -> None:
        self.records = []

    def health(self) -> dict[str, int]:
        return {}

    def calls(self) -> Counter[str]:
        counted: Counter[str] = Counter()
        for record in self.records:
            if record["kind"] == "aggregate":
                counted[record["function"]] += record["calls"]
        return counted


def one_round(module: Any, made: Counter[str]) -> None:
    """Every kind of call once; ``made`` counts what the program called."""
    module.work(3)
    with contextlib.suppress(ValueError):
        module.fails(3)
    module.recursive(5)
    dropped = module.countdown(3)
    next(dropped)
    del dropped
    closed = module.countdown(3)
    next(closed)
    closed.close()
    list(module.countdown(1))
    list(module.guarded(2))
    _drive(module.fetch(1))
    with module.forgiving():
        raise ValueError("swallowed")
    for name in ("work", "fails", "guarded", "fetch", "forgiving"):
        made[f"{module.__name__}.{name}"] += 1
    made[f"{module.__name__}.recursive"] += 6
    made[f"{module.__name__}.countdown"] += 3


def _drive(coroutine: Any) -> None:
    with contextlib.suppress(StopIteration):
        coroutine.send(None)


def run(scale: int, backend: str) -> int:
    """The workload; returns the number of miscounted functions."""
    import codewitness.sensor
    from codewitness.config import SensorSection

    folder = Path(tempfile.mkdtemp(prefix="cw-stress-"))
    (folder / "stress_before.py").write_text(SUBJECT)
    (folder / "stress_after.py").write_text(SUBJECT)
    sys.path.insert(0, str(folder))
    import stress_before  # type: ignore[import-not-found]  # loaded before init(): watched by code object

    def start(memory: Memory) -> Any:
        return codewitness.sensor.init(
            service="stress",
            manifest=folder / "none.json",
            include=["stress_before.*", "stress_after.*"],
            spool_dir="",
            endpoint="",
            otel=False,
            interval=3600,
            exporters=[memory],
            backend=backend,  # type: ignore[arg-type]
            settings=SensorSection(sample_rate=0.2, exceptions_per_interval=3),
        )

    # Sensors started and shut down with calls in flight: starts left behind by one Monitor
    # must never be taken by the next.
    for _ in range(3):
        start(Memory())
        stress_before.work(1)
        codewitness.sensor.shutdown()

    memory = Memory()
    sensor = start(memory)
    import stress_after  # type: ignore[import-not-found]  # imported after init(): rewritten

    modules = (stress_before, stress_after)
    made: list[Counter[str]] = []
    lock = threading.Lock()

    def worker(rounds: int) -> None:
        mine: Counter[str] = Counter()
        for i in range(rounds):
            for module in modules:
                one_round(module, mine)
                if i % 50 == 0:  # now and then in an event loop of the thread's own
                    asyncio.run(module.fetch(1))
                    mine[f"{module.__name__}.fetch"] += 1
        with lock:
            made.append(mine)

    # Signal handlers that call watched functions, between any two instructions of the main
    # thread. sys.monitoring fires no event while a callback runs: a handler that interrupts one
    # of the sensor's Python monitoring callbacks (a sampled call's) makes calls it cannot see.
    in_handlers: Counter[str] = Counter()
    unseen = 0
    callbacks = str(Path(codewitness.sensor.__file__).parent / "_monitoring.py")

    def on_alarm(signum: int, frame: Any) -> None:
        nonlocal unseen
        stress_before.work(2)
        stress_after.work(2)
        caller = frame
        while caller is not None and caller.f_code.co_filename != callbacks:
            caller = caller.f_back
        if caller is not None:
            unseen += 1
            return
        in_handlers["stress_before.work"] += 1
        in_handlers["stress_after.work"] += 1

    signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, 0.001, 0.001)

    # Garbage-collector storms over cycles through compiled meters.
    stop = threading.Event()

    def storm() -> None:
        meter_type = sensor.meter_type
        while not stop.is_set():
            holders = []
            for _ in range(200):
                holder: dict[str, Any] = {}
                holder["meter"] = meter_type(holder, 1)
                holders.append(holder)
            del holders
            gc.collect()

    storms = threading.Thread(target=storm)
    storms.start()

    # Threads whose last Python code runs after the meter freed their start stack.
    libc = ctypes.CDLL(None)
    exits = threading.Semaphore(0)

    @ctypes.CFUNCTYPE(None, ctypes.c_void_p)  # type: ignore[untyped-decorator,unused-ignore]
    def at_thread_exit(value: Any) -> None:
        stress_before.work(9)
        exits.release()

    key = ctypes.c_uint()
    assert libc.pthread_key_create(ctypes.byref(key), at_thread_exit) == 0
    exiting = 0

    def ends_late() -> None:
        stress_before.work(8)
        libc.pthread_setspecific(key, ctypes.c_void_p(1))

    children = []
    threads = [threading.Thread(target=worker, args=(scale,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for i in range(scale):
        late = threading.Thread(target=ends_late)
        late.start()
        late.join()
        exiting += 1
        if i % max(1, scale // 3) == 0:
            children.append(fork_child(stress_before, stress_after, memory, sensor))
    for thread in threads:
        thread.join()
    for _ in range(exiting):
        exits.acquire(timeout=30)
    signal.setitimer(signal.ITIMER_REAL, 0, 0)
    stop.set()
    storms.join()  # and an alarm already raised has its handler run by now, before the flush

    failures = sum(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) != 0 for pid in children)
    sensor.flush()
    expected: Counter[str] = Counter()
    for counts in made:
        expected.update(counts)
    expected.update(in_handlers)
    expected["stress_before.work"] += 2 * exiting  # in ends_late and at its thread's exit
    counted = memory.calls()
    wrong = {name: (counted[name], n) for name, n in expected.items() if counted[name] != n}
    print(
        f"{sum(expected.values())} calls made, {sum(counted.values())} counted; "
        f"{len(children)} forked children, {failures} miscounted; "
        f"signal handlers ran {in_handlers['stress_before.work'] + unseen} times "
        f"({unseen} inside the sensor's monitoring callbacks, unseen); "
        f"internal errors: {dict(sensor.internal_errors) or 'none'}"
    )
    for name, (got, want) in sorted(wrong.items()):
        print(f"  {name}: counted {got}, made {want}")
    codewitness.sensor.shutdown()
    return len(wrong) + failures


def fork_child(before: Any, after: Any, memory: Memory, sensor: Any) -> int:
    """A child that makes its own calls and checks its own counts; returns its pid."""
    # Alarms are held back over the fork (the call that blocks them runs any handler already
    # due): a handler run in the child would make calls the child does not know about.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
    pid = os.fork()
    if pid:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGALRM})
        return pid
    status = 1
    try:
        signal.signal(signal.SIGALRM, signal.SIG_IGN)
        made: Counter[str] = Counter()
        for _ in range(3):
            for module in (before, after):
                one_round(module, made)
        sensor.flush()
        counted = memory.calls()
        wrong = {name: (counted[name], n) for name, n in made.items() if counted[name] != n}
        for name, (got, want) in sorted(wrong.items()):
            print(f"  in child {os.getpid()}: {name}: counted {got}, made {want}", flush=True)
        status = int(bool(wrong))
    finally:
        os._exit(status)


def under_valgrind(scale: int, backend: str) -> int:
    """Run the workload under memcheck; report its errors, and those of the compiled meter."""
    import codewitness.sensor._meter as compiled  # type: ignore[import-not-found]

    meter_object = Path(compiled.__file__).name
    reports = Path(tempfile.mkdtemp(prefix="cw-valgrind-"))
    command = [
        "valgrind",
        "--tool=memcheck",
        "--error-limit=no",
        "--num-callers=40",  # deep enough to see a meter frame under the interpreter's own
        "--leak-check=full",
        "--show-leak-kinds=definite",
        "--child-silent-after-fork=no",
        "--xml=yes",
        f"--xml-file={reports}/memcheck.%p.xml",
        sys.executable,
        "-W",
        "ignore::DeprecationWarning",  # fork() with threads running: on purpose
        __file__,
        "--scale",
        str(scale),
        "--backend",
        backend,
    ]
    print("$ PYTHONMALLOC=malloc " + " ".join(command), flush=True)
    done = subprocess.run(command, env={**os.environ, "PYTHONMALLOC": "malloc"}, check=False)
    errors: Counter[str] = Counter()
    leaks = 0
    ours: list[str] = []
    processes = 0
    for report in sorted(reports.glob("memcheck.*.xml")):
        processes += 1
        for error in ET.parse(report).getroot().iter("error"):  # noqa: S314 - valgrind's own report
            kind = error.findtext("kind") or "?"
            frames = [
                f"{frame.findtext('fn') or '?'} ({Path(frame.findtext('obj') or '?').name})"
                for frame in error.iter("frame")
            ]
            if kind.startswith("Leak_"):
                # A block lost at exit is the meter's when the meter allocated it (not when the
                # meter called the Python code that did).
                leaks += 1
                mine = any(meter_object in frame for frame in frames[1:3])
            else:
                errors[kind] += 1
                mine = any(meter_object in frame for frame in frames)
            if mine:
                what = error.findtext("xwhat/text") or error.findtext("what") or ""
                ours.append(f"{report.name}: {kind}: {what}\n      " + " <- ".join(frames[:8]))
    print(
        f"memcheck, {processes} processes (the workload and its forked children): "
        f"{sum(errors.values())} memory errors"
        + (f" ({', '.join(f'{n} {kind}' for kind, n in errors.most_common())})" if errors else "")
        + f", {leaks} records of blocks definitely lost at exit; {len(ours)} of them the compiled meter's "
        f"({meter_object}); the workload exited {done.returncode}"
    )
    for line in ours:
        print("  " + line)
    return 1 if any(not line.split(": ")[1].startswith("Leak_") for line in ours) or done.returncode else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, default=None, help="rounds per thread (default 200; 20 under valgrind)")
    parser.add_argument("--backend", default="monitoring" if sys.version_info >= (3, 12) else "wrapping")
    parser.add_argument("--valgrind", action="store_true", help="run under valgrind memcheck")
    args = parser.parse_args()
    if args.valgrind:
        return under_valgrind(args.scale or 20, args.backend)
    return 1 if run(args.scale or 200, args.backend) else 0


if __name__ == "__main__":
    sys.exit(main())
