"""``codewitness export otel``: generation spans and metric gauges received by an OTLP/HTTP server on loopback,
decoded with opentelemetry-proto."""

from __future__ import annotations

import json
from typing import Any

import pytest
from metrics_helpers import Project, Receiver

pytest.importorskip("opentelemetry.exporter.otlp.proto.http", reason="the otlp extra is not installed")

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest


def _value(any_value: Any) -> Any:
    kind = any_value.WhichOneof("value")
    if kind == "array_value":
        return [_value(v) for v in any_value.array_value.values]
    return getattr(any_value, kind) if kind else None


def _attributes(items: Any) -> dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in items}


def _spans(receiver: Receiver) -> tuple[dict[str, Any], list[tuple[str, dict[str, Any], bytes, bytes]]]:
    posts = receiver.posts("/v1/traces")
    assert posts, "no OTLP trace request arrived"
    spans = []
    resource: dict[str, Any] = {}
    for post in posts:
        assert post.headers["content-type"] == "application/x-protobuf"
        request = ExportTraceServiceRequest()
        request.ParseFromString(post.body)
        for resource_spans in request.resource_spans:
            resource = _attributes(resource_spans.resource.attributes)
            for scope in resource_spans.scope_spans:
                for span in scope.spans:
                    spans.append((span.name, _attributes(span.attributes), span.span_id, span.parent_span_id))
    return resource, spans


def test_generations_arrive_as_gen_ai_spans(project: Project, receiver: Receiver) -> None:
    project.write("CLAUDE.md", "Use type hints.\n")
    project.git("remote", "add", "origin", "https://dana:s3cret@example.com/shop.git")
    project.config('[[metrics.prices]]\nmodel = "claude-sonnet-4-5*"\ninput = 3.0\noutput = 15.0\n')
    project.claude_write("app/a.py", "def a():\n    return 1\n", prompt="Write a().", tokens=(1000, 100))
    project.claude_write("app/b.py", "def b():\n    return 2\n\n\ndef c():\n    return 3\n", prompt="Write b and c.")
    head = project.commit("a and b")
    proc = project.codewitness("export", "otel", "--since", "1d", "--endpoint", receiver.url)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "5 span(s) of 2 generation(s) sent" in proc.stdout
    resource, spans = _spans(receiver)
    assert resource["service.name"] == "codewitness"
    assert resource["vcs.ref.head.revision"] == head
    assert resource["vcs.repository.url.full"] == "https://example.com/shop.git"  # no credentials
    by_name: dict[str, list[dict[str, Any]]] = {}
    for name, attributes, _, _ in spans:
        by_name.setdefault(name, []).append(attributes)
    assert sorted(by_name) == ["chat claude-sonnet-4-5-20250929", "execute_tool edit", "invoke_agent claude-code"]
    (agent,) = by_name["invoke_agent claude-code"]
    assert agent["gen_ai.operation.name"] == "invoke_agent"
    assert agent["gen_ai.agent.name"] == "claude-code"
    assert agent["gen_ai.conversation.id"] == "session-1"
    assert agent["gen_ai.usage.input_tokens"] == 2200  # 1000 + the default 1200 of the second write
    chats = sorted(by_name["chat claude-sonnet-4-5-20250929"], key=lambda a: a["gen_ai.usage.input_tokens"])
    first = chats[0]
    assert first["gen_ai.operation.name"] == "chat"
    assert first["gen_ai.provider.name"] == "anthropic"
    assert first["gen_ai.request.model"] == "claude-sonnet-4-5-20250929"
    assert (first["gen_ai.usage.input_tokens"], first["gen_ai.usage.output_tokens"]) == (1000, 100)
    assert first["codewitness.generation.id"].startswith("gen_")
    assert first["codewitness.commits"] == [head]
    assert first["codewitness.cost.usd"] == pytest.approx((1000 * 3 + 100 * 15) / 1e6)
    assert "gen_ai.input.messages" not in first  # prompts never leave unless asked for
    tools = sorted(by_name["execute_tool edit"], key=lambda a: a["codewitness.files.written"])
    assert [t["codewitness.files.written"] for t in tools] == [["app/a.py"], ["app/b.py"]]
    assert [t["codewitness.lines.written"] for t in tools] == [2, 6]
    assert all(t["gen_ai.tool.call.id"].startswith("toolu_") for t in tools)
    assert all(t["codewitness.context.files"] == ["CLAUDE.md"] for t in tools)
    # One trace: the chat spans hang under the agent span, the tools under their chat span.
    ids = {span_id: (name, parent) for name, _, span_id, parent in spans}
    for name, _, _, parent in spans:
        if name.startswith("chat"):
            assert ids[parent][0] == "invoke_agent claude-code"
        if name.startswith("execute_tool"):
            assert ids[parent][0].startswith("chat")


