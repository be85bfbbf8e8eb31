"""Generation events as OpenTelemetry spans, and the quality metrics as gauges, sent over OTLP/HTTP.

Run from outside the agents' hooks (``codewitness export otel --since 1d``), never in them: the hook
must stay fast, and a collector that is down must cost an agent nothing.

Each agent session in the window becomes one trace, named after the current GenAI conventions:

* ``invoke_agent {agent}`` -- the session (``gen_ai.operation.name = invoke_agent``,
  ``gen_ai.agent.name``, ``gen_ai.conversation.id``, tokens summed), with under it, per generation,
* ``chat {model}`` -- the model call that produced the code (``gen_ai.provider.name``,
  ``gen_ai.request.model``, ``gen_ai.usage.input_tokens`` / ``output_tokens``, ``gen_ai.response.id``;
  the prompt as ``gen_ai.input.messages`` only when ``otel.capture_prompts`` is on, redacted and cut
  to ``otel.prompt_chars``), timed by the recorded latency, and under it
* ``execute_tool edit`` -- the edit the hooks captured (``gen_ai.tool.call.id``): the files and lines
  written and the agent context files (``CLAUDE.md``, ``AGENTS.md``, ...) the agent loads.

Every span carries our ``codewitness.*`` attributes (generation id, prompt digest and name, commits,
cost); the resource names the repository (``vcs.repository.url.full``) and ``HEAD``
(``vcs.ref.head.revision``). Attribute names live in :mod:`codewitness.semconv`. Needs the ``otlp`` extra.

Example:
    >>> result = export_generations(store, Path("."), config, since=parse_since("1d"))  # doctest: +SKIP
    >>> result.spans, result.ok  # doctest: +SKIP
    (9, True)
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fnmatch import fnmatchcase
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codewitness import semconv
from codewitness._version import __version__
from codewitness.config import Config, OtelSection
from codewitness.errors import MissingExtraError

if TYPE_CHECKING:
    from codewitness.model import Generation
    from codewitness.store import Store
    from codewitness.views.metrics import MetricsView

__all__ = [
    "AGENT_CONTEXT_FILES",
    "ExportResult",
    "endpoint_of",
    "export_generations",
    "export_metrics",
    "provider_of",
]

#: The context files each agent loads by itself (globs on repository paths).
AGENT_CONTEXT_FILES: dict[str, tuple[str, ...]] = {
    "claude-code": ("CLAUDE.md", "*/CLAUDE.md", ".claude/CLAUDE.md"),
    "codex": ("AGENTS.md", "*/AGENTS.md"),
    "cursor": (".cursorrules", ".cursor/rules/*", "AGENTS.md"),
    "gemini-cli": ("GEMINI.md", "*/GEMINI.md"),
    "copilot": (".github/copilot-instructions.md", "AGENTS.md"),
}

#: The tool name of a captured edit (Write, Edit, MultiEdit, apply_patch, ... are all file edits).
EDIT_TOOL = "edit"

_PROVIDERS = (
    (("claude",), "anthropic"),
    (("gpt", "o1", "o3", "o4", "codex", "chatgpt"), "openai"),
    (("gemini",), "gcp.gemini"),
    (("mistral", "codestral", "devstral"), "mistral_ai"),
    (("deepseek",), "deepseek"),
    (("grok",), "x_ai"),
)


def provider_of(model: str, agent: str) -> str | None:
    """The ``gen_ai.provider.name`` a model string (or, failing that, the agent) points to."""
    lowered = model.lower()
    for prefixes, provider in _PROVIDERS:
        if any(lowered.startswith(p) or f"/{p}" in lowered for p in prefixes):
            return provider
    return {"claude-code": "anthropic", "codex": "openai", "gemini-cli": "gcp.gemini"}.get(agent)


def endpoint_of(settings: OtelSection, environ: Mapping[str, str] | None = None) -> str:
    """The OTLP/HTTP base URL: ``otel.endpoint``, else ``OTEL_EXPORTER_OTLP_ENDPOINT``, else localhost:4318."""
    env = os.environ if environ is None else environ
    return (settings.endpoint or env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or "http://localhost:4318").rstrip("/")


@dataclass
class ExportResult:
    """What one export sent: how many spans (or metric points) of how many generations, and whether it arrived."""

    endpoint: str
    spans: int = 0
    generations: int = 0
    points: int = 0
    ok: bool = True
    error: str | None = None
    skipped: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "endpoint": self.endpoint,
            "spans": self.spans,
            "generations": self.generations,
            "points": self.points,
            "ok": self.ok,
            "error": self.error,
            "skipped": list(self.skipped),
        }


def _nanos(when: datetime) -> int:
    return int(when.timestamp() * 1_000_000_000)


def _sdk() -> Any:
    try:
        from opentelemetry.exporter.otlp.proto.http import trace_exporter  # noqa: F401
        from opentelemetry.sdk import trace  # noqa: F401
    except ImportError:
        raise MissingExtraError("otlp", "exporting generation events over OTLP") from None


def _resource(root: Path, settings: OtelSection) -> Any:
    from opentelemetry.sdk.resources import Resource

    from codewitness._git import git_available, origin_url, resolve

    attributes: dict[str, Any] = {semconv.SERVICE_NAME: settings.service, semconv.SERVICE_VERSION: __version__}
    if git_available() and (root / ".git").exists():
        head = resolve(root, "HEAD")
        url = origin_url(root)
        if head:
            attributes[semconv.VCS_REF_HEAD_REVISION] = head
            attributes[semconv.CW_REVISION] = head
        if url:
            attributes[semconv.VCS_REPOSITORY_URL_FULL] = url
    return Resource.create(attributes)


def _tracked_files(root: Path) -> list[str]:
    from codewitness._git import git_available, run_git

    if not git_available() or not (root / ".git").exists():
        return []
    return [p for p in run_git(["ls-files", "-z"], cwd=root, check=False).split("\0") if p]


def _context_files(agent: str, files: Sequence[str]) -> list[str]:
    patterns = AGENT_CONTEXT_FILES.get(agent, ())
    return [f for f in files if any(fnmatchcase(f, p) for p in patterns)]


def _prompt_message(prompt: str, settings: OtelSection) -> str:
    from codewitness.sensor._secrets import scrub

    text = scrub(prompt[: settings.prompt_chars * 2])[: settings.prompt_chars]
    return json.dumps([{"role": "user", "parts": [{"type": "text", "content": text}]}], ensure_ascii=False)


def _generation_attributes(g: Generation, settings: OtelSection, cost: float | None) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        semconv.GEN_AI_OPERATION_NAME: semconv.GEN_AI_OP_CHAT,
        semconv.GEN_AI_REQUEST_MODEL: g.model,
        semconv.CW_GENERATION_ID: g.id,
        semconv.CW_AGENT: g.agent,
        semconv.CW_PROMPT_HASH: g.prompt_hash,
        semconv.CW_ORIGIN: "ai",
    }
    provider = provider_of(g.model, g.agent)
    if provider:
        attributes[semconv.GEN_AI_PROVIDER_NAME] = provider
    if g.input_tokens is not None:
        attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS] = g.input_tokens
    if g.output_tokens is not None:
        attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] = g.output_tokens
    if g.request_id:
        attributes[semconv.GEN_AI_RESPONSE_ID] = g.request_id
    temperature = g.params.get("temperature")
    if isinstance(temperature, int | float) and not isinstance(temperature, bool):
        attributes[semconv.GEN_AI_REQUEST_TEMPERATURE] = float(temperature)
    if g.prompt_name:
        attributes[semconv.CW_PROMPT_NAME] = g.prompt_name
        if g.prompt_version is not None:
            attributes[semconv.CW_PROMPT_VERSION] = g.prompt_version
    if g.session_id:
        attributes[semconv.GEN_AI_CONVERSATION_ID] = g.session_id
    if cost is not None:
        attributes[semconv.CW_COST_USD] = round(cost, 8)
    if settings.capture_prompts and g.prompt:
        attributes[semconv.GEN_AI_INPUT_MESSAGES] = _prompt_message(g.prompt, settings)
    return attributes


def build_spans(
    generations: Sequence[Generation],
    root: Path,
    config: Config,
    commits: Mapping[str, Sequence[str]],
) -> list[Any]:
    """The finished SDK spans for ``generations`` (one trace per agent session), without sending them."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider

    from codewitness.metrics.cost import cost_of

    settings = config.otel
    finished: list[ReadableSpan] = []

    class _Keep(SpanProcessor):
        def on_end(self, span: ReadableSpan) -> None:
            finished.append(span)

    provider = TracerProvider(resource=_resource(root, settings))
    provider.add_span_processor(_Keep())
    tracer = provider.get_tracer("codewitness.metrics.otel", __version__)
    tracked = _tracked_files(root)
    sessions: dict[str, list[Generation]] = {}
    for g in sorted(generations, key=lambda g: (g.created_at, g.id)):
        sessions.setdefault(g.session_id or g.id, []).append(g)
    for key, members in sessions.items():
        agent = members[0].agent
        starts = [g.created_at - timedelta(milliseconds=g.latency_ms or 0) for g in members]
        root_attributes: dict[str, Any] = {
            semconv.GEN_AI_OPERATION_NAME: semconv.GEN_AI_OP_INVOKE_AGENT,
            semconv.GEN_AI_AGENT_NAME: agent,
            semconv.GEN_AI_REQUEST_MODEL: members[0].model,
            semconv.CW_AGENT: agent,
        }
        provider_name = provider_of(members[0].model, agent)
        if provider_name:
            root_attributes[semconv.GEN_AI_PROVIDER_NAME] = provider_name
        if members[0].session_id:
            root_attributes[semconv.GEN_AI_CONVERSATION_ID] = key
            root_attributes[semconv.CW_SESSION_ID] = key
        tokens_in = [g.input_tokens for g in members if g.input_tokens is not None]
        tokens_out = [g.output_tokens for g in members if g.output_tokens is not None]
        if tokens_in:
            root_attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS] = sum(tokens_in)
        if tokens_out:
            root_attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] = sum(tokens_out)
        session = tracer.start_span(
            f"{semconv.GEN_AI_OP_INVOKE_AGENT} {agent}",
            attributes=root_attributes,
            start_time=_nanos(min(starts)),
        )
        parent = trace.set_span_in_context(session)
        for g, start in zip(members, starts, strict=True):
            attributes = _generation_attributes(g, settings, cost_of(g, config.metrics.prices))
            if commits.get(g.id):
                attributes[semconv.CW_COMMITS] = list(dict.fromkeys(commits[g.id]))
            chat = tracer.start_span(
                f"{semconv.GEN_AI_OP_CHAT} {g.model}",
                context=parent,
                kind=trace.SpanKind.CLIENT,
                attributes=attributes,
                start_time=_nanos(start),
            )
            files = list(dict.fromkeys(r.path for r in g.files))
            tool_attributes: dict[str, Any] = {
                semconv.GEN_AI_OPERATION_NAME: semconv.GEN_AI_OP_EXECUTE_TOOL,
                semconv.GEN_AI_TOOL_NAME: EDIT_TOOL,
                semconv.GEN_AI_TOOL_TYPE: "function",
                semconv.CW_GENERATION_ID: g.id,
                semconv.CW_FILES_WRITTEN: files,
                semconv.CW_LINES_WRITTEN: sum(r.end - r.start + 1 for r in g.files),
                semconv.CW_CONTEXT_FILES: _context_files(g.agent, tracked),
            }
            if g.tool_call_id:
                tool_attributes[semconv.GEN_AI_TOOL_CALL_ID] = g.tool_call_id
            if len(files) == 1:
                tool_attributes[semconv.CODE_FILE_PATH] = files[0]
            tool = tracer.start_span(
                f"{semconv.GEN_AI_OP_EXECUTE_TOOL} {EDIT_TOOL}",
                context=trace.set_span_in_context(chat),
                attributes=tool_attributes,
                start_time=_nanos(g.created_at),
            )
            tool.end(end_time=_nanos(g.created_at))
            chat.end(end_time=_nanos(g.created_at))
        session.end(end_time=_nanos(max(g.created_at for g in members)))
    provider.shutdown()
    return finished


