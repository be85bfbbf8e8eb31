"""Exporters against real things: a spool folder, a loopback HTTP server, the OpenTelemetry SDK."""

from __future__ import annotations

import gzip
import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from codewitness.sensor.export import HttpExporter, OtelExporter, Spool, read_spool


def rec(i: int = 0, **extra: Any) -> dict[str, Any]:
    return {"kind": "aggregate", "id": uuid.uuid4().hex, "n": i, "pad": "x" * 100, **extra}


# -- spool -----------------------------------------------------------------------------------


def test_spool_appends_and_reads_back(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool", max_bytes=1 << 20, segment_bytes=1 << 20)
    spool.export([rec(1), rec(2)])
    spool.export([rec(3)])
    spool.close()
    segments = list(read_spool(tmp_path / "spool"))
    assert len(segments) == 1
    assert [r["n"] for r in segments[0][1]] == [1, 2, 3]
    assert spool.health() == {}


def test_spool_rotates_and_stays_within_its_bound(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=8192, segment_bytes=1024)
    for i in range(200):
        spool.export([rec(i)])
    spool.close()
    sizes = [p.stat().st_size for p in tmp_path.glob("seg-*.jsonl")]
    assert len(sizes) > 1
    assert sum(sizes) <= 8192 + 1024
    kept = [r["n"] for _, records, _ in read_spool(tmp_path) for r in records]
    assert kept == sorted(kept) and kept[-1] == 199  # the newest survive, in order
    health = spool.health()
    assert health["spool_dropped_records"] == 200 - len(kept)
    assert health["spool_deleted_segments"] >= 1


def test_spool_write_failure_is_counted_not_raised(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the spool folder should be")
    spool = Spool(blocker, max_bytes=1 << 20, segment_bytes=1 << 16)
    spool.export([rec(1), rec(2)])
    assert spool.health() == {"spool_write_failures": 1, "spool_dropped_records": 2}


def test_reading_a_spool_skips_torn_and_foreign_lines(tmp_path: Path) -> None:
    good = json.dumps(rec(1))
    (tmp_path / "seg-00000000000000000001-1.jsonl").write_text(
        good + "\n" + "[1, 2]\n" + '{"kind": "aggregate"}\n' + '{"kind": "aggregate", "id": "tor'
    )
    ((_path, records, bad),) = list(read_spool(tmp_path))
    assert [r["n"] for r in records] == [1]
    assert bad == 3


def test_a_child_after_fork_writes_its_own_segment(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=1 << 20, segment_bytes=1 << 20)
    spool.export([rec(1)])
    spool.after_fork()
    spool.export([rec(2)])
    spool.close()
    assert len(list(tmp_path.glob("seg-*.jsonl"))) == 2


# -- HTTP ------------------------------------------------------------------------------------


class Collector:
    """A loopback HTTP server that answers with scripted statuses and keeps what it received."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.requests: list[tuple[dict[str, str], list[dict[str, Any]]]] = []
        self.release = threading.Event()
        self.release.set()
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                collector.release.wait(10)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                lines = gzip.decompress(body).decode().splitlines()
                collector.requests.append((dict(self.headers), [json.loads(line) for line in lines]))
                status = collector.statuses.pop(0) if collector.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/v1/runtime"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def collector() -> Iterator[Any]:
    made: list[Collector] = []

    def make(statuses: list[int] | None = None) -> Collector:
        c = Collector(list(statuses or []))
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


def test_http_sends_gzip_json_lines_with_the_token(collector: Any) -> None:
    server = collector()
    exporter = HttpExporter(server.url, token="s3cr3t", backoff=0.01)
    exporter.export([rec(1), rec(2)])
    ((headers, records),) = server.requests
    assert headers["Authorization"] == "Bearer s3cr3t"
    assert headers["Content-Encoding"] == "gzip"
    assert headers["Content-Type"] == "application/x-ndjson"
    assert [r["n"] for r in records] == [1, 2]
    assert exporter.health() == {}


def test_http_retries_with_backoff_then_succeeds(collector: Any) -> None:
    server = collector([503, 429])
    exporter = HttpExporter(server.url, retries=3, backoff=0.01)
    exporter.export([rec(7)])
    assert len(server.requests) == 3
    assert exporter.health() == {"http_retries": 2}


def test_http_gives_up_after_the_last_retry_and_counts_the_drop(collector: Any) -> None:
    server = collector([500, 500, 500])
    exporter = HttpExporter(server.url, retries=2, backoff=0.01)
    exporter.export([rec(1), rec(2)])
    assert len(server.requests) == 3
    assert exporter.health() == {"http_retries": 2, "http_failed_batches": 1, "http_dropped_records": 2}


def test_http_does_not_retry_a_rejected_batch(collector: Any) -> None:
    server = collector([401])
    exporter = HttpExporter(server.url, retries=3, backoff=0.01)
    exporter.export([rec(1)])
    assert len(server.requests) == 1
    assert exporter.health() == {"http_rejected_batches": 1, "http_dropped_records": 1}


def test_http_to_a_dead_server_is_counted(collector: Any) -> None:
    server = collector()
    url = server.url
    server.close()
    exporter = HttpExporter(url, retries=1, backoff=0.01, timeout=1)
    exporter.export([rec(1)])
    assert exporter.health() == {"http_retries": 1, "http_failed_batches": 1, "http_dropped_records": 1}


def test_http_stops_waiting_when_the_sensor_stops(collector: Any) -> None:
    server = collector([503] * 10)
    stop = threading.Event()
    exporter = HttpExporter(server.url, retries=5, backoff=30, stop=stop)
    worker = threading.Thread(target=exporter.export, args=([rec(1)],))
    worker.start()
    while not server.requests:
        worker.join(0.01)
    stop.set()
    worker.join(5)
    assert not worker.is_alive()
    assert len(server.requests) == 1


def test_http_endpoint_must_be_http() -> None:
    with pytest.raises(ValueError, match="http"):
        HttpExporter("file:///etc/passwd")


# -- OpenTelemetry -----------------------------------------------------------------------------


def test_otel_metrics_and_spans_carry_code_and_origin_attributes() -> None:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from codewitness.sensor.aggregate import Histogram

    reader = InMemoryMetricReader()
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    exporter = OtelExporter(
        meter_provider=MeterProvider(metric_readers=[reader]), tracer_provider=tracer_provider
    )
    hist = Histogram()
    for ns in (1_000_000, 2_000_000, 3_000_000):
        hist.record(ns)
    common = {
        "function": "shop.pricing.quote",
        "origin": "ai",
        "service": "shop",
        "path": "shop/pricing.py",
        "line": 12,
        "generation_ids": ["gen_1"],
        "models": ["claude-sonnet-4-5"],
    }
    exporter.export(
        [
            {
                "kind": "aggregate",
                "id": "a",
                "calls": 3,
                "errors": {"ValueError": 1},
                "histogram": hist.to_json(),
                **common,
            },
            {
                "kind": "exception",
                "id": "e",
                "type": "ValueError",
                "message": "bad sku",
                "stack": [{"file": "shop/pricing.py", "line": 14, "function": "quote"}],
                "arguments": {"sku": "x"},
                **common,
            },
            {"kind": "aggregate", "id": "broken", **common},
        ]
    )
    data = reader.get_metrics_data()
    points: dict[str, list[Any]] = {}
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                points[metric.name] = list(metric.data.data_points)
    (calls,) = points["codewitness.function.calls"]
    assert calls.value == 3
    assert calls.attributes["code.function.name"] == "shop.pricing.quote"
    assert calls.attributes["codewitness.origin"] == "ai"
    assert calls.attributes["gen_ai.request.model"] == "claude-sonnet-4-5"
    assert calls.attributes["code.file.path"] == "shop/pricing.py"
    (errors,) = points["codewitness.function.errors"]
    assert errors.value == 1 and errors.attributes["exception.type"] == "ValueError"
    quantiles = {
        p.attributes["codewitness.quantile"]: p.value for p in points["codewitness.function.duration"]
    }
    assert quantiles[0.5] == pytest.approx(0.002, rel=0.02)
    (span,) = spans.get_finished_spans()
    assert span.name == "exception shop.pricing.quote"
    assert span.status.status_code.name == "ERROR"
    assert span.attributes["codewitness.generation.id"] == ("gen_1",)
    assert span.events[0].attributes["exception.message"] == "bad sku"
    assert exporter.health() == {"otel_bad_records": 1}


def test_otel_joins_the_hosts_global_providers(tmp_path: Path) -> None:
    import subprocess
    import sys

    script = tmp_path / "host.py"
    script.write_text(
        """
import codewitness.sensor
from opentelemetry import metrics
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

reader = InMemoryMetricReader()
metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))  # the host's own provider

