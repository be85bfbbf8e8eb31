"""Exporters against real things: a spool folder, a loopback HTTP server, the OpenTelemetry SDK."""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import re
import socket
import ssl
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.sensor.servers import RawServer, trickle

from codewitness.facts import encode_batch
from codewitness.ingest import read_spool
from codewitness.sensor.export import HttpExporter, OtelExporter, Spool


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


def test_an_empty_spool_folder_is_refused_rather_than_the_working_directory() -> None:
    with pytest.raises(ValueError, match="spool folder is empty"):
        Spool("", max_bytes=1 << 20, segment_bytes=1 << 16)


# -- one bad value costs one record, never the batch ------------------------------------------------


def test_a_lone_surrogate_costs_nothing_but_its_own_spelling(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=1 << 20, segment_bytes=1 << 20)
    spool.export([rec(1), rec(2, path="/srv/\udcff-upload.csv", **{"key\ud800": "v"}), rec(3)])
    spool.close()
    ((_path, records, bad),) = list(read_spool(tmp_path))
    assert bad == 0
    assert [r["n"] for r in records] == [1, 2, 3]
    assert records[1]["path"] == "/srv/\\udcff-upload.csv"  # readable text, valid UTF-8
    assert records[1]["key\\ud800"] == "v"
    assert spool.health() == {"spool_repaired_records": 1}


def test_a_record_json_cannot_hold_is_left_out_and_counted(tmp_path: Path) -> None:
    deep: list[Any] = []
    for _ in range(100_000):
        deep = [deep]
    circular: dict[str, Any] = {}
    circular["self"] = circular
    spool = Spool(tmp_path, max_bytes=1 << 20, segment_bytes=1 << 20)
    spool.export([rec(1), rec(2, deep=deep), rec(3, loop=circular), rec(4)])
    spool.close()
    assert [r["n"] for _, records, _ in read_spool(tmp_path) for r in records] == [1, 4]
    assert spool.health() == {"spool_unencodable_records": 2}


# Text with lone surrogates mixed in, as file names and broken decoders produce them.
ANY_TEXT = st.text(
    st.one_of(st.characters(), st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF, categories=["Cs"])),
    max_size=40,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(st.tuples(ANY_TEXT, ANY_TEXT), min_size=1, max_size=8))
def test_every_record_arrives_as_strict_utf8_json_whatever_its_text(values: list[tuple[str, str]]) -> None:
    records = [
        {"kind": "exception", "id": str(i), "message": text, "arguments": {key: text}}
        for i, (key, text) in enumerate(values)
    ]
    batch = encode_batch(records)
    lines = batch.data.split(b"\n")
    assert lines.pop() == b""
    decoded = [json.loads(line.decode("utf-8", errors="strict")) for line in lines]
    assert [r["id"] for r in decoded] == [str(i) for i in range(len(values))]

    def spelled(text: str) -> str:
        return re.sub("[\ud800-\udfff]", lambda m: f"\\u{ord(m.group()):04x}", text)

    for (key, text), record in zip(values, decoded, strict=True):
        assert record["message"] == spelled(text)
        assert record["arguments"] == {spelled(key): spelled(text)}
    broken = sum(1 for key, text in values if spelled(key + text) != key + text)
    assert (batch.repaired, batch.dropped) == (broken, 0)


# -- a full disk ------------------------------------------------------------------------------------