def test_prompts_leave_only_when_asked_redacted_and_cut(project: Project, receiver: Receiver) -> None:
    project.config("[otel]\ncapture_prompts = true\nprompt_chars = 60\n")
    secret = "sk-ant-api03-" + "A1b2C3d4E5f6G7h8I9j0" * 3
    project.claude_write("app/k.py", "K = 1\n", prompt=f"Use the key {secret} to call the API, then write K.")
    project.commit("k")
    proc = project.codewitness("export", "otel", "--endpoint", receiver.url, "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["spans"]["spans"] == 3
    _, spans = _spans(receiver)
    chat = next(a for n, a, _, _ in spans if n.startswith("chat"))
    messages = json.loads(chat["gen_ai.input.messages"])
    text = messages[0]["parts"][0]["content"]
    assert messages[0]["role"] == "user"
    assert secret not in text and "[REDACTED]" in text
    assert len(text) <= 60


def test_the_eight_metrics_arrive_as_gauges(project: Project, receiver: Receiver) -> None:
    project.config('[metrics]\nmin_samples = 1\nadherence = "lexical"\n')
    project.claude_write("app/m.py", "def m(x):\n    return x\n", prompt="Write m(x).", latency_s=3.0)
    project.commit("m")
    proc = project.codewitness("export", "otel", "--endpoint", receiver.url, "--metrics", "--offline")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    points: dict[str, tuple[float, dict[str, Any]]] = {}
    for post in receiver.posts("/v1/metrics"):
        request = ExportMetricsServiceRequest()
        request.ParseFromString(post.body)
        for rm in request.resource_metrics:
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    (point,) = metric.gauge.data_points
                    points[metric.name] = (point.as_double, _attributes(point.attributes))
    assert points["codewitness.quality.latency_p95"][0] == pytest.approx(3000)
    assert points["codewitness.quality.latency_p95"][1] == {
        "codewitness.metric.status": "ok",
        "codewitness.metric.threshold": 5000.0,
        "codewitness.metric.samples": 1,
    }
    assert points["codewitness.quality.compilation_success_rate"][0] == 1.0
    assert "codewitness.quality.test_pass_rate" not in points  # n/a: no test runs, never a made-up number
    assert "not sent: test_pass_rate: n/a" in proc.stderr


def test_a_collector_that_is_down_is_a_one_line_error(project: Project) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    project.claude_write("app/d.py", "D = 1\n", prompt="d")
    project.commit("d")
    proc = project.codewitness("export", "otel", "--endpoint", f"http://127.0.0.1:{port}")
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].startswith("codewitness: error: the collector at http://127.0.0.1:")
    assert "sent to" not in proc.stdout
    assert "Traceback" not in proc.stderr


def test_nothing_to_export_says_so(project: Project, receiver: Receiver) -> None:
    proc = project.codewitness("export", "otel", "--endpoint", receiver.url)
    assert proc.returncode == 0
    assert "no generations recorded since" in proc.stdout
    assert receiver.posts("/v1/traces") == []
