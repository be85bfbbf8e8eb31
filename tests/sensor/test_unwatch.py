"""Cheap, busy functions are watched no more (``sensor.unwatch_cheap_calls`` / ``unwatch_cheap_ns``).

Each test writes a real application module, watches it through a real backend, calls its
functions, and lets the sensor decide at the end of an interval (``flush``).
"""

from __future__ import annotations

import dataclasses
import importlib
import sys
import types
from typing import Any

import pytest
from tests.sensor_app import App, MemoryExporter

import codewitness.sensor
from codewitness.config import SensorSection
from codewitness.invariants.plugin import InvariantsPlugin
from codewitness.model import Manifest, ManifestFunction

SOURCE = """
import time


def tiny(x, hook=None):
    if hook is not None:
        hook()
    return x + 1


def ai_tiny(x):
    return x + 2


def kept_tiny(x):
    return x + 3


def checked_tiny(x):
    return x + 4


def slow(x):
    time.sleep(0.0002)
    return x


def outer(x, hook=None):
    return tiny(x, hook)


def gen(n, hook=None):
    for i in range(n):
        if hook is not None:
            hook()
        yield i
"""

#: Thresholds a test can rely on under any load: 100 calls, at a mean below 50 µs (``tiny``
#: takes well under a microsecond; ``slow`` sleeps 200 µs).
SETTINGS = SensorSection(unwatch_cheap_calls=100, unwatch_cheap_ns=50_000)
CALLS = 300


def manifest(app: App, module: str, *qualnames: str) -> Manifest:
    return Manifest(
        revision="r1",
        functions=tuple(
            ManifestFunction(
                module=module,
                qualname=q,
                path=f"{module.replace('.', '/')}.py",
                start_line=1,
                end_line=2,
                ai_share=1.0,
                generation_ids=("gen_00000000000000000001",),
                models=("claude-sonnet-4-5",),
                agents=("claude-code",),
            )
            for q in qualnames
        ),
    )


def start(
    app: App,
    memory: MemoryExporter,
    backend: str,
    mod: str,
    *,
    include: tuple[str, ...] = (),
    plugins: tuple[Any, ...] = (),
    **settings: Any,
) -> codewitness.sensor.Sensor:
    settings.setdefault("keep", (f"{mod}.kept_*", f"{mod}.outer"))
    section = dataclasses.replace(SETTINGS, **settings)
    if backend.endswith("/py"):
        backend, section = backend.removesuffix("/py"), dataclasses.replace(section, speedups=False)
    sensor = codewitness.sensor.init(
        service="test-app",
        manifest=manifest(app, mod, "ai_tiny"),
        include=[f"{mod}.*", *include],
        spool_dir="",
        endpoint="",
        otel=False,
        interval=3600,
        exporters=[memory],
        backend=backend,  # type: ignore[arg-type]
        settings=section,
        plugins=plugins,
    )
    assert sensor is not None
    return sensor


def busy(leafs: types.ModuleType, calls: int = CALLS) -> None:
    for i in range(calls):
        leafs.tiny(i)
        leafs.ai_tiny(i)
        leafs.kept_tiny(i)
        leafs.checked_tiny(i)
        leafs.outer(i)
    for i in range(110):
        leafs.slow(i)


def watched_by_monitoring(sensor: Any, code: types.CodeType) -> int | None:
    """The local events our tool has on ``code`` (3.12+ with a monitoring backend), else ``None``."""
    tool = getattr(sensor.backend, "_tool", None)
    if tool is None:
        return None
    events: int = sys.monitoring.get_local_events(tool, code)  # type: ignore[attr-defined,unused-ignore]
    return events


def timed(function: Any) -> bool:
    """Whether ``function`` runs the sensor's rewritten code."""
    return any(name.startswith("__cw_") for name in function.__code__.co_names)