def _can_mount() -> bool:
    return sys.platform == "linux" and hasattr(os, "geteuid") and os.geteuid() == 0


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 256 KiB tmpfs (mounting needs root: skipped elsewhere; the RLIMIT_FSIZE test runs everywhere)."""
    if not _can_mount():
        pytest.skip("mounting a small tmpfs needs root on Linux")
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(disk)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def fill(disk: Path, leave: int = 0) -> Path:
    """Fill ``disk`` until a write fails, then free ``leave`` bytes again."""
    filler = disk / "filler"
    with filler.open("wb", buffering=0) as handle:
        with contextlib.suppress(OSError):
            while True:
                handle.write(b"\0" * 4096)
        if leave:
            os.ftruncate(handle.fileno(), max(0, handle.tell() - leave))
    return filler


def test_a_full_disk_leaves_no_empty_segments_and_the_spool_recovers(small_disk: Path) -> None:
    filler = fill(small_disk)
    spool = Spool(small_disk / "spool", max_bytes=1 << 20, segment_bytes=1 << 20)
    for i in range(5):
        spool.export([rec(i), rec(i)])
    assert list((small_disk / "spool").iterdir()) == []  # nothing written, nothing left behind
    assert spool.health() == {"spool_write_failures": 5, "spool_dropped_records": 10}
    filler.unlink()
    spool.export([rec(99)])
    spool.close()
    assert [r["n"] for _, records, _ in read_spool(small_disk / "spool") for r in records] == [99]


def test_a_batch_the_disk_cannot_hold_is_cut_back_not_torn(small_disk: Path) -> None:
    spool = Spool(small_disk / "spool", max_bytes=1 << 20, segment_bytes=1 << 20)
    spool.export([rec(1)])
    fill(small_disk, leave=8192)
    spool.export([rec(i, pad="y" * 1000) for i in range(100)])  # about 110 kB into 8 kB
    spool.export([rec(2)])
    spool.close()
    ((_path, records, bad),) = list(read_spool(small_disk / "spool"))
    assert ([r["n"] for r in records], bad) == ([1, 2], 0)
    assert spool.health() == {"spool_write_failures": 1, "spool_dropped_records": 100}


FSIZE_HOST = """
import json, resource, signal, sys
from pathlib import Path
from codewitness.ingest import read_spool
from codewitness.sensor.export import Spool

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write beyond the limit fails with EFBIG instead
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
spool = Spool("spool", max_bytes=1 << 20, segment_bytes=1 << 20)
spool.export([{"kind": "aggregate", "id": "a", "n": 1}])
spool.export([{"kind": "aggregate", "id": str(i), "n": 2, "pad": "y" * 100} for i in range(20)])
spool.export([{"kind": "aggregate", "id": "c", "n": 3}])
spool.close()
segments = [(p.stat().st_size, [r["n"] for r in records], bad) for p, records, bad in read_spool("spool")]
print(json.dumps({"segments": segments, "health": spool.health()}))
"""


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX resource limits")
@pytest.mark.parametrize("limit", [0, 200])
def test_a_file_size_limit_leaves_no_empty_or_torn_segments(tmp_path: Path, limit: int) -> None:
    (tmp_path / "host.py").write_text(FSIZE_HOST)
    out = subprocess.run(
        [sys.executable, "host.py", str(limit)], cwd=tmp_path, capture_output=True, text=True, timeout=60, check=True
    )
    result = json.loads(out.stdout)
    if limit == 0:  # nothing fits: no segment at all (before: one empty segment per batch)
        assert result == {
            "segments": [],
            "health": {"spool_write_failures": 3, "spool_dropped_records": 22},
        }
    else:  # the first batch fits; the second is cut back; the third fits again
        assert result["segments"] == [[72, [1, 3], 0]]
        assert result["health"] == {"spool_write_failures": 1, "spool_dropped_records": 20}


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


def test_http_a_batch_keeps_its_id_across_retries_and_the_next_batch_gets_another(collector: Any) -> None:
    server = collector([503])
    exporter = HttpExporter(server.url, retries=3, backoff=0.01)
    exporter.export([rec(1)])
    exporter.export([rec(2)])
    ids = [headers["X-Codewitness-Batch"] for headers, _records in server.requests]
    assert len(ids) == 3 and ids[0] == ids[1] != ids[2]
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)


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


def never_answer(conn: socket.socket, server: RawServer) -> None:
    server.closed.wait(60)


def endless_answer(conn: socket.socket, server: RawServer) -> None:
    # 32 MiB then silence, never the end (bounded, so that a client that reads it all fails the test
    # instead of exhausting the machine's memory).
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n")
    for _ in range(512):
        conn.sendall(b"x" * 65536)
        server.sent += 65536
    server.closed.wait(60)


ANSWERS = {
    "trickled status line": trickle(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n" + b" " * 300),
    "trickled body": trickle(b"HTTP/1.1 200 OK\r\nContent-Length: 300\r\n\r\n" + b"." * 300),
    "no answer": never_answer,
    "endless body": endless_answer,
}


@pytest.fixture
def raw_server() -> Iterator[Callable[..., RawServer]]:
    made: list[RawServer] = []

    def make(serve: Callable[[socket.socket, RawServer], None], tls: ssl.SSLContext | None = None) -> RawServer:
        made.append(RawServer(serve, tls))
        return made[-1]

    yield make
    for server in made:
        server.close()


@pytest.mark.parametrize("answer", list(ANSWERS))
def test_each_request_has_a_wall_clock_deadline(raw_server: Any, answer: str) -> None:
    server = raw_server(ANSWERS[answer])
    exporter = HttpExporter(server.url, timeout=1.0, retries=0)
    began = time.monotonic()
    exporter.export([rec(1)])
    took = time.monotonic() - began
    assert server.connections == 1
    if answer == "endless body":  # a 2xx status is an accepted batch; only 64 KiB of the answer are read
        assert exporter.health() == {}
        assert server.sent < 16 << 20  # what the socket buffers took, not the 32 MiB offered
    else:
        assert exporter.health() == {"http_failed_batches": 1, "http_dropped_records": 1}
    assert took < 5, f"the request lasted {took:.1f} s past its 1 s deadline"


def test_a_stopping_sensor_cuts_a_request_in_flight_short(raw_server: Any) -> None:
    server = raw_server(ANSWERS["trickled body"])
    stop = threading.Event()
    exporter = HttpExporter(server.url, timeout=60.0, retries=3, stop=stop)
    worker = threading.Thread(target=exporter.export, args=([rec(1)],))
    worker.start()
    while not server.connections:
        worker.join(0.01)
    stop.set()
    began = time.monotonic()
    worker.join(30)
    assert not worker.is_alive()
    assert time.monotonic() - began < 5  # at most STOPPING_DEADLINE (2 s) once stopping, not 60 s
    assert server.connections == 1  # and no retry


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_a_failure_and_the_token_never_leaves_its_host(
    collector: Any, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    elsewhere = collector()

    class Redirect(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(status)
            self.send_header("Location", elsewhere.url)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        exporter = HttpExporter(
            f"http://127.0.0.1:{server.server_address[1]}/", token="s3cr3t", retries=3, backoff=0.01
        )
        exporter.export([rec(1), rec(2)])
        exporter.export([rec(3)])
    finally:
        server.shutdown()
        server.server_close()
    assert elsewhere.requests == []  # nothing (and no token) went to the other host
    assert exporter.health() == {"http_redirected_batches": 2, "http_dropped_records": 3}
    assert caplog.text.count("redirects are not followed") == 1
    assert "s3cr3t" not in caplog.text


@pytest.fixture
def tls_server(raw_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., RawServer]:
    """A raw server speaking TLS with a certificate of a throwaway CA the exporter is made to trust."""
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))  # read by ssl.create_default_context()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)

    return lambda serve: raw_server(serve, context)


def answer(status: bytes) -> Callable[[socket.socket, RawServer], None]:
    def serve(conn: socket.socket, server: RawServer) -> None:
        server.received.append(status)
        conn.sendall(b"HTTP/1.1 " + status + b"\r\nContent-Length: 0\r\nLocation: https://elsewhere.example/\r\n\r\n")

    return serve


def test_https_sends_and_keeps_its_deadline_and_its_token(tls_server: Any) -> None:
    good = tls_server(answer(b"202 Accepted"))
    exporter = HttpExporter(good.url, token="s3cr3t", timeout=1.0, retries=0)
    exporter.export([rec(1)])
    assert good.received == [b"202 Accepted"] and exporter.health() == {}

    slow = tls_server(ANSWERS["trickled body"])
    began = time.monotonic()
    exporter = HttpExporter(slow.url, timeout=1.0, retries=0)
    exporter.export([rec(1)])
    assert time.monotonic() - began < 5
    assert exporter.health() == {"http_failed_batches": 1, "http_dropped_records": 1}

    moved = tls_server(answer(b"308 Permanent Redirect"))
    exporter = HttpExporter(moved.url, token="s3cr3t", retries=2, backoff=0.01)
    exporter.export([rec(1)])
    assert moved.received == [b"308 Permanent Redirect"]  # once: not retried, not followed
    assert exporter.health() == {"http_redirected_batches": 1, "http_dropped_records": 1}


def trickled_handshake(conn: socket.socket, server: RawServer) -> None:
    conn.recv(65536)  # the client's hello; the answer is a TLS record announcing 16 KiB, sent a byte at a time
    trickle(b"\x16\x03\x03\x40\x00" + b"\x02" + b"\x00" * 16383)(conn, server)


def test_the_tls_handshake_is_under_the_deadline_too(raw_server: Any) -> None:
    # The deadline's watchdog begins watching the socket once TLS is up; before that, the handshake
    # is bounded by the socket timeout, which CPython's ssl module applies to the whole handshake,
    # not to each read: a trickled one (16 KiB at 0.2 s a byte, nearly an hour) ends at 1 s.
    server = RawServer(trickled_handshake, reads_request=False)
    try:
        exporter = HttpExporter(server.url, timeout=1.0, retries=0)
        worker = threading.Thread(target=exporter.export, args=([rec(1)],), daemon=True)
        began = time.monotonic()
        worker.start()
        worker.join(15)
        assert not worker.is_alive(), "the handshake outlived the 1 s deadline by 14 s"
        assert time.monotonic() - began < 5
        assert exporter.health() == {"http_failed_batches": 1, "http_dropped_records": 1}
    finally:
        server.close()


# -- OpenTelemetry -----------------------------------------------------------------------------


def test_otel_metrics_and_spans_carry_code_and_origin_attributes() -> None:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from codewitness.facts import Histogram

    reader = InMemoryMetricReader()
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    exporter = OtelExporter(meter_provider=MeterProvider(metric_readers=[reader]), tracer_provider=tracer_provider)
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
    quantiles = {p.attributes["codewitness.quantile"]: p.value for p in points["codewitness.function.duration"]}
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
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path, check=True)
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