def work(x):
    return x + 1

from codewitness.config import SensorSection
sensor = codewitness.sensor.init(
    service="host", include=["__main__.work"], spool_dir="", otel=True, interval=3600,
    settings=SensorSection(), manifest="missing.json",
)
for i in range(5):
    work(i)
sensor.flush()
data = reader.get_metrics_data()
names = {m.name: m for r in data.resource_metrics for s in r.scope_metrics for m in s.metrics}
print(list(names["codewitness.function.calls"].data.data_points)[0].value)
"""
    )
    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path, check=True
    )
    assert out.stdout.strip() == "5"


def test_init_sends_batches_to_the_configured_endpoint(collector: Any, tmp_path: Path) -> None:
    import codewitness.sensor
    from codewitness.config import SensorSection

    server = collector()
    module = tmp_path / "httpapp.py"
    module.write_text("def work(x):\n    return -x\n")
    import sys

    sys.path.insert(0, str(tmp_path))
    try:
        sensor = codewitness.sensor.init(
            manifest=tmp_path / "none.json",
            include=["httpapp.work"],
            spool_dir="",
            endpoint=server.url,
            token="t0ken",
            interval=3600,
            settings=SensorSection(),
        )
        assert sensor is not None
        import httpapp

        assert httpapp.work(3) == -3
        codewitness.sensor.shutdown()  # the last interval is sent at shutdown
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("httpapp", None)
    ((headers, records),) = server.requests
    assert headers["Authorization"] == "Bearer t0ken"
    (agg,) = [r for r in records if r["kind"] == "aggregate"]
    assert agg["function"] == "httpapp.work" and agg["calls"] == 1
