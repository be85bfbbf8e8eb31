"""Runtime telemetry names the code's revision and repository with OpenTelemetry's ``vcs.*`` attributes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from codewitness.model import Manifest, ManifestFunction
from codewitness.sensor.export import OtelExporter


def test_points_carry_vcs_revision_and_repository_beside_ours() -> None:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider

    from codewitness.facts import Histogram

    reader = InMemoryMetricReader()
    exporter = OtelExporter(
        meter_provider=MeterProvider(metric_readers=[reader]),
        tracer_provider=TracerProvider(),
        repository="https://example.com/shop.git",
    )
    hist = Histogram()
    hist.record(1_000_000)
    exporter.export(
        [
            {
                "kind": "aggregate",
                "id": "a",
                "function": "shop.total",
                "origin": "ai",
                "service": "shop",
                "revision": "9" * 40,
                "calls": 1,
                "errors": {},
                "histogram": hist.to_json(),
            }
        ]
    )
    data = reader.get_metrics_data()
    (calls,) = next(
        m.data.data_points
        for r in data.resource_metrics
        for s in r.scope_metrics
        for m in s.metrics
        if m.name == "codewitness.function.calls"
    )
    assert calls.attributes["codewitness.revision"] == "9" * 40
    assert calls.attributes["vcs.ref.head.revision"] == "9" * 40
    assert calls.attributes["vcs.repository.url.full"] == "https://example.com/shop.git"


def test_without_a_known_repository_no_url_is_made_up() -> None:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider

    exporter = OtelExporter(
        meter_provider=MeterProvider(metric_readers=[InMemoryMetricReader()]), tracer_provider=TracerProvider()
    )
    attributes = exporter._attributes({"function": "f", "revision": "abc"})
    assert attributes["vcs.ref.head.revision"] == "abc"
    assert "vcs.repository.url.full" not in attributes


def test_the_manifest_carries_the_repository_without_credentials(git_repo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from codewitness.attribution.manifest import build_manifest

    git_repo.write("a.py", "def f():\n    return 1\n")
    git_repo.commit("a")
    git_repo.git("remote", "add", "origin", "https://dana:token@example.com/shop.git")
    manifest = build_manifest(git_repo.root)
    assert manifest.repository == "https://example.com/shop.git"
    again = Manifest.from_json(manifest.to_json())
    assert again.repository == "https://example.com/shop.git"
    old = Manifest(revision="r", functions=(ManifestFunction("m", "f", "m.py", 1, 2, 1.0),))
    assert "repository" not in json.loads(old.to_json())  # a manifest without one reads and writes as before
    assert Manifest.from_json(old.to_json()).repository is None


def test_a_sensor_started_from_the_manifest_names_the_repository(tmp_path: Path) -> None:
    manifest = Manifest(
        revision="1" * 40,
        functions=(ManifestFunction("work", "double", "work.py", 1, 2, 1.0),),
        repository="https://example.com/shop.git",
    )
    (tmp_path / "manifest.json").write_text(manifest.to_json())
    (tmp_path / "work.py").write_text("def double(x):\n    return 2 * x\n")
    (tmp_path / "host.py").write_text(
        """
import json
from opentelemetry import metrics
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

reader = InMemoryMetricReader()
metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
import codewitness
import work
codewitness.init(service="shop", manifest="manifest.json", spool_dir="", endpoint="", otel=True, interval=60)
work.double(2)
import codewitness.sensor
codewitness.sensor.shutdown()
found = {}
for r in reader.get_metrics_data().resource_metrics:
    for s in r.scope_metrics:
        for m in s.metrics:
            for p in m.data.data_points:
                found[m.name] = dict(p.attributes)
print(json.dumps(found["codewitness.function.calls"]))
"""
    )
    proc = subprocess.run(
        [sys.executable, "host.py"], cwd=tmp_path, capture_output=True, text=True, check=False, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    attributes = json.loads(proc.stdout.strip().splitlines()[-1])
    assert attributes["vcs.ref.head.revision"] == "1" * 40
    assert attributes["vcs.repository.url.full"] == "https://example.com/shop.git"
    assert attributes["codewitness.revision"] == "1" * 40
