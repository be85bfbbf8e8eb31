"""One guard for the sensor's own errors: an ``Exception`` of ours is counted and logged, never
raised into the host; the host's ``BaseException`` and an ``InvariantViolation`` pass through.

And on a running sensor: a collector, an exporter and a backend that fail cost only themselves,
counted by place in the next ``sensor`` record, while the application's calls return as before.
"""

from __future__ import annotations

import importlib
import logging
from collections import Counter
from typing import Any

import pytest

from codewitness.errors import InvariantViolation
from codewitness.sensor._guard import guard


class Counts:
    def __init__(self) -> None:
        self.errors: Counter[str] = Counter()

    def internal_error(self, where: str) -> None:
        self.errors[where] += 1
        logging.getLogger("codewitness.sensor").debug("codewitness sensor error in %s", where, exc_info=True)


def test_an_error_of_ours_is_counted_and_logged_with_its_traceback(caplog: pytest.LogCaptureFixture) -> None:
    counts = Counts()
    guarded = guard(counts, "collector")
    after = []
    with caplog.at_level(logging.DEBUG, logger="codewitness.sensor"):
        for _ in range(2):  # one guard, entered again
            with guarded:
                raise ValueError("ours")
            after.append("carried on")
    assert after == ["carried on", "carried on"]
    assert counts.errors == {"collector": 2}
    assert [r.exc_info[0] for r in caplog.records if r.exc_info] == [ValueError, ValueError]


@pytest.mark.parametrize("error", [KeyboardInterrupt, SystemExit, GeneratorExit, InvariantViolation])
def test_what_is_not_ours_passes_through_uncounted(error: type[BaseException]) -> None:
    counts = Counts()
    with pytest.raises(error), guard(counts, "check"):
        raise error("the host's")
    assert counts.errors == {}


def test_nothing_raised_nothing_counted() -> None:
    counts = Counts()
    with guard(counts, "loop"):
        pass
    assert counts.errors == {}


class FailingExporter:
    def export(self, records: list[dict[str, Any]]) -> None:
        raise OSError("disk on fire")

    def close(self) -> None:
        raise RuntimeError("cannot close")

    def after_fork(self) -> None:
        pass

    def health(self) -> dict[str, int]:
        return {}


def test_failures_of_our_parts_cost_only_themselves(app: Any, memory: Any, start: Any, backend: str) -> None:
    sensor = start(app, memory, backend)
    sensor.exporters.insert(0, FailingExporter())

    def collector() -> list[dict[str, Any]]:
        raise KeyError("collector bug")

    def settle() -> None:
        raise RuntimeError("backend bug")

    sensor.add_collector(collector)
    sensor.backend.settle = settle
    svc = importlib.import_module(app.module)
    assert svc.add(2, 3) == 5
    assert sensor.flush() >= 1  # the failing exporter did not stop the memory one
    assert memory.calls(f"{app.module}.add") == 1
    assert svc.add(2, 3) == 5
    sensor.flush()
    health = memory.of("sensor")[-1]["internal_errors"]
    assert health == {"collector": 1, "export.FailingExporter": 1}
    sensor.instrument_loaded()  # the backend's settle fails: counted in the last batch
    sensor.shutdown()  # exporting the last batch and closing fail once more: counted, never raised
    assert memory.of("sensor")[-1]["internal_errors"] == {"collector": 1, "settle": 1, "export.FailingExporter": 1}
    assert sensor.internal_errors == {"export.FailingExporter": 1, "close": 1}  # the last batch, after it
    assert memory.closed
