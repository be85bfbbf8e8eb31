"""No secret leaves the process: the corpus through every capture path, into every place it can go.

Each secret of ``secret_corpus`` is handed to a watched function of a real application module in
five ways -- as the argument of a call that raises (``argument``), formatted into the exception's
message (``message``), as the exception's own argument (``exception_args``), as the argument and
result of a sampled call (``sample``), and as the input and output of a broken invariant
(``breach``) -- with the sensor exporting to a spool folder, to OpenTelemetry (the real SDK, in
memory) and to memory. The spool is then ingested into a SQLite store and read back with
``codewitness runtime --json``. Every place is searched for every secret (and for any 12
characters of it): 0 leaked. Each place must also hold the records of every call, so a secret
that is "not leaked" because its record is missing would fail the test too.
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from secret_corpus import Secret, corpus, leaks

import codewitness.sensor
from codewitness.cli import main
from codewitness.config import SensorSection
from codewitness.model import Manifest

App = MemoryExporter = Any  # fixtures from conftest.py

PATHS = ("argument", "message", "exception_args", "sample", "breach")

#: Where each path's records can be read (OpenTelemetry exports exceptions and samples as spans;
#: ``runtime`` shows exceptions and breaches).
SINKS: dict[str, tuple[str, ...]] = {
    "records": PATHS,
    "spool": PATHS,
    "otel": ("argument", "message", "exception_args", "sample"),
    "store": PATHS,
    "runtime --json": ("argument", "message", "exception_args", "breach"),
}

FUNCTIONS = """
@codewitness.ensure(lambda result: result is None, name="breach_{i}", mode="record")
def breach_{i}({param}):
    return {param}


def argument_{i}({param}):
    raise AppError("could not process the request")


def message_{i}({param}):
    raise AppError(f"could not process {{{param}}}")


def exception_args_{i}({param}):
    raise AppError({param})


def sample_{i}({param}):
    return {param}
"""


def _module_source(items: list[Secret]) -> str:
    head = "import codewitness\n\n\nclass AppError(Exception):\n    pass\n"
    return head + "".join(FUNCTIONS.format(i=i, param=s.param) for i, s in enumerate(items))


def _otel() -> tuple[Any, Any]:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from codewitness.sensor.export import OtelExporter

    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    exporter = OtelExporter(
        meter_provider=MeterProvider(metric_readers=[InMemoryMetricReader()]), tracer_provider=tracer_provider
    )
    return exporter, spans


def _by_function(pairs: list[tuple[str, str]]) -> dict[str, str]:
    grouped: dict[str, list[str]] = defaultdict(list)
    for function, text in pairs:
        grouped[function].append(text)
    return {function: "\n".join(texts) for function, texts in grouped.items()}


def _store_text(db: Path) -> tuple[dict[str, str], str]:
    """Every row of every table, as text, by function (and all of it)."""
    pairs: list[tuple[str, str]] = []
    everything: list[str] = []
    with sqlite3.connect(db) as conn:
        tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            cursor = conn.execute(f'SELECT * FROM "{table}"')
            columns = [c[0] for c in cursor.description]
            for row in cursor:
                text = " | ".join(str(v) for v in row)
                everything.append(text)
                if "function" in columns:
                    pairs.append((str(row[columns.index("function")]), text))
    return _by_function(pairs), "\n".join(everything)


def test_no_secret_of_the_corpus_leaves_the_process(
    app: App,
    memory: MemoryExporter,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    items = corpus()
    assert len(items) >= 100
    module = app.write("secretsvc", _module_source(items))
    spool = tmp_path / "spool"
    otel, spans = _otel()
    sensor = codewitness.sensor.init(
        service="secrets",
        manifest=Manifest(revision="r1", functions=()),
        include=[f"{module}.*"],
        spool_dir=str(spool),
        endpoint="",
        otel=False,
        interval=3600,
        exporters=[memory, otel],
        settings=SensorSection(
            exceptions_per_interval=100_000, sample_rate=1.0, samples_per_interval=100_000, queue_size=1_000_000
        ),
    )
    assert sensor is not None
    import importlib

    svc = importlib.import_module(module)
    for i, item in enumerate(items):
        for path in PATHS:
            function = getattr(svc, f"{path}_{i}")
            try:
                function(**{item.param: item.value})
            except svc.AppError:
                assert path in ("argument", "message", "exception_args")
    codewitness.sensor.shutdown()

    sinks: dict[str, dict[str, str]] = {}
    everything: dict[str, str] = {}
    sinks["records"] = _by_function([(r.get("function", ""), json.dumps(r, default=str)) for r in memory.records])
    raw = [
        (line, json.loads(line)) for f in sorted(spool.glob("*.jsonl")) for line in f.read_text("utf-8").splitlines()
    ]
    sinks["spool"] = _by_function([(record.get("function", ""), line) for line, record in raw])
    everything["spool"] = "\n".join(f.read_text("utf-8") for f in spool.glob("*"))
    span_pairs = []
    for span in spans.get_finished_spans():
        texts = [span.name, json.dumps(dict(span.attributes or {}), default=str)]
        texts += [json.dumps(dict(event.attributes or {}), default=str) for event in span.events]
        span_pairs.append((str((span.attributes or {}).get("code.function.name", "")), "\n".join(texts)))
    sinks["otel"] = _by_function(span_pairs)

    db = tmp_path / "witness.db"
    monkeypatch.setenv("CODEWITNESS_DB", f"sqlite:///{db}")
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    assert main(["ingest", "--spool", str(spool), "--json"]) == 0
    ingested = json.loads(capsys.readouterr().out)
    assert ingested["bad"] == 0
    sinks["store"], everything["store"] = _store_text(db)
    assert main(["runtime", "--json"]) == 0
    out = capsys.readouterr().out
    everything["runtime --json"] = out
    sinks["runtime --json"] = _by_function([(s["function"], json.dumps(s)) for s in json.loads(out)])
    everything["records"] = "\n".join(sinks["records"].values())
    everything["otel"] = "\n".join(sinks["otel"].values())

    figures: dict[tuple[str, str], list[int]] = {}
    leaked: list[str] = []
    for sink, paths in SINKS.items():
        for path in paths:
            tried = bad = 0
            for i, item in enumerate(items):
                text = sinks[sink].get(f"{module}.{path}_{i}")
                assert text, f"{sink} has no record of {path} for {item.label}"
                tried += 1
                found = leaks(item, text)
                if found:
                    bad += 1
                    leaked.append(f"{sink} / {path} / {item.label}: {found[:2]}")
            figures[(sink, path)] = [tried, bad]
    for sink, text in everything.items():  # and nowhere else (a health record, another function's record)
        for item in items:
            found = leaks(item, text)
            if found:
                leaked.append(f"{sink} (anywhere) / {item.label}: {found[:2]}")
    table = "\n".join(f"  {sink:<15} {path:<15} {t:4d} tried {b:4d} leaked" for (sink, path), (t, b) in figures.items())
    print(f"\n{len(items)} secrets ({len({s.family for s in items})} kinds) through every path:\n{table}")
    assert not leaked, f"{len(leaked)} leaks:\n" + "\n".join(leaked[:40]) + f"\n{table}"