def export_generations(
    store: Store,
    root: Path,
    config: Config,
    *,
    since: datetime,
    until: datetime | None = None,
) -> ExportResult:
    """Send the generations recorded in ``[since, until]`` as spans to the OTLP endpoint.

    Raises:
        MissingExtraError: the ``otlp`` extra is not installed.
    """
    _sdk()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import SpanExportResult

    from codewitness import ledger
    from codewitness.store.metrics import commit_links

    result = ExportResult(endpoint=endpoint_of(config.otel))
    generations = [g for g in ledger.find(store, since=since) if until is None or g.created_at <= until]
    result.generations = len(generations)
    if not generations:
        return result
    links = commit_links(store, [g.id for g in generations])
    commits = {gid: [link.commit for link in found] for gid, found in links.items()}
    spans = build_spans(generations, root, config, commits)
    exporter = OTLPSpanExporter(endpoint=f"{result.endpoint}/v1/traces", timeout=config.otel.timeout)
    try:
        outcome = exporter.export(spans)
    finally:
        exporter.shutdown()  # type: ignore[no-untyped-call]
    result.spans = len(spans)
    if outcome is not SpanExportResult.SUCCESS:
        result.ok = False
        result.error = f"the collector at {result.endpoint}/v1/traces did not accept the spans (see the log above)"
    return result


