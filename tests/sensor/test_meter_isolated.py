"""The compiled meter and the sensor's signal paths, each in a process of its own.

A use-after-free or an interrupt lost inside the sensor is checked in a child Python: a crash
(or a hang) fails the test, not the test run. Each child prints one JSON line of what it saw.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from codewitness.sensor.meter import COMPILED, MONITOR, NEWEST_TESTED

#: What a child needs to start a sensor over ``subject`` (a module in the folder given as argv[1])
#: that exports to memory: ``start(backend, **settings)``.
PRELUDE = """
import json, os, sys
folder = sys.argv[1]
sys.path.insert(0, folder)
import codewitness.sensor
from codewitness.config import SensorSection


class Memory:
    def __init__(self):
        self.records = []

    def export(self, records):
        self.records.extend(records)

    def close(self):
        pass

    def after_fork(self):
        self.records = []

    def health(self):
        return {}

    def calls(self, name):
        return sum(r["calls"] for r in self.records if r["kind"] == "aggregate" and r["function"] == name)


def start(backend, **settings):
    memory = Memory()
    settings.setdefault("speedups", not backend.endswith("/py"))
    sensor = codewitness.sensor.init(
        service="isolated",
        manifest=os.path.join(folder, "none.json"),
        include=["subject.*"],
        spool_dir="",
        endpoint="",
        otel=False,
        interval=3600,
        exporters=[memory],
        backend=backend.removesuffix("/py"),
        settings=SensorSection(**settings),
    )
    assert sensor is not None
    return sensor, memory
