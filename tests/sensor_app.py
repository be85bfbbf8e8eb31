"""Fixtures for tests of the runtime sensor and its plug-ins: a fresh application package per test,
every backend, a memory exporter, and ``start`` for a sensor exporting only to it.

Each test gets its own uniquely named package written to a temp folder, so what one test
imports or instruments never leaks into another. The ``conftest.py`` of ``tests/sensor``,
``tests/invariants`` and ``tests/behavior`` make the fixtures theirs.
"""

from __future__ import annotations

import dataclasses
import sys
import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import codewitness.sensor
from codewitness.config import SensorSection
from codewitness.model import Manifest, ManifestFunction
from codewitness.sensor import Sensor
from codewitness.sensor.snapshot import Redactor

#: ``monitoring/py``: the monitoring backend with the pure-Python meter, so with the Python
#: callbacks (the compiled meter brings compiled ones).
BACKENDS = ["wrapping", "monitoring", "monitoring/py", "auto"] if sys.version_info >= (3, 12) else ["wrapping"]

#: An application module with every kind of function the sensor must handle.
APP_SOURCE = """
import asyncio


SECRET_HEADER = "Authorization"


def add(a, b):
    return a + b


def divide(a, b, password=None):
    return a / b


def countdown(n):
    while n > 0:
        yield n
        n -= 1
    return "done"


async def fetch(x, delay=0):
    await asyncio.sleep(delay)
    if x < 0:
        raise ValueError(f"negative {x}")
    return x * 2


async def stream(n):
    for i in range(n):
        await asyncio.sleep(0)
        yield i


class Cart:
    def __init__(self, owner):
        self.owner = owner
        self.items = []

    def add_item(self, sku, qty=1):
        if qty <= 0:
            raise ValueError("qty must be positive")
        self.items.append((sku, qty))
        return len(self.items)

    @staticmethod
    def tax(amount):
        return round(amount * 0.2, 2)

    @classmethod
    def empty(cls, owner):
        return cls(owner)

    def total(self):
        def line(item):
            return item[1] * 2
        return sum(line(item) for item in self.items)


def human_helper(x):
    return x - 1
"""

AI_FUNCTIONS = (
    "add",
    "divide",
    "countdown",
    "fetch",
    "stream",
    "Cart.add_item",
    "Cart.tax",
    "Cart.empty",
    "Cart.total",
    "Cart.total.<locals>.line",
)


def redactor(**settings: Any) -> Redactor:
    """A :class:`Redactor` for tests of what a capture keeps: its time limit (5 ms by default) set out
    of reach of the pauses of a test process -- a full garbage collection of the suite's heap took
    up to 680 ms here, a loaded machine takes the core away -- which otherwise cut a capture short
    ("...[capture time limit]") in whichever test ran then. The limit has tests of its own."""
    settings.setdefault("time_budget_ms", 60_000.0)
    return Redactor(**settings)


@dataclass
class MemoryExporter:
    """Keeps every exported record (an exporter the tests can read)."""

    records: list[dict[str, Any]] = field(default_factory=list)
    closed: bool = False

    def export(self, records: list[dict[str, Any]]) -> None:
        self.records.extend(records)

    def close(self) -> None:
        self.closed = True

    def after_fork(self) -> None:
        self.records = []

    def health(self) -> dict[str, int]:
        return {}

    def of(self, kind: str, function: str | None = None) -> list[dict[str, Any]]:
        return [
            r
            for r in self.records
            if r["kind"] == kind and (function is None or r.get("function") == function)
        ]

    def calls(self, function: str) -> int:
        return sum(r["calls"] for r in self.of("aggregate", function))


@dataclass
class App:
    """A freshly written application package: ``name`` is importable, ``module`` its main module name."""

    name: str
    root: Path

    @property
    def module(self) -> str:
        return f"{self.name}.svc"

    def manifest(self, qualnames: tuple[str, ...] = AI_FUNCTIONS, revision: str = "r1") -> Manifest:
        return Manifest(
            revision=revision,
            functions=tuple(
                ManifestFunction(
                    module=self.module,
                    qualname=q,
                    path=f"{self.name}/svc.py",
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

    def write(self, module: str, source: str) -> str:
        (self.root / self.name / f"{module}.py").write_text(textwrap.dedent(source))
        return f"{self.name}.{module}"


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    name = f"cwapp_{uuid.uuid4().hex[:10]}"
    package = tmp_path / "src" / name
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "svc.py").write_text(APP_SOURCE)
    sys.path.insert(0, str(tmp_path / "src"))
    try:
        yield App(name, tmp_path / "src")
    finally:
        codewitness.sensor.shutdown()
        sys.path.remove(str(tmp_path / "src"))
        for mod in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
            del sys.modules[mod]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def memory() -> MemoryExporter:
    return MemoryExporter()


def _start(
    app: App,
    memory: MemoryExporter,
    backend: str,
    *,
    manifest: Manifest | None = None,
    settings: SensorSection | None = None,
    **kwargs: Any,
) -> Sensor:
    settings = settings or SensorSection()
    if backend.endswith("/py"):
        backend, settings = backend.removesuffix("/py"), dataclasses.replace(settings, speedups=False)
    sensor = codewitness.sensor.init(
        service="test-app",
        manifest=manifest if manifest is not None else app.manifest(),
        spool_dir="",
        endpoint="",
        otel=False,
        interval=3600,
        exporters=[memory],
        backend=backend,  # type: ignore[arg-type]
        settings=settings,
        **kwargs,
    )
    assert sensor is not None
    return sensor


@pytest.fixture
def start() -> Any:
    """``start(app, memory, backend, **init_kwargs)``: a sensor exporting only to ``memory``.

    It flushes only when told.
    """
    return _start
