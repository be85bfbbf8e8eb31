"""Exact counts where events go missing or come twice: every backend counts each call once.

A generator closed while suspended outside any ``try`` (3.13 reports nothing), a check that
raises after its call returned (the interpreter then also unwinds the frame), a generator that
handles what its consumer threw in, a call that began before the sensor watched it, and another
``sys.monitoring`` tool whose callback fails before ours runs.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Mapping
from typing import Any

import pytest

import codewitness.sensor
from codewitness.errors import InvariantViolation

# The fixtures' types (tests/sensor_app.py); annotations only.
App = Any
MemoryExporter = Any

needs_monitoring = pytest.mark.skipif(sys.version_info < (3, 12), reason="sys.monitoring is 3.12+")
monitoring_backends = pytest.mark.parametrize("backend", ["monitoring", "monitoring/py"])


def calls_of(memory: MemoryExporter, function: str) -> int:
    return memory.calls(function)


def test_closed_and_abandoned_generators_are_counted_and_let_go(
    start: Any, app: App, memory: MemoryExporter, backend: str
) -> None:
    # `countdown` yields outside any `try`: on 3.13.0-3.13.9 closing it (or dropping it) runs
    # nothing in it and fires no event.
    svc = importlib.import_module(app.module)
    sensor = start(app, memory, backend)
    closed = []
    for _ in range(5000):
        abandoned = svc.countdown(3)
        next(abandoned)
        kept = svc.countdown(3)
        next(kept)
        kept.close()
        closed.append(kept)  # still referenced: only its close says it ended
    del abandoned
    held = len(getattr(sensor.backend, "_starts", {}))
    sensor.flush()
    (record,) = memory.of("aggregate", f"{app.module}.countdown")
    assert record["calls"] == 10_000
    assert record["errors"] == {}
    assert held <= 2 * 4096  # what is kept per frame is swept as it grows
    assert not getattr(sensor.backend, "_starts", {})


NESTED = """
def inner(x):
    return x


def outer(x):
    try:
        return inner(x)
    except Exception:
        return -1
"""


def refuse(arguments: Mapping[str, Any], result: Any) -> None:
    raise InvariantViolation(f"inner({arguments}) returned {result}")


def test_a_check_raising_after_a_return_costs_no_other_call_its_count(
    start: Any, app: App, memory: MemoryExporter, backend: str
) -> None:
    module = app.write("nested", NESTED)
    nested = importlib.import_module(module)  # loaded before init: watched by code object
    sensor = start(app, memory, backend, manifest=app.manifest(()), include=[f"{module}.*"])
    sensor.add_check(f"{module}.inner", refuse)
    for i in range(20):
        assert nested.outer(i) == -1  # the invariant, raised in `inner`, caught in `outer`
    sensor.flush()
    assert calls_of(memory, f"{module}.inner") == 20
    assert calls_of(memory, f"{module}.outer") == 20


FORGIVING = """
import contextlib


@contextlib.contextmanager
def forgiving():
    try:
        yield
    except ValueError:
        pass


class Pause:
    def __await__(self):
        yield


async def settles():
    try:
        await Pause()
    except ValueError:
        return "settled"
"""


def test_a_generator_that_handles_what_its_consumer_threw_in_ends_normally(
    start: Any, app: App, memory: MemoryExporter, backend: str
) -> None:
    module = app.write("forgiving", FORGIVING)
    sensor = start(app, memory, backend, manifest=app.manifest(()), include=[f"{module}.*"])
    forgiving = importlib.import_module(module)
    for _ in range(10):
        with forgiving.forgiving():
            raise ValueError("swallowed by the context manager")
    with pytest.raises(KeyError), forgiving.forgiving():
        raise KeyError("not its to swallow")
    coroutine = forgiving.settles()
    coroutine.send(None)
    with pytest.raises(StopIteration) as stop:
        coroutine.throw(ValueError("handled inside"))
    assert stop.value.value == "settled"
    sensor.flush()
    (record,) = memory.of("aggregate", f"{module}.forgiving")
    assert record["calls"] == 11
    assert record["errors"] == {"KeyError": 1}
    assert [e["type"] for e in memory.of("exception", f"{module}.forgiving")] == ["KeyError"]
    (coro,) = memory.of("aggregate", f"{module}.settles")
    assert (coro["calls"], coro["errors"]) == (1, {})
    assert not memory.of("exception", f"{module}.settles")


PHASES = """
import time


def first(stop):
    stop()  # the sensor is shut down while this call runs: its end is never seen
    time.sleep(0.3)


def second(go):
    go()  # a new sensor starts while this call runs: it began unwatched
    return 1
"""


@needs_monitoring
@monitoring_backends
def test_a_call_that_began_unwatched_takes_no_start_of_an_earlier_sensor(
    start: Any, app: App, memory: MemoryExporter, backend: str
) -> None:
    module = app.write("phases", PHASES)
    phases = importlib.import_module(module)
    start(app, memory, backend, manifest=app.manifest(()), include=[f"{module}.*"])
    phases.first(codewitness.sensor.shutdown)
    later = type(memory)()
    sensors = []

    def restart() -> None:
        sensors.append(start(app, later, backend, manifest=app.manifest(()), include=[f"{module}.*"]))

    phases.second(restart)
    assert phases.second(lambda: None) == 1  # a whole call, watched from its start
    sensors[0].flush()
    (record,) = later.of("aggregate", f"{module}.second")
    assert record["calls"] == 1
    assert record["max_ns"] < 100_000_000  # not a phantom call from `first`'s start, 300 ms before


@needs_monitoring
@monitoring_backends
def test_another_tool_failing_at_py_start_costs_only_that_call(
    start: Any, app: App, memory: MemoryExporter, backend: str
) -> None:
    module = app.write("nested", NESTED)
    nested = importlib.import_module(module)
    sensor = start(app, memory, backend, manifest=app.manifest(()), include=[f"{module}.*"])
    monitoring = sys.monitoring  # type: ignore[attr-defined,unused-ignore]
    other = 5  # tools are called from the highest id down: this one runs before ours
    if sensor.backend._tool >= other or monitoring.get_tool(other) is not None:
        pytest.skip("no tool id above the sensor's is free")
    inner = nested.inner.__code__

    def failing_start(code: Any, offset: int) -> None:
        raise RuntimeError("another tool's bug")

    monitoring.use_tool_id(other, "failing")
    try:
        monitoring.register_callback(other, monitoring.events.PY_START, failing_start)
        monitoring.set_local_events(other, inner, monitoring.events.PY_START)
        for i in range(20):
            assert nested.outer(i) == -1  # `inner` fails before its first line; ours never saw it start
    finally:
        monitoring.set_local_events(other, inner, 0)
        monitoring.register_callback(other, monitoring.events.PY_START, None)
        monitoring.free_tool_id(other)
    sensor.flush()
    assert calls_of(memory, f"{module}.outer") == 20
    assert calls_of(memory, f"{module}.inner") == 0