"""

BACKENDS = ["wrapping", "monitoring", "monitoring/py", "auto"] if sys.version_info >= (3, 12) else ["wrapping"]

needs_monitor = pytest.mark.skipif(MONITOR is None, reason="the compiled sys.monitoring callbacks are 3.12+")


def child(tmp_path: Path, subject: str, host: str, env: dict[str, str] | None = None) -> Any:
    """Run ``host`` (after the prelude) in a fresh Python with ``subject`` importable; its JSON line."""
    return child_and_stderr(tmp_path, subject, host, env)[0]


def child_and_stderr(tmp_path: Path, subject: str, host: str, env: dict[str, str] | None = None) -> tuple[Any, str]:
    """:func:`child`, and what the child wrote on stderr."""
    (tmp_path / "subject.py").write_text(textwrap.dedent(subject))
    script = tmp_path / "host.py"
    script.write_text(PRELUDE + textwrap.dedent(host))
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path)],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"the child ended with {done.returncode}:\n{done.stderr}"
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


# -- the per-thread start stack, freed when its thread ends ---------------------------------------


@needs_monitor
def test_a_watched_call_after_the_thread_s_start_stack_was_freed_is_counted(tmp_path: Path) -> None:
    # glibc runs the destructors of thread-specific keys in the order the keys were made; a
    # ctypes callback set as a later key's destructor runs Python code on the thread after the
    # meter freed that thread's start stack. Freed memory is filled (MALLOC_PERTURB_), so a
    # write through a stale pointer crashes.
    seen = child(
        tmp_path,
        """
        def watched(x):
            return x + 1
        """,
        """
        import ctypes, threading
        import subject
        sensor, memory = start("monitoring")
        assert sensor.backend._compiled is not None
        libc = ctypes.CDLL(None)
        done = threading.Event()

        @ctypes.CFUNCTYPE(None, ctypes.c_void_p)
        def at_thread_exit(value):
            for i in range(100):
                subject.watched(i)
            done.set()

        key = ctypes.c_uint()
        assert libc.pthread_key_create(ctypes.byref(key), at_thread_exit) == 0

        def body():
            subject.watched(0)  # the thread's start stack is made
            libc.pthread_setspecific(key, ctypes.c_void_p(1))

        thread = threading.Thread(target=body)
        thread.start()
        thread.join()
        assert done.wait(10)
        sensor.flush()
        print(json.dumps({"calls": memory.calls("subject.watched"), "errors": sensor.internal_errors}))
        """,
        env={"MALLOC_PERTURB_": "165"},
    )
    assert seen == {"calls": 101, "errors": {}}


# -- a meter the Python code in on_unwind lets go of ----------------------------------------------


@needs_monitor
def test_the_meter_outlives_the_probe_code_that_forgets_it(tmp_path: Path) -> None:
    # The probe's `raised` (Python code) forgets the code object, the meter's last reference,
    # and allocates blocks of the meter's size: a count written into the freed meter shows up
    # in one of them.
    seen = child(
        tmp_path,
        """
        def raises():
            raise ValueError("x")
        """,
        """
        from codewitness.sensor import _meter
        import subject

        monitoring = sys.monitoring
        tool = next(t for t in (3, 4, 2) if monitoring.get_tool(t) is None)
        kept = []

        class Probe:
            def raised(self, token, exc, depth=1):
                monitor.forget()
                kept.extend(bytearray(size) for size in range(7000, 9000, 16))
                return int(token)

        def ignore(*args):
            return None

        monitor = _meter.Monitor(ignore, ignore, ignore, ignore, ignore, ignore)
        monitor.watch(subject.raises.__code__, _meter.Meter(Probe(), 5))
        events = monitoring.events
        monitoring.use_tool_id(tool, "test")
        monitoring.register_callback(tool, events.PY_START, monitor.on_start)
        monitoring.register_callback(tool, events.PY_RETURN, monitor.on_return)
        monitoring.register_callback(tool, events.PY_UNWIND, monitor.on_unwind)
        monitoring.set_local_events(tool, subject.raises.__code__, events.PY_START | events.PY_RETURN)
        monitoring.set_events(tool, events.PY_UNWIND)
        try:
            subject.raises()
        except ValueError:
            pass
        monitoring.set_events(tool, 0)
        print(json.dumps({"blocks": len(kept), "written": sum(1 for block in kept if any(block))}))
        """,
    )
    assert seen == {"blocks": 125, "written": 0}


# -- Meter and Monitor made without their arguments -----------------------------------------------


@pytest.mark.skipif(not COMPILED, reason="the compiled meter is not built here")
def test_a_meter_made_by_new_alone_is_a_whole_meter(tmp_path: Path) -> None:
    seen = child(
        tmp_path,
        "",
        """
        from codewitness.sensor import _meter
        meter = _meter.Meter.__new__(_meter.Meter)
        meter.exit(meter.enter())
        meter.slow = True
        meter.exit(meter.enter())  # no probe: only counted
        meter.fail(meter.enter(), KeyError("k"))
        meter.__init__(object(), 3)  # changes nothing
        try:
            raise ValueError("v")
        except ValueError as exc:
            meter.fail(meter.enter(), exc)
        errors, suppressed = meter.take_errors()
        print(json.dumps({
            "calls": sum(meter.take().values()),
            "errors": sorted(t.__name__ for t, _ in errors),
            "suppressed": suppressed,
            "probe": repr(meter.probe),
        }))
        """,
    )
    assert seen == {"calls": 4, "errors": ["KeyError", "ValueError"], "suppressed": 2, "probe": "None"}


@needs_monitor
def test_a_monitor_cannot_be_made_without_its_callbacks(tmp_path: Path) -> None:
    seen = child(
        tmp_path,
        """
        def numbers():
            yield 1
        """,
        """
        from codewitness.sensor import _meter
        import subject
        refused = []
        for make in (
            lambda: _meter.Monitor.__new__(_meter.Monitor),
            lambda: _meter.Monitor(*[print] * 5, 7),
        ):
            try:
                monitor = make()
            except TypeError:
                refused.append(True)
            else:
                monitor.on_start(subject.numbers.__code__, 0)  # a generator: handed to `start`
                refused.append(False)
        print(json.dumps({"refused": refused}))
        """,
    )
    assert seen == {"refused": [True, True]}


# -- Ctrl-C: what a signal handler raises inside the sensor reaches the program -----------------

#: Objects whose repr (taken for a sample) and str (taken for a capture) interrupt the process.
INTERRUPTING_SUBJECT = """
import os, signal


