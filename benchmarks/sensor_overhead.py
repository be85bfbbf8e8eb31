"""Per-call cost of the runtime sensor on a tiny function, as ratios measured in one run.

Compares, in this process and on this Python:

* no instrumentation (the baseline);
* the codewitness sensor: on 3.11 the wrapping backend; on 3.12+ each of ``auto`` (the default;
  the function's module imported after ``init()``, so decorated at import), ``monitoring``
  (``sys.monitoring`` on the code object), ``wrapping``, and ``auto-before`` (``auto`` with the
  module imported before ``init()``: a function nothing else holds is swapped for a wrapper);
* each of those with the pure-Python meter (``sensor.speedups = false``; suffix ``/py``), the
  sensor's cost where its compiled meter was not built;
* an exception leaving the function (``raises``, caught by the caller), unwatched and watched by
  the default backend with the compiled meter (captures rate-limited as configured by default);
* one OpenTelemetry SDK span per call (``tracer.start_as_current_span`` with a batch processor
  and an exporter that discards), the usual way to time a function with OTel.

Run it with each interpreter::

    .venv/bin/python benchmarks/sensor_overhead.py
    .venv312/bin/python benchmarks/sensor_overhead.py

It prints nanoseconds per call (best of several repeats) and the ratios the issue asks for;
``benchmarks/by_python.py`` runs it under each Python at hand and puts the figures side by side.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import codewitness.sensor
from codewitness.config import SensorSection
from codewitness.sensor.meter import COMPILED

TINY = """
def tiny(x):
    return x + 1

async def tiny_async(x):
    return x + 1

def raises(x):
    raise ValueError(x)
"""


def per_call_ns(fn: Any, calls: int, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter_ns()
        for i in range(calls):
            fn(i)
        best = min(best, (time.perf_counter_ns() - start) / calls)
    return best


def per_raise_ns(fn: Any, calls: int, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter_ns()
        for i in range(calls):
            try:  # noqa: SIM105 - contextlib.suppress would add its own cost to every call
                fn(i)
            except ValueError:
                pass
        best = min(best, (time.perf_counter_ns() - start) / calls)
    return best


def measure_raise(folder: Path, calls: int, repeats: int) -> tuple[float, float]:
    """ns per raising call: unwatched, and watched (default backend, module imported after init)."""
    plain = per_raise_ns(load_module(folder, "cw_bench_raise_plain").raises, calls, repeats)
    name = "cw_bench_raise_watched"
    sensor = codewitness.sensor.init(
        service="bench",
        manifest=folder / "none.json",
        include=[f"{name}.raises"],
        spool_dir="",
        interval=1.0,
        settings=SensorSection(unwatch_cheap_calls=0),  # the watched cost: never unwatched here
    )
    assert sensor is not None
    watched = per_raise_ns(load_module(folder, name).raises, calls, repeats)
    errors = sum(sum(s.errors.values()) for p in sensor.probes.values() if (s := p.stats.drain()))
    codewitness.sensor.shutdown()
    assert errors > 0
    return plain, watched


def load_module(folder: Path, name: str) -> Any:
    import importlib

    (folder / f"{name}.py").write_text(textwrap.dedent(TINY))
    return importlib.import_module(name)


def measure_sensor(
    folder: Path, backend: str, calls: int, repeats: int, before: bool = False, speedups: bool = True
) -> float:
    name = f"cw_bench_{backend}_{'before' if before else 'after'}_{'c' if speedups else 'py'}"
    module = load_module(folder, name) if before else None
    sensor = codewitness.sensor.init(
        service="bench",
        manifest=folder / "none.json",
        include=[f"{name}.tiny"],
        spool_dir="",
        interval=1.0,  # the exporter thread really runs during the measurement
        backend=backend,  # type: ignore[arg-type]
        settings=SensorSection(speedups=speedups, unwatch_cheap_calls=0),
    )
    assert sensor is not None and sensor.backend.name == backend
    module = module or load_module(folder, name)
    result = per_call_ns(module.tiny, calls, repeats)
    counted = sum(p.stats.drain().calls for p in sensor.probes.values())  # type: ignore[union-attr]
    codewitness.sensor.shutdown()
    assert counted > 0
    return result


def measure_otel(folder: Path, calls: int, repeats: int) -> float | None:
    """ns per call with an OpenTelemetry span around it; ``None`` without the OpenTelemetry SDK."""
    try:
        import opentelemetry.sdk.trace  # noqa: F401 - the SDK is a test dependency, not part of any extra
    except ImportError:
        return None
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    class Discard(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(Discard()))
    tracer = provider.get_tracer("bench")
    module = load_module(folder, "cw_bench_otel")
    inner = module.tiny

    def traced(x: int) -> int:
        with tracer.start_as_current_span("tiny"):
            return int(inner(x))

    result = per_call_ns(traced, calls, repeats)
    provider.shutdown()
    return result


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="end with one JSON line of the figures (by_python.py)")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="cw-bench-"))
    sys.path.insert(0, str(folder))
    base = per_call_ns(load_module(folder, "cw_bench_base").tiny, args.calls, args.repeats)
    backends = ["auto", "monitoring", "wrapping"] if sys.version_info >= (3, 12) else ["wrapping"]
    sensor: dict[str, float] = {}
    for speedups, suffix in ((True, ""), (False, "/py")):
        for b in backends:
            sensor[b + suffix] = measure_sensor(folder, b, args.calls, args.repeats, speedups=speedups)
        if sys.version_info >= (3, 12):
            # init() called after the module was imported: auto decides per function (swap or monitor).
            sensor["auto-before" + suffix] = measure_sensor(
                folder, "auto", args.calls, args.repeats, before=True, speedups=speedups
            )
    raise_plain, raise_watched = measure_raise(folder, args.calls // 4, args.repeats)
    otel = measure_otel(folder, args.calls // 4, args.repeats)

    version = sys.version.split()[0]
    meter = "compiled meter built" if COMPILED else "compiled meter NOT built: both rows use the pure-Python one"
    print(f"Python {version}, {args.calls:,} calls x {args.repeats} repeats (best), ns per call; {meter}")
    print(f"  uninstrumented             {base:8.1f}")
    for backend, value in sensor.items():
        added = value - base
        print(f"  codewitness {backend:<14} {value:8.1f}   (+{added:.1f} ns, {value / base:.2f}x baseline)")
    print(
        f"  an exception leaving it    {raise_plain:8.1f} unwatched, {raise_watched:.1f} watched "
        f"(+{raise_watched - raise_plain:.1f} ns)"
    )
    if otel is None:
        print(
            "  OpenTelemetry span         not measured: the OpenTelemetry SDK is not installed"
            " (python -m pip install opentelemetry-sdk, or the test extra)"
        )
        return
    otel_added = otel - base
    print(f"  OpenTelemetry span         {otel:8.1f}   (+{otel_added:.1f} ns, {otel / base:.2f}x baseline)")
    for backend, value in sensor.items():
        added = value - base
        print(
            f"  => {backend}: added {added:.0f} ns/call; "
            f"an OTel span per call adds {otel_added / added:.1f}x more"
        )
    if args.json:
        rows = {"uninstrumented": base} | {f"added: {b}": v - base for b, v in sensor.items()}
        rows |= {"added: an exception leaving it": raise_watched - raise_plain, "added: an OTel span": otel_added}
        print(json.dumps({"python": version, "compiled": COMPILED, "unit": "ns per call", "rows": rows}))


if __name__ == "__main__":
    main()
