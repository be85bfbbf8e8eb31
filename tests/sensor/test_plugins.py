"""The plug-in interface: plug-ins register with the sensor, which never looks one up.

A plug-in's checks see every successful call of the functions its pattern names, its collector's
records join each batch with the source fields added, its events reach the exporters with the
function's origin, and its teardown runs at shutdown. One whose setup fails costs only itself.
Decorator breaches reach a sensor only through the invariants plug-in: a sensor started without
it sends none (before the plug-in interface, the invariants found the sensor in ``sys.modules``).
"""

from __future__ import annotations

import importlib
import uuid
from collections.abc import Mapping
from typing import Any

import pytest

import codewitness
import codewitness.sensor
from codewitness.facts import Kind
from codewitness.invariants import InvariantsPlugin, stats
from codewitness.sensor.plugins import NO_REPORTER, Host


class Recorder:
    """A plug-in that counts the calls it is shown and reports the first one as an event."""

    name = "recorder"

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self.seen: list[tuple[str, dict[str, Any], Any]] = []
        self.factory_calls: list[tuple[str, tuple[str, ...] | None]] = []
        self.torn_down: list[Host] = []
        self.host: Host | None = None

    def setup(self, host: Host) -> None:
        self.host = host
        host.add_check_factory(self.pattern, self.make)
        host.add_collector(self.drain)

    def teardown(self, host: Host) -> None:
        self.torn_down.append(host)

    def make(self, function: str, parameters: tuple[str, ...] | None) -> Any:
        self.factory_calls.append((function, parameters))

        def check(arguments: Mapping[str, Any], result: Any) -> None:
            self.seen.append((function, dict(arguments), result))
            if len(self.seen) == 1 and self.host is not None:
                record = {"kind": Kind.REVIEW, "id": uuid.uuid4().hex, "time": "2026-11-01T12:00:00+00:00"}
                self.host.report_event(function, {**record, "function": function, "rule": "first call"})

        return check

    def drain(self) -> list[dict[str, Any]]:
        calls = len(self.seen)
        return [{"kind": "recorder", "id": uuid.uuid4().hex, "calls": calls}] if calls else []


class Broken:
    name = "broken"

    def setup(self, host: Host) -> None:
        raise RuntimeError("the plug-in's own bug")

    def teardown(self, host: Host) -> None:
        raise AssertionError("never set up, never torn down")


def test_a_plugin_sees_calls_adds_records_and_reports_events(app: Any, memory: Any, start: Any, backend: str) -> None:
    recorder = Recorder(f"{app.module}.Cart.*")
    sensor = start(app, memory, backend, plugins=[Broken(), recorder])
    svc = importlib.import_module(app.module)
    cart = svc.Cart("ann")
    assert cart.add_item("sku-1", qty=2) == 1
    assert svc.add(1, 2) == 3  # not matched by the pattern
    assert recorder.seen == [(f"{app.module}.Cart.add_item", {"self": cart, "sku": "sku-1", "qty": 2}, 1)]
    assert (f"{app.module}.Cart.add_item", ("self", "sku", "qty")) in recorder.factory_calls
    sensor.flush()
    (extra,) = memory.of("recorder")
    assert extra["calls"] == 1 and extra["service"] == "test-app" and extra["pid"] == sensor.pid
    (event,) = memory.of("review")
    assert event["rule"] == "first call" and event["origin"] == "ai"
    assert event["generation_ids"] == ["gen_00000000000000000001"]
    (health,) = memory.of("sensor")
    assert health["internal_errors"] == {"plugin.broken": 1}  # counted, and the others carried on
    assert sensor.plugins[0].name == "flow" and sensor.plugins[1:] == [recorder]  # flows first, by default
    codewitness.sensor.shutdown()
    assert recorder.torn_down == [sensor]


def test_decorator_breaches_reach_a_sensor_only_through_the_invariants_plugin(
    app: Any, memory: Any, start: Any
) -> None:
    module = app.write(
        "refunds",
        """
        import codewitness

        @codewitness.ensure(lambda result, paid: result <= paid, name="refund_within_paid", mode="record")
        def refund(amount, paid):
            return amount
        """,
    )
    refunds = importlib.import_module(module)
    (state,) = [s for s in stats() if s.rule.function == f"{module}.refund"]

    sensor = start(app, memory, "wrapping")  # no plug-ins: the sensor knows nothing of invariants
    assert refunds.refund(150, 100) == 150
    sensor.flush()
    assert memory.of("breach") == []
    assert state.counts[1] == 1 and "service" not in state.recent[-1]  # kept in-process only

    sensor = start(app, memory, "wrapping", plugins=[InvariantsPlugin()])
    assert refunds.refund(120, 100) == 120
    sensor.flush()
    (breach,) = memory.of("breach")
    assert breach["rule"] == "refund_within_paid" and breach["arguments"] == {"amount": 120, "paid": 100}
    assert breach["service"] == "test-app" and breach["origin"] == "human"  # not in the manifest
    assert state.recent[-1] is breach
    (counts,) = [r for r in memory.of("invariant") if r["function"] == f"{module}.refund"]
    assert (counts["passed"], counts["breached"]) == (0, 2)

    codewitness.sensor.shutdown()
    memory.records.clear()
    assert refunds.refund(130, 100) == 130
    assert memory.records == [] and "service" not in state.recent[-1]


def test_without_a_sensor_a_plugin_reports_to_nothing_but_still_redacts() -> None:
    record = {"kind": "breach", "arguments": NO_REPORTER.redactor.snapshot_arguments({"password": "hunter2"})}
    assert NO_REPORTER.report_event("shop.f", record) is record
    assert record["arguments"] == {"password": "[REDACTED]"}
    NO_REPORTER.internal_error("anywhere")  # counts nothing, raises nothing


def test_codewitness_init_sets_up_invariants_and_review(app: Any, memory: Any, backend: str) -> None:
    sensor = codewitness.init(
        service="shop", manifest=app.manifest(), spool_dir="", endpoint="", otel=False, interval=3600,
        exporters=[memory], backend=backend,  # type: ignore[arg-type]
    )  # fmt: skip
    assert isinstance(sensor, codewitness.Sensor)
    assert [plugin.name for plugin in sensor.plugins] == ["flow", "invariants", "review"]
    importlib.import_module(app.module).add(1, 2)
    assert codewitness.flush() >= 1
    assert memory.calls(f"{app.module}.add") == 1
    codewitness.shutdown()
    assert sensor.closed and codewitness.sensor.active() is None
    assert codewitness.flush() == 0


@pytest.mark.parametrize("error", [KeyboardInterrupt, SystemExit])
def test_a_check_that_is_interrupted_lets_the_interrupt_through(
    app: Any, memory: Any, start: Any, error: type[BaseException]
) -> None:
    class Interrupting(Recorder):
        def make(self, function: str, parameters: tuple[str, ...] | None) -> Any:
            def check(arguments: Mapping[str, Any], result: Any) -> None:
                raise error()

            return check

    sensor = start(app, memory, "wrapping", plugins=[Interrupting(f"{app.module}.add")])
    svc = importlib.import_module(app.module)
    with pytest.raises(error):
        svc.add(1, 2)
    assert not sensor.internal_errors