_UNITS = {"share": "1", "score": "1", "count": "{finding}", "ms": "ms"}


def export_metrics(view: MetricsView, root: Path, config: Config) -> ExportResult:
    """Send the quality metrics of ``view`` as gauges ``codewitness.quality.<id>`` (n/a ones are left out).

    Each point carries the status, threshold and sample count; with ``view.by`` every group's value
    is a point of its own with the group as an attribute.

    Raises:
        MissingExtraError: the ``otlp`` extra is not installed.
    """
    _sdk()
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.metrics import CallbackOptions, Observation
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader, MetricExportResult

    from codewitness.metrics.definitions import METRICS

    result = ExportResult(endpoint=endpoint_of(config.otel))
    reader = InMemoryMetricReader()
    provider = MeterProvider(resource=_resource(root, config.otel), metric_readers=[reader])
    meter = provider.get_meter("codewitness.metrics", __version__)
    rows = [(None, list(view.metrics))] + [(g.group, list(g.metrics)) for g in view.groups]
    for definition in METRICS:
        points = []
        for group, results in rows:
            for m in results:
                if m.id != definition.id:
                    continue
                if m.value is None:
                    if group is None:
                        result.skipped.append(f"{m.id}: n/a ({m.reason})")
                    continue
                attributes: dict[str, Any] = {
                    semconv.CW_METRIC_STATUS: m.status,
                    semconv.CW_METRIC_THRESHOLD: m.threshold,
                    semconv.CW_METRIC_SAMPLES: m.samples,
                }
                if group is not None and view.by:
                    attributes[semconv.CW_GROUP_BY] = view.by
                    attributes[semconv.CW_GROUP] = group
                points.append(Observation(m.value, attributes))
        if not points:
            continue

        def observe(options: CallbackOptions, found: list[Any] = points) -> list[Any]:
            return found

        meter.create_observable_gauge(
            semconv.METRIC_QUALITY_PREFIX + definition.id,
            callbacks=[observe],
            unit=_UNITS[definition.unit],
            description=definition.title,
        )
        result.points += len(points)
    data = reader.get_metrics_data()
    provider.shutdown()
    if not result.points or data is None:
        return result
    exporter = OTLPMetricExporter(endpoint=f"{result.endpoint}/v1/metrics", timeout=config.otel.timeout)
    try:
        outcome = exporter.export(data)
    finally:
        exporter.shutdown()
    if outcome is not MetricExportResult.SUCCESS:
        result.ok = False
        result.error = f"the collector at {result.endpoint}/v1/metrics did not accept the metrics"
    return result