class Loud:
    __slots__ = ()  # with capture_reprs, a snapshot of an object without attributes takes its repr

    def __repr__(self):
        os.kill(os.getpid(), signal.SIGINT)
        return "loud"


class Bad(Exception):
    def __str__(self):
        os.kill(os.getpid(), signal.SIGINT)
        return "bad"


def takes(x):
    return 1


def raises():
    raise Bad()


def numbers(x):
    yield 1
"""


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_interrupt_raised_inside_the_sensor_reaches_the_program(tmp_path: Path, backend: str) -> None:
    seen = child(
        tmp_path,
        INTERRUPTING_SUBJECT,
        f"""
        import time
        import subject  # loaded before init: watched by code object where the backend does that
        sensor, memory = start({backend!r}, sample_rate=1.0, capture_reprs=True)
        outcomes = {{}}
        for name, call in (
            ("sample taken at the start", lambda: subject.takes(subject.Loud())),
            ("capture of a raise", subject.raises),
            ("sample of a generator", lambda: list(subject.numbers(subject.Loud()))),
        ):
            try:
                try:
                    call()
                    outcome = "returned"
                except subject.Bad:
                    outcome = "raised its own error"
                for _ in range(1000):  # an interrupt still pending would surface here
                    time.sleep(0)
            except KeyboardInterrupt:
                outcome = "interrupted"
            outcomes[name] = outcome
        print(json.dumps(outcomes))
        """,
    )
    assert seen == {
        "sample taken at the start": "interrupted",
        "capture of a raise": "interrupted",
        "sample of a generator": "interrupted",
    }


#: A program that runs watched calls (plain, raising, generators; every one sampled, so every
#: one runs the sensor's Python code) until interrupted, and answers each interrupt with a line.
#: The answers, and "ready", are written inside the ``try``: the next interrupt may come as soon
#: as one is out (the first one even before the line after "ready" runs).
INTERRUPTED_HOST = """
import subject
sensor, memory = start(BACKEND, sample_rate=1.0, exceptions_per_interval=1000)
seen = answered = 0
ready = False
while True:
    try:
        if not ready:
            ready = True
            os.write(1, b"ready\\n")
        while answered < seen:
            answered += 1
            os.write(1, b"interrupted\\n")
        while True:
            subject.work(3)
            try:
                subject.fails(3)
            except ValueError:
                pass
            for _ in subject.numbers(2):
                pass
    except KeyboardInterrupt:
        seen += 1
"""


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_ctrl_c_reaches_a_busy_program(tmp_path: Path, backend: str) -> None:
    (tmp_path / "subject.py").write_text(
        textwrap.dedent("""
        def work(x):
            return [x] * 3

        def fails(x):
            raise ValueError(x)

        def numbers(n):
            yield from range(n)
        """)
    )
    script = tmp_path / "host.py"
    script.write_text(PRELUDE + f"BACKEND = {backend!r}\n" + INTERRUPTED_HOST)
    sent, lost = 200, 0
    with subprocess.Popen(
        [sys.executable, str(script), str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0
    ) as host:
        assert host.stdout is not None
        try:
            assert _line(host.stdout, 30) == b"ready\n"
            for i in range(sent):
                time.sleep(0.0005 * (i % 7))  # land at different points of the loop
                host.send_signal(signal.SIGINT)
                if _line(host.stdout, 2) != b"interrupted\n":
                    lost += 1
                    if lost == 5:
                        break
        finally:
            host.kill()
            stderr = host.stderr.read() if host.stderr else b""
    assert lost == 0, f"{lost} interrupts never reached the program\n{stderr.decode(errors='replace')}"


def _line(stream: Any, timeout: float) -> bytes:
    """One line from the child's stdout (unbuffered: nothing read ahead of what select sees), or b""
    when none comes within ``timeout`` seconds."""
    ready, _, _ = select.select([stream], [], [], timeout)
    return stream.readline() if ready else b""


# -- a forked child and the generator ends 3.13 does not report -----------------------------------


@pytest.mark.skipif(sys.version_info < (3, 12), reason="sys.monitoring is 3.12+")
@pytest.mark.parametrize("backend", ["monitoring", "monitoring/py"])
def test_a_forked_child_counts_only_its_own_generator_ends(tmp_path: Path, backend: str) -> None:
    # Generators closed in the parent before the fork, unreported on 3.13 until a sweep, are
    # the parent's calls: the child must not count them too.
    seen = child(
        tmp_path,
        """
        def countdown(n):
            while n > 0:
                yield n
                n -= 1
        """,
        f"""
        import subject
        sensor, memory = start({backend!r})
        for _ in range(10):
            closed = subject.countdown(3)
            next(closed)
            closed.close()
        pid = os.fork()
        if pid == 0:
            for _ in range(2):
                list(subject.countdown(1))
            sensor.flush()
            os._exit(memory.calls("subject.countdown"))
        _, status = os.waitpid(pid, 0)
        sensor.flush()
        print(json.dumps({{"parent": memory.calls("subject.countdown"), "child": os.waitstatus_to_exitcode(status)}}))
        """,
    )
    assert seen == {"parent": 10, "child": 2}


# -- a Python newer than the tested ones ------------------------------------------------------------

#: A child's host that starts the sensor while ``sys.version_info`` says ``VERSION`` (when set),
#: calls the watched functions, and prints which meter and callbacks counted them, and the counts.
NEWER_PYTHON_HOST = """
import collections
import codewitness.sensor._wrappers
if sys.version_info >= (3, 12):
    import codewitness.sensor._monitoring