@pytest.mark.parametrize("loaded", ["after", "before"])
def test_a_cheap_busy_function_is_unwatched_and_the_others_stay_watched(
    app: App, memory: MemoryExporter, backend: str, loaded: str
) -> None:
    mod = app.write("leafs", SOURCE)
    if loaded == "before":
        importlib.import_module(mod)  # recoded, or monitored by code object
    sensor = start(app, memory, backend, mod)
    leafs = importlib.import_module(mod)
    sensor.add_check(f"{mod}.checked_tiny", lambda arguments, result: None)
    busy(leafs)
    sensor.flush()
    # The interval that decided it is reported whole, and the choice with it.
    assert memory.calls(f"{mod}.tiny") == 2 * CALLS
    [unwatched] = memory.of("unwatched")
    assert unwatched["function"] == f"{mod}.tiny"
    assert unwatched["reason"] == "cheap"
    assert unwatched["calls"] == 2 * CALLS
    assert 0 < unwatched["mean_ns"] < 50_000
    assert unwatched["origin"] == "human"
    assert sensor.probes[f"{mod}.tiny"].unwatched == (2 * CALLS, unwatched["mean_ns"])
    assert watched_by_monitoring(sensor, leafs.tiny.__code__) in (None, 0)
    assert not timed(leafs.tiny)  # its own code again, where it had been rewritten

    memory.records.clear()
    busy(leafs)
    sensor.flush()
    assert memory.of("aggregate", f"{mod}.tiny") == []  # no more events counted
    assert memory.calls(f"{mod}.ai_tiny") == CALLS  # in the manifest: AI-written
    assert memory.calls(f"{mod}.kept_tiny") == CALLS  # matches sensor.keep
    assert memory.calls(f"{mod}.outer") == CALLS  # so does outer
    assert memory.calls(f"{mod}.checked_tiny") == CALLS  # has a check
    assert memory.calls(f"{mod}.slow") == 110  # not cheap
    assert memory.of("unwatched") == []  # said once
    assert not sensor.internal_errors
    assert leafs.tiny(1) == 2


def test_the_thresholds_decide(app: App, memory: MemoryExporter, backend: str) -> None:
    mod = app.write("leafs", SOURCE)
    sensor = start(app, memory, backend, mod, unwatch_cheap_calls=10 * CALLS)
    leafs = importlib.import_module(mod)
    busy(leafs)
    sensor.flush()
    assert memory.of("unwatched") == []  # not busy enough
    codewitness.sensor.shutdown()
    sensor = start(app, memory, backend, mod, unwatch_cheap_ns=1)
    busy(leafs)
    sensor.flush()
    assert memory.of("unwatched") == []  # nothing is that cheap
    codewitness.sensor.shutdown()
    sensor = start(app, memory, backend, mod, unwatch_cheap_calls=0)
    busy(leafs)
    sensor.flush()
    assert memory.of("unwatched") == []  # off


GUARDED = """
import codewitness


@codewitness.ensure(lambda result: result > 0, name="positive")
def ruled_tiny(x):
    return x + 5


def named_tiny(x):
    return x + 6


def plain_tiny(x):
    return x + 7
"""


class Keeper:
    """A plug-in whose keeper raises for one function and keeps another."""

    name = "keeper"

    def __init__(self, mod: str) -> None:
        self.mod = mod
        self.asked: list[str] = []

    def setup(self, host: Any) -> None:
        host.add_keeper(self.keep)

    def teardown(self, host: Any) -> None:
        pass

    def keep(self, function: str) -> bool:
        self.asked.append(function)
        if function == f"{self.mod}.plain_tiny":
            raise RuntimeError("a keeper's own bug")
        return False


def test_a_guarded_function_and_one_include_names_exactly_stay_watched(
    app: App, memory: MemoryExporter, backend: str
) -> None:
    mod = app.write("guarded", GUARDED)
    keeper = Keeper(mod)
    sensor = start(
        app, memory, backend, mod, include=(f"{mod}.named_tiny",), plugins=(InvariantsPlugin(), keeper)
    )
    guarded = importlib.import_module(mod)
    for interval in range(2):  # the second interval counts what the first decided
        memory.records.clear()
        for i in range(CALLS):
            guarded.ruled_tiny(i)
            guarded.named_tiny(i)
            guarded.plain_tiny(i)
        sensor.flush()
        assert memory.calls(f"{mod}.ruled_tiny") == CALLS  # an invariant decorator guards it
        assert memory.calls(f"{mod}.named_tiny") == CALLS  # include names it, not only its pattern
        assert memory.calls(f"{mod}.plain_tiny") == CALLS  # the keeper raised: kept, and counted
        assert memory.of("unwatched") == []
        health = [r["internal_errors"] for r in memory.of("sensor")]  # the sensor's health record
        assert health == ([{"keeper": 1}] if interval == 0 else [])  # counted once: the choice is kept after
    # Asked once, and only of what nothing else keeps: a raising keeper does not stop the others.
    assert keeper.asked == [f"{mod}.plain_tiny"]


def test_without_the_keepers_the_same_functions_are_unwatched(app: App, memory: MemoryExporter, backend: str) -> None:
    mod = app.write("guarded", GUARDED)
    sensor = start(app, memory, backend, mod)  # no invariants plug-in, no exact include
    guarded = importlib.import_module(mod)
    for i in range(CALLS):
        guarded.ruled_tiny(i)
        guarded.named_tiny(i)
        guarded.plain_tiny(i)
    sensor.flush()
    assert sorted(r["function"] for r in memory.of("unwatched")) == [
        f"{mod}.named_tiny",
        f"{mod}.plain_tiny",
        f"{mod}.ruled_tiny",
    ]
    assert not sensor.internal_errors