import subject

real = sys.version_info
if VERSION:  # faked only while the sensor starts (and decides which meter to use)
    sys.version_info = collections.namedtuple("version_info", "major minor micro releaselevel serial")(*VERSION)
try:
    sensor, memory = start(BACKEND, **SETTINGS)
finally:
    sys.version_info = real
for i in range(1000):
    subject.watched(i)
for i in range(3):
    try:
        subject.raises(i)
    except ValueError:
        pass
meters = {type(probe.meter).__name__ for probe in sensor.probes.values()}
compiled_callbacks = getattr(sensor.backend, "_compiled", None) is not None
sensor.flush()
print(json.dumps({
    "meters": sorted(meters),
    "compiled callbacks": compiled_callbacks,
    "calls": [memory.calls("subject.watched"), memory.calls("subject.raises")],
    "errors": sensor.internal_errors,
}))
"""

NEWER_SUBJECT = """
def watched(x):
    return x + 1

def raises(x):
    raise ValueError(x)
"""


def newer_python(tmp_path: Path, backend: str, version: tuple[Any, ...] | None, **settings: Any) -> tuple[Any, str]:
    host = f"VERSION = {version!r}\nBACKEND = {backend!r}\nSETTINGS = {settings!r}\n" + NEWER_PYTHON_HOST
    return child_and_stderr(tmp_path, NEWER_SUBJECT, host)


@pytest.mark.skipif(not COMPILED, reason="the compiled meter is not built here")
@pytest.mark.parametrize("backend", [b for b in BACKENDS if not b.endswith("/py")])
def test_a_python_newer_than_the_tested_ones_counts_with_the_pure_python_meter(tmp_path: Path, backend: str) -> None:
    newer = (NEWEST_TESTED[0], NEWEST_TESTED[1] + 1, 0, "final", 0)
    seen, stderr = newer_python(tmp_path, backend, newer)
    assert seen == {"meters": ["PyMeter"], "compiled callbacks": False, "calls": [1000, 3], "errors": {}}
    notice = [line for line in stderr.splitlines() if "codewitness" in line]
    assert len(notice) == 1, stderr
    assert f"Python {newer[0]}.{newer[1]} is newer" in notice[0]
    assert "sensor.untested_speedups = true" in notice[0]


@pytest.mark.skipif(not COMPILED, reason="the compiled meter is not built here")
@pytest.mark.parametrize("backend", [b for b in BACKENDS if not b.endswith("/py")])
def test_the_compiled_meter_on_a_newer_python_only_when_the_setting_asks(tmp_path: Path, backend: str) -> None:
    newer = (NEWEST_TESTED[0], NEWEST_TESTED[1] + 1, 0, "final", 0)
    monitored = backend != "wrapping"  # both sys.monitoring backends make the compiled callbacks
    asked, stderr = newer_python(tmp_path, backend, newer, untested_speedups=True)
    assert asked == {"meters": ["Meter"], "compiled callbacks": monitored, "calls": [1000, 3], "errors": {}}
    assert "codewitness" not in stderr
    # Nothing held back, nothing said: this Python (tested), or the pure-Python meter chosen anyway.
    tested, stderr = newer_python(tmp_path, backend, None)
    assert tested == asked
    assert "codewitness" not in stderr
    chosen, stderr = newer_python(tmp_path, backend, newer, speedups=False)
    assert chosen == {"meters": ["PyMeter"], "compiled callbacks": False, "calls": [1000, 3], "errors": {}}
    assert "codewitness" not in stderr


# -- a compiled meter built from other sources ------------------------------------------------------

#: The meter's source before its interface had a number (the revision before METER_API).
UNNUMBERED_METER = "92335d7"

STALE_HOST = """
codewitness.sensor.__path__.insert(0, os.path.join(folder, "stale"))  # its _meter is found first
from codewitness.sensor import meter
import subject
sensor, memory = start(BACKEND)
for i in range(1000):
    subject.watched(i)
meters = {type(probe.meter).__name__ for probe in sensor.probes.values()}
sensor.flush()
print(json.dumps({
    "compiled": meter.COMPILED,
    "stale": meter.STALE_BUILD,
    "from": os.path.dirname(meter._compiled.__file__) == os.path.join(folder, "stale"),
    "meters": sorted(meters),
    "calls": memory.calls("subject.watched"),
    "errors": sensor.internal_errors,
}))
"""


def _build_meter(source: str, into: Path) -> None:
    """Compile ``source`` (a ``_meter.c``) into ``into`` as this Python's ``_meter`` extension."""
    import sysconfig

    into.mkdir()
    (into / "_meter.c").write_text(source)
    target = into / f"_meter{sysconfig.get_config_var('EXT_SUFFIX')}"
    include = sysconfig.get_paths()["include"]
    subprocess.run(
        ["gcc", "-shared", "-fPIC", "-O1", f"-I{include}", str(into / "_meter.c"), "-o", str(target)],
        check=True,
        capture_output=True,
        timeout=300,
    )


@pytest.mark.skipif(not COMPILED, reason="the compiled meter is not built here (no compiler)")
def test_a_compiled_meter_built_from_older_sources_is_left_unused_and_said_so(tmp_path: Path) -> None:
    # Seen in an editable checkout after a pull: the .so from before the change stayed, and the
    # sensor called methods it lacked on every interval (drain_failures), exporting nothing.
    root = Path(__file__).resolve().parents[2]
    old = subprocess.run(
        ["git", "show", f"{UNNUMBERED_METER}:src/codewitness/sensor/_meter.c"],
        cwd=root, capture_output=True, text=True, check=False,
    )
    if old.returncode != 0:
        pytest.skip(f"revision {UNNUMBERED_METER} is not in this clone (a shallow clone?)")
    _build_meter(old.stdout, tmp_path / "stale")
    host = f"BACKEND = 'wrapping'\n{STALE_HOST}"
    seen, stderr = child_and_stderr(tmp_path, NEWER_SUBJECT, host)
    assert seen["from"] and not seen["compiled"]
    assert "meter interface none" in seen["stale"]
    assert seen["meters"] == ["PyMeter"] and seen["calls"] == 1000 and seen["errors"] == {}
    notice = [line for line in stderr.splitlines() if "compiled meter is left unused" in line]
    assert len(notice) == 1 and "pip install" in notice[0], stderr


@pytest.mark.skipif(not COMPILED, reason="the compiled meter is not built here (no compiler)")
def test_the_meter_built_from_these_sources_has_the_interface_this_code_needs() -> None:
    from codewitness.sensor import _meter  # type: ignore[attr-defined]
    from codewitness.sensor.meter import METER_API, STALE_BUILD, stale_build

    assert _meter.API == METER_API and STALE_BUILD is None and stale_build(_meter) is None