def test_a_call_in_flight_across_the_unwatch_and_its_caller_stay_balanced(
    app: App, memory: MemoryExporter, backend: str
) -> None:
    mod = app.write("leafs", SOURCE)
    sensor = start(app, memory, backend, mod, keep=(f"{mod}.outer",))
    leafs = importlib.import_module(mod)
    for i in range(CALLS):
        leafs.tiny(i)
    # The interval ends while tiny runs, called by outer: tiny is unwatched under its own feet.
    assert leafs.outer(1, sensor.flush) == 2
    assert [r["function"] for r in memory.of("unwatched")] == [f"{mod}.tiny"]
    memory.records.clear()
    for i in range(5):
        assert leafs.outer(i) == i + 1
    sensor.flush()
    # The call in flight is counted or dropped, never half: outer's starts and ends still pair up.
    assert memory.calls(f"{mod}.tiny") in (0, 1)
    assert memory.calls(f"{mod}.outer") == 6
    assert all(r["calls"] > 0 and r["total_ns"] >= 0 for r in memory.of("aggregate"))
    memory.records.clear()
    for i in range(7):
        leafs.outer(i)
    sensor.flush()
    assert memory.calls(f"{mod}.outer") == 7
    assert memory.calls(f"{mod}.tiny") == 0
    assert not sensor.internal_errors


def test_a_generator_suspended_across_the_unwatch_still_runs(app: App, memory: MemoryExporter, backend: str) -> None:
    mod = app.write("leafs", SOURCE)
    sensor = start(app, memory, backend, mod, keep=(f"{mod}.outer", f"{mod}.tiny"))
    leafs = importlib.import_module(mod)
    for _ in range(CALLS):
        assert list(leafs.gen(1)) == [0]
    suspended = leafs.gen(3)
    assert next(suspended) == 0
    sensor.flush()  # gen is unwatched while one of its calls is suspended
    assert [r["function"] for r in memory.of("unwatched")] == [f"{mod}.gen"]
    memory.records.clear()
    assert list(suspended) == [1, 2]
    assert list(leafs.gen(4)) == [0, 1, 2, 3]
    # unwatched while running, between two of its own steps
    assert list(leafs.gen(2, hook=sensor.flush)) == [0, 1]
    assert leafs.outer(1) == 2
    sensor.flush()
    assert memory.calls(f"{mod}.gen") in (0, 1)  # the suspended call: counted or dropped
    assert memory.calls(f"{mod}.outer") == 1
    assert memory.calls(f"{mod}.tiny") == 1
    assert not sensor.internal_errors


def test_an_exception_after_the_unwatch_is_the_host_s_alone(app: App, memory: MemoryExporter, backend: str) -> None:
    mod = app.write("leafs", SOURCE)
    sensor = start(app, memory, backend, mod)
    leafs = importlib.import_module(mod)
    for i in range(CALLS):
        leafs.tiny(i)
    sensor.flush()
    memory.records.clear()
    with pytest.raises(TypeError):
        leafs.tiny(None)
    with pytest.raises(TypeError):
        leafs.outer(None)
    sensor.flush()
    assert memory.of("aggregate", f"{mod}.tiny") == []
    assert memory.of("exception", f"{mod}.tiny") == []
    assert memory.calls(f"{mod}.outer") == 1
    assert [r["type"] for r in memory.of("exception", f"{mod}.outer")] == ["TypeError"]
    assert not sensor.internal_errors


@pytest.mark.parametrize("which", ["wrapping", "auto/py"] if sys.version_info >= (3, 12) else ["wrapping"])
def test_a_swapped_function_gets_its_name_back_and_a_kept_wrapper_calls_straight_through(
    app: App, memory: MemoryExporter, which: str
) -> None:
    mod = app.write("leafs", SOURCE)
    leafs = importlib.import_module(mod)
    original = leafs.tiny
    app.write("leafs", SOURCE.replace("return x + 1\n", "return x + 10\n"))  # edited on disk: not recoded
    importlib.invalidate_caches()
    sensor = start(app, memory, which, mod)
    wrapper = leafs.tiny
    assert wrapper is not original  # swapped for a wrapper
    for i in range(CALLS):
        wrapper(i)
    sensor.flush()
    assert [r["function"] for r in memory.of("unwatched")] == [f"{mod}.tiny"]
    assert leafs.tiny is original
    memory.records.clear()
    assert wrapper(1) == 2
    assert leafs.outer(1) == 2  # outer is rewritten: it reads tiny from the module
    sensor.flush()
    assert memory.calls(f"{mod}.tiny") == 0
    assert memory.calls(f"{mod}.outer") == 1
    codewitness.sensor.shutdown()
    assert leafs.tiny is original
