"""One typed configuration, from files and the environment.

Values come from, lowest priority first:

1. the defaults declared below;
2. ``[tool.codewitness]`` in the project's ``pyproject.toml``;
3. a ``codewitness.toml`` beside it (same keys, at the top level);
4. ``CODEWITNESS_*`` environment variables: a key ``database`` is ``CODEWITNESS_DATABASE``, a key
   ``interval`` in section ``sensor`` is ``CODEWITNESS_SENSOR_INTERVAL``. ``CODEWITNESS_DB`` is a
   short alias of ``CODEWITNESS_DATABASE``.

Unknown keys, unknown ``CODEWITNESS_*`` variables and values of the wrong type are
:class:`~codewitness.errors.ConfigError`\\ s that name the offending source.

This module imports only the standard library: the runtime sensor reads it inside other
people's processes.

Example:
    >>> loaded = load_config(Path("."), environ={"CODEWITNESS_DB": "sqlite:////tmp/x.db"})
    >>> loaded.config.database
    'sqlite:////tmp/x.db'
    >>> loaded.sources["database"]
    'env CODEWITNESS_DB'

Adding a setting: add a field (with ``metadata=doc("...")``) to :class:`Config` or to a section
dataclass; the loader, ``codewitness config`` and the environment mapping follow from the field.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import re
import tomllib
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codewitness._read import read_bytes
from codewitness.errors import ConfigError

__all__ = [
    "METRIC_IDS",
    "AlertsSection",
    "BehaviorSection",
    "CheckSection",
    "Config",
    "LoadedConfig",
    "MetricsSection",
    "OtelSection",
    "Price",
    "RetentionSection",
    "SensorSection",
    "default_database_url",
    "doc",
    "env_settable",
    "find_project_root",
    "load_config",
    "plain_value",
]

ENV_PREFIX = "CODEWITNESS_"
#: Environment variables that are not settings but are read by codewitness on purpose.
ENV_ALIASES = {"CODEWITNESS_DB": "database"}
#: CODEWITNESS_* variables that are not configuration keys (set by and for our own processes).
ENV_RESERVED = frozenset({"CODEWITNESS_TOKEN", "CODEWITNESS_HOOK_LOG", "CODEWITNESS_RUN_SAID_WATCHED"})


def doc(text: str, **extra: Any) -> dict[str, Any]:
    """Field metadata: the help text shown by ``codewitness config`` and optional checks.

    Args:
        text: one sentence saying what the setting does.
        **extra: ``choices`` (allowed values), ``minimum`` / ``maximum`` (number bounds).
    """
    return {"doc": text, **extra}


#: An age: a number and a unit (seconds, minutes, hours, days, weeks).
_AGE = re.compile(r"^\s*\d+\s*[smhdw]\s*$")


def _known_only(setting: str, values: Iterable[str], known: Sequence[str], what: str = "") -> None:
    """Raise :class:`ConfigError` naming each of ``values`` that ``known`` lacks (``what``: ``agent``, ...)."""
    unknown = sorted(set(values) - set(known))
    if unknown:
        noun = f"{what} " if what else ""
        raise ConfigError(f"{setting}: unknown {noun}{', '.join(unknown)}; choose from {', '.join(known)}")


#: The agents ``codewitness init`` knows how to hook.
CAPTURE_AGENTS = ("claude", "cursor", "codex", "gemini")


@dataclass(frozen=True)
class CaptureSection:
    """``[capture]``: agent hooks and commit linking."""

    agents: tuple[str, ...] = field(
        default=CAPTURE_AGENTS,
        metadata=doc("Agents whose hooks `codewitness init` installs when --agents is not given."),
    )
    max_file_bytes: int = field(
        default=2_000_000,
        metadata=doc("Files larger than this are not captured by agent hooks (the skip is logged).", minimum=1),
    )
    context: bool = field(
        default=True,
        metadata=doc(
            "Before an agent edits a file, its hook adds the live problems of that file's functions (exceptions "
            "with inputs, broken invariants, regressions) to the agent's context; so do prompts naming files."
        ),
    )
    context_since: str = field(
        default="7d",
        metadata=doc("How far back the hook's context looks: an age such as 24h, 7d or 2w."),
    )
    context_chars: int = field(
        default=1500,
        metadata=doc("The most characters of context one hook answer adds.", minimum=200),
    )
    commit_trailer: bool = field(
        default=False,
        metadata=doc(
            "The prepare-commit-msg hook adds a 'Codewitness-Generation: gen_...' trailer for each generation"
            " whose lines are staged."
        ),
    )
    push_notes: bool = field(
        default=True,
        metadata=doc(
            "Push the attribution notes to the remotes: `init` sets a push refspec and the pre-push hook pushes"
            " them with every push. false keeps them in this clone (capture goes on)."
        ),
    )

    def __post_init__(self) -> None:
        if not _AGE.match(self.context_since):
            raise ConfigError(f"capture.context_since: {self.context_since!r} is not an age such as 24h, 7d or 2w")
        _known_only("capture.agents", self.agents, CAPTURE_AGENTS, "agent")


@dataclass(frozen=True)
class CheckSection:
    """``[tool.codewitness.check]``: the merge gate (``codewitness check`` / ``codewitness deps``)."""

    index_url: str = field(
        default="",
        metadata=doc("Simple API index to check Python packages against; empty means pip's own setting."),
    )
    npm_registry: str = field(
        default="",
        metadata=doc("npm registry for package.json checks; empty means npm's own registry setting."),
    )
    popular_url: str = field(
        default="",
        metadata=doc("Where `codewitness deps refresh-popular` fetches the popular PyPI ranking."),
    )
    fail_on: str = field(
        default="high",
        metadata=doc(
            "Lowest severity that makes `codewitness check` exit 1.",
            choices=("info", "low", "medium", "high", "never"),
        ),
    )
    new_package_days: int = field(
        default=90,
        metadata=doc("A package first uploaded fewer days ago than this is reported as new.", minimum=0),
    )
    cache_hours: float = field(
        default=24.0,
        metadata=doc("How long package-index answers are reused before asking again.", minimum=0),
    )
    http_timeout: float = field(
        default=10.0,
        metadata=doc("Seconds to wait for a package index before 'not checked'.", minimum=0.1),
    )
    complexity_growth: float = field(
        default=0.15,
        metadata=doc(
            "Allowed growth of an AI-written function's cognitive complexity against --base (0.15 = 15%).",
            minimum=0,
        ),
    )
    required_metadata: tuple[str, ...] = field(
        default=(),
        metadata=doc("Fields every AI note entry must carry: any of agent, model, session, generations."),
    )
    disable: tuple[str, ...] = field(default=(), metadata=doc("Rule ids never to report, e.g. CW308."))
    high_on_ai: tuple[str, ...] = field(
        default=("CW307",),
        metadata=doc(
            "Rule ids whose findings on AI-written lines are high, so they fail the gate at the default"
            " fail_on (a missing timeout by default; add CW308 for unseeded random)."
        ),
    )
    test_paths: tuple[str, ...] = field(
        default=(
            "tests/**",
            "test/**",
            "**/tests/**",
            "**/test/**",
            "**/test_*.py",
            "**/*_test.py",
            "**/conftest.py",
        ),
        metadata=doc("Globs (on paths relative to the project root) of test-only code, judged as tests."),
    )
    skip_in_tests: tuple[str, ...] = field(
        default=("S", "CW303", "CW304", "CW305", "CW306", "CW307", "CW308", "CW310"),
        metadata=doc(
            "Rules not applied to test code: rule ids, and ruff codes or code prefixes for CW301"
            " ('S' = every ruff S rule, 'S105' = hard-coded passwords only)."
        ),
    )
    provenance_since: str = field(
        default="adoption",
        metadata=doc(
            "Commits CW401 judges: 'adoption' (from the first commit carrying a codewitness or git-ai note"
            " or codewitness config), 'base' (every commit after --base), or a revision."
        ),
    )


#: The parts of a web request a capture can keep, and those it keeps by default.
REQUEST_PARTS = ("method", "route", "path_params", "path", "query", "headers")
REQUEST_PARTS_DEFAULT = ("method", "route", "path_params")
#: The sensor's flow integrations (:mod:`codewitness.sensor.integrations`), all on by default.
INTEGRATIONS = (
    "starlette",
    "flask",
    "django",
    "sqlite3",
    "psycopg",
    "psycopg2",
    "sqlalchemy",
    "urllib3",
    "httpx",
    "httpx2",
)


@dataclass(frozen=True)
class SensorSection:
    """``[tool.codewitness.sensor]``: the runtime sensor inside the application process."""

    service: str = field(
        default="", metadata=doc("Service name reported with every fact; empty means the script name.")
    )
    manifest: str = field(
        default=".codewitness/manifest.json",
        metadata=doc(
            "The manifest of AI-written functions to instrument (a relative path starts at the project root)."
        ),
    )
    include: tuple[str, ...] = field(
        default=(),
        metadata=doc("Extra functions to instrument: glob patterns on module.qualname, e.g. 'myapp.*'."),
    )
    exclude: tuple[str, ...] = field(
        default=(), metadata=doc("Functions never to instrument: glob patterns on module.qualname.")
    )
    interval: float = field(
        default=10.0, metadata=doc("Seconds per aggregation interval (one export batch each).", minimum=0.05)
    )
    spool_dir: str = field(
        default=".codewitness/spool",
        metadata=doc(
            "Append-only spool folder (a relative path starts at the project root); empty turns the spool off."
        ),
    )
    spool_max_bytes: int = field(
        default=64 * 1024 * 1024,
        metadata=doc("Spool size limit; the oldest segments are deleted (and counted) beyond it.", minimum=4096),
    )
    spool_segment_bytes: int = field(
        default=4 * 1024 * 1024,
        metadata=doc("Size at which a spool segment is closed and a new one begun.", minimum=1024),
    )
    endpoint: str = field(
        default="",
        metadata=doc("HTTP endpoint for batches (gzip JSON lines, POST); empty turns HTTP export off."),
    )
    otel: bool = field(
        default=False,
        metadata=doc("Also export OpenTelemetry metrics and exception spans through the host's providers."),
    )
    sample_rate: float = field(
        default=0.0,
        metadata=doc(
            "Share of calls offered for an input/output sample (0 turns sampling off); one call per input"
            " shape is kept per function and interval (the replay corpus)."
        ),
    )
    samples_per_interval: int = field(
        default=16,
        metadata=doc(
            "Sampled calls kept per function per interval: one of each input shape first (so at most this"
            " many shapes), the rest of the room for other calls at random.",
            minimum=0,
        ),
    )
    sample_max_bytes: int = field(
        default=16_384,
        metadata=doc(
            "Largest exact (replayable) encoding of one sampled call's inputs or output; a larger one is"
            " kept as a redacted snapshot only, marked not replayable.",
            minimum=256,
        ),
    )
    exceptions_per_interval: int = field(
        default=5,
        metadata=doc(
            "Exception captures kept per function per interval: each distinct failure (type, message pattern,"
            " innermost frames) is captured once, repeats while fewer than this many were; all are counted.",
            minimum=0,
        ),
    )
    queue_size: int = field(
        default=10_000,
        metadata=doc("Bound on events waiting for export; events beyond it are dropped and counted.", minimum=1),
    )
    redact_names: tuple[str, ...] = field(
        default=(),
        metadata=doc("Extra regular expressions: argument or key names whose values are redacted."),
    )
    redact_patterns: tuple[str, ...] = field(
        default=(),
        metadata=doc("Extra regular expressions: text matching them is redacted from captured values."),
    )
    max_value_chars: int = field(
        default=512,
        metadata=doc("Longest string kept in a captured value; longer ones are redacted, then cut.", minimum=16),
    )
    capture_reprs: bool = field(
        default=False,
        metadata=doc(
            "Show objects with no fields to walk by their (redacted) repr instead of their type alone;"
            " repr runs the application's code."
        ),
    )
    request_parts: tuple[str, ...] = field(
        default=REQUEST_PARTS_DEFAULT,
        metadata=doc(
            "Parts of a web framework request (Starlette/FastAPI, Django, Flask) kept in captures: any of"
            " method, route, path_params, path, query, headers (query and headers redacted by name and value)."
        ),
    )
    capture_time_ms: float = field(
        default=5.0,
        metadata=doc(
            "Most CPU time one capture (an exception, a sample, a breach) may spend copying values on the"
            " application's thread (its own CPU time: a busy machine that preempts the thread does not cut"
            " the capture short); values past it are marked, not kept.",
            minimum=0.1,
        ),
    )
    speedups: bool = field(
        default=True,
        metadata=doc(
            "Count calls with the compiled meter when the install built it; false forces the pure-Python one."
        ),
    )
    untested_speedups: bool = field(
        default=False,
        metadata=doc(
            "Use the compiled meter also on a Python newer than the versions codewitness is tested on"
            " (3.11 to 3.13); otherwise such a Python counts calls with the pure-Python meter, and init() says so."
        ),
    )
    flush_on_sigterm: bool = field(
        default=True,
        metadata=doc(
            "On SIGTERM, when the program has no handler of its own, flush the last interval before the"
            " process ends (as SIGTERM would end it); false leaves SIGTERM alone."
        ),
    )
    distinct_exceptions_per_interval: int = field(
        default=20,
        metadata=doc(
            "Distinct failures captured and counted per function per interval; further ones are counted by type only.",
            minimum=1,
        ),
    )
    exception_bytes_per_interval: int = field(
        default=1 << 20,
        metadata=doc(
            "Bytes the exception captures of one interval may take in all; past it a new failure is reported"
            " by type, message pattern and count, without arguments.",
            minimum=4096,
        ),
    )
    capture_max_bytes: int = field(
        default=4096,
        metadata=doc(
            "Bytes one capture's values (arguments, result) may take as JSON; self and objects with many fields"
            " are summarised (type, field count, first fields), the rest is cut and marked.",
            minimum=256,
        ),
    )
    integrations: tuple[str, ...] = field(
        default=INTEGRATIONS,
        metadata=doc(
            "Flow integrations set up when their library is imported (each request's route and the queries"
            " and outbound calls it made): any of " + ", ".join(INTEGRATIONS) + "; an empty list turns flows off."
        ),
    )
    flow_statements: int = field(
        default=50,
        metadata=doc(
            "Statements (queries, outbound calls) one request keeps in order for the context of an exception;"
            " the rest are counted.",
            minimum=0,
        ),
    )
    unwatch_cheap_calls: int = field(
        default=1000,
        metadata=doc(
            "A function not in the manifest that ran more than this many calls in one interval, at a mean"
            " below unwatch_cheap_ns, is watched no more from then on (its counts so far are kept, and the"
            " choice is reported: `codewitness runtime` shows it as unwatched: cheap); 0 turns this off.",
            minimum=0,
        ),
    )
    unwatch_cheap_ns: int = field(
        default=1000,
        metadata=doc(
            "The mean call time (nanoseconds) below which a function that runs more than unwatch_cheap_calls"
            " calls in one interval is too cheap to watch; 0 turns this off.",
            minimum=0,
        ),
    )
    keep: tuple[str, ...] = field(
        default=(),
        metadata=doc(
            "Functions never unwatched for being cheap (glob patterns on module.qualname, like include);"
            " the manifest's functions, functions include names exactly (not by a pattern), functions with"
            " checks and functions an invariant decorator guards are always kept."
        ),
    )

    def __post_init__(self) -> None:
        _known_only("sensor.request_parts", self.request_parts, REQUEST_PARTS)
        _known_only("sensor.integrations", self.integrations, INTEGRATIONS, "integration")


#: The quality metrics, in report order (see :mod:`codewitness.metrics`).
METRIC_IDS = (
    "hallucination_rate",
    "compilation_success_rate",
    "test_pass_rate",
    "security_vulnerability_rate",
    "complexity_drift",
    "context_adherence",
    "latency_p95",
    "human_edit_distance",
)


@dataclass(frozen=True)
class Price:
    """One ``[[metrics.prices]]`` entry: what a model's tokens cost, in US dollars per million."""

    model: str = field(default="", metadata=doc("A model string, or a glob on it ('claude-sonnet-4-5*')."))
    input: float = field(default=0.0, metadata=doc("Dollars per million input (prompt) tokens.", minimum=0.0))
    output: float = field(default=0.0, metadata=doc("Dollars per million output tokens.", minimum=0.0))


@dataclass(frozen=True)
class MetricsSection:
    """``[tool.codewitness.metrics]``: the eight quality metrics and their alert thresholds."""

    window: str = field(
        default="14d",
        metadata=doc("Default window of `codewitness metrics` and `alerts check` (an age: 14d, 2w); the sprint."),
    )
    min_samples: int = field(
        default=5,
        metadata=doc("A metric with fewer samples than this in the window is n/a (with the count).", minimum=1),
    )
    trend_points: int = field(
        default=4, metadata=doc("Equal parts of the window the trend is computed over.", minimum=2, maximum=24)
    )
    hallucination_rate: float = field(
        default=0.02,
        metadata=doc("Alert above this share of AI functions with a hallucinated package or API finding.", minimum=0),
    )
    compilation_success_rate: float = field(
        default=0.98,
        metadata=doc("Alert below this share of generations whose raw output and committed result compile.", minimum=0),
    )
    test_pass_rate: float = field(
        default=0.95,
        metadata=doc(
            "Alert below this share of generations whose tests passed on their first run after them.", minimum=0
        ),
    )
    security_vulnerability_rate: float = field(
        default=0.0,
        metadata=doc("Alert above this many high-severity security findings on AI lines per generation.", minimum=0),
    )
    complexity_drift: float = field(
        default=0.15,
        metadata=doc(
            "Alert above this growth of AI functions' mean cognitive complexity since the window's start (0.15 = 15%)."
        ),
    )
    context_adherence: float = field(
        default=0.85,
        metadata=doc("Alert below this mean similarity between a generation's prompt and its code (0..1).", minimum=0),
    )
    latency_p95: float = field(
        default=5000.0, metadata=doc("Alert above this 95th percentile of generation latency, in ms.", minimum=0)
    )
    human_edit_distance: float = field(
        default=0.10,
        metadata=doc(
            "Alert above this median share of a generation's lines a person changed or removed before commit.",
            minimum=0,
        ),
    )
    disable: tuple[str, ...] = field(default=(), metadata=doc("Metric ids not computed (e.g. context_adherence)."))
    hallucination_rules: tuple[str, ...] = field(
        default=("CW101", "CW105", "CW201", "CW202", "CW203"),
        metadata=doc("Merge-gate rules whose findings count as a hallucinated package or API."),
    )
    security_severity: str = field(
        default="high",
        metadata=doc(
            "Lowest severity of a security finding (CW3xx) that counts as a vulnerability.",
            choices=("low", "medium", "high"),
        ),
    )
    adherence: str = field(
        default="auto",
        metadata=doc(
            "Context adherence measure: embedding (the metrics extra's local model), lexical, or auto"
            " (embedding when the extra is installed).",
            choices=("auto", "embedding", "lexical"),
        ),
    )
    context_files: tuple[str, ...] = field(
        default=(
            "CLAUDE.md",
            "**/CLAUDE.md",
            "AGENTS.md",
            "**/AGENTS.md",
            ".cursorrules",
            ".cursor/rules/**",
            "GEMINI.md",
            "**/GEMINI.md",
            ".github/copilot-instructions.md",
        ),
        metadata=doc(
            "Agent context files (globs on repository paths): commits changing them are change markers"
            " beside the metrics and the context changes of `replay --since-context-change`."
        ),
    )
    prices: tuple[Price, ...] = field(
        default=(),
        metadata=doc("[[metrics.prices]] entries: model (a glob), input and output dollars per million tokens."),
    )

    def __post_init__(self) -> None:
        _known_only("metrics.disable", self.disable, METRIC_IDS, "metric")


#: The alert channels (one module each under ``codewitness.metrics.channels``).
ALERT_CHANNELS = ("stdout", "log", "webhook")


@dataclass(frozen=True)
class AlertsSection:
    """``[tool.codewitness.alerts]``: runtime alert rules and where firings are delivered."""

    channels: tuple[str, ...] = field(
        default=("stdout",),
        metadata=doc("Where new firings go: any of stdout, log, webhook."),
    )
    webhook_url: str = field(default="", metadata=doc("URL the webhook channel POSTs each firing to."))
    webhook_format: str = field(
        default="json",
        metadata=doc(
            "Payload of the webhook: json (our document) or slack (Slack's text payload).", choices=("json", "slack")
        ),
    )
    webhook_timeout: float = field(default=5.0, metadata=doc("Seconds one webhook attempt may take.", minimum=0.1))
    retries: int = field(default=3, metadata=doc("Further attempts after a failed delivery.", minimum=0, maximum=10))
    backoff: float = field(
        default=0.5, metadata=doc("Seconds before the first retry; each next wait doubles.", minimum=0.0)
    )
    log_file: str = field(
        default=".codewitness/alerts.log",
        metadata=doc("File the log channel appends one JSON line per firing to (relative to the project root)."),
    )
    error_rate: float = field(
        default=0.05,
        metadata=doc("Alert when AI-written functions' errors per call in the window exceed this.", minimum=0),
    )
    p95_regression: float = field(
        default=0.5,
        metadata=doc("Alert when a function's p95 latency grew more than this share against the previous revision."),
    )
    min_calls: int = field(
        default=50, metadata=doc("Runtime rules judge only functions with at least this many calls.", minimum=1)
    )
    breaches: bool = field(default=True, metadata=doc("Alert on invariant breaches seen in the window."))

    def __post_init__(self) -> None:
        _known_only("alerts.channels", self.channels, ALERT_CHANNELS, "channel")


@dataclass(frozen=True)
class OtelSection:
    """``[tool.codewitness.otel]``: generation events and quality metrics sent over OTLP."""

    endpoint: str = field(
        default="",
        metadata=doc(
            "OTLP/HTTP base URL (spans go to <endpoint>/v1/traces); empty means OTEL_EXPORTER_OTLP_ENDPOINT,"
            " else http://localhost:4318."
        ),
    )
    service: str = field(default="codewitness", metadata=doc("service.name of the exported generation events."))
    capture_prompts: bool = field(
        default=False,
        metadata=doc("Put the prompt (redacted, cut to prompt_chars) on spans as gen_ai.input.messages."),
    )
    prompt_chars: int = field(default=2000, metadata=doc("Longest prompt text a span carries.", minimum=16))
    timeout: float = field(default=10.0, metadata=doc("Seconds an OTLP request may take.", minimum=0.1))


@dataclass(frozen=True)
class InvariantRule:
    """One ``[[invariants]]`` entry: a safe expression that must hold for matching functions."""

    function: str = field(
        default="", metadata=doc("The function: module:qualname, or a glob on module.qualname ('payments.*').")
    )
    ensure: str = field(default="", metadata=doc("A postcondition over the parameters and `result`."))
    require: str = field(default="", metadata=doc("A precondition over the parameters."))
    name: str = field(default="", metadata=doc("The rule's name in reports (derived when empty)."))
    mode: str = field(
        default="",
        metadata=doc(
            "record, warn or raise; empty means the process default (record).",
            choices=("", "record", "warn", "raise"),
        ),
    )


@dataclass(frozen=True)
class ReviewRule:
    """One ``[[review]]`` entry: a share of calls of matching functions goes to the review queue."""

    function: str = field(default="", metadata=doc("The function: module:qualname, or a glob on module.qualname."))
    rate: float = field(
        default=0.01, metadata=doc("The share of calls sampled for review, 0..1.", minimum=0.0, maximum=1.0)
    )


#: A rollup step: intervals older than an age are merged into rows spanning a time (``1d:1m``).
_ROLLUP = re.compile(r"^\s*\d+\s*[smhdw]\s*:\s*\d+\s*[smhdw]\s*$")


@dataclass(frozen=True)
class RetentionSection:
    """``[tool.codewitness.retention]``: how long runtime facts are kept, and how finely."""

    keep_spool: bool = field(
        default=False,
        metadata=doc(
            "Keep spool segments after `codewitness ingest` stored them; by default a segment its sensor has"
            " finished with is deleted once stored."
        ),
    )
    rollup: tuple[str, ...] = field(
        default=("1h:1m", "1d:1h"),
        metadata=doc(
            "AGE:SPAN steps: runtime intervals older than AGE are merged into one row per SPAN (per function,"
            " service, revision and host), keeping calls, errors and latency histograms exact; exception"
            " captures older than AGE keep one per failure and SPAN, with the summed count."
        ),
    )
    events: str = field(
        default="30d",
        metadata=doc(
            "Captured exceptions, breaches, samples, sensor health and unwatched-function notes older than this"
            " are deleted; empty keeps them."
        ),
    )
    aggregates: str = field(
        default="",
        metadata=doc("Runtime intervals (and invariant counts) older than this are deleted; empty keeps them."),
    )
    on_ingest: bool = field(
        default=True,
        metadata=doc("`codewitness ingest` applies this retention after loading (as `codewitness store prune`)."),
    )

    def __post_init__(self) -> None:
        for step in self.rollup:
            if not _ROLLUP.match(step):
                raise ConfigError(f"retention.rollup: {step!r} is not AGE:SPAN such as 1d:1m or 7d:1h")
        for key in ("events", "aggregates"):
            value = getattr(self, key)
            if value and not _AGE.match(value):
                raise ConfigError(f"retention.{key}: {value!r} is not an age such as 30d or 2w (empty keeps forever)")


@dataclass(frozen=True)
class BehaviorSection:
    """``[tool.codewitness.behavior]``: replaying captured inputs against other revisions."""

    python: str = field(
        default="",
        metadata=doc("The interpreter replays run the project's code with; empty means the one running codewitness."),
    )
    paths: tuple[str, ...] = field(
        default=("", "src"),
        metadata=doc("Folders (relative to the checkout) put first on sys.path in a replay, when they exist."),
    )
    timeout: float = field(
        default=10.0, metadata=doc("Seconds one replayed call may take before it is stopped.", minimum=0.1)
    )
    import_timeout: float = field(
        default=60.0, metadata=doc("Seconds importing the function's module may take in a replay.", minimum=1)
    )
    budget: float = field(
        default=600.0,
        metadata=doc("Seconds one replay (every function, both sides) may take; inputs left are counted.", minimum=1),
    )
    repeat: int = field(
        default=2,
        metadata=doc(
            "Runs of each input on each side, each in its own process with its own hash seed; inputs whose"
            " runs disagree are non-deterministic.",
            minimum=1,
        ),
    )
    max_inputs: int = field(
        default=1000,
        metadata=doc("The most corpus inputs replayed per function (the most recently seen first).", minimum=1),
    )
    numbers: str = field(
        default="strict",
        metadata=doc("strict: 2 and 2.0 differ; loose: numbers compare by value.", choices=("strict", "loose")),
    )
    float_rel: float = field(default=0.0, metadata=doc("Relative tolerance for comparing floats.", minimum=0))
    float_abs: float = field(default=0.0, metadata=doc("Absolute tolerance for comparing floats.", minimum=0))
    ignore: tuple[str, ...] = field(
        default=(),
        metadata=doc("Paths left out of comparisons: result.id, result.items[*].created_at, raised.message."),
    )
    ignore_keys: tuple[str, ...] = field(
        default=(),
        metadata=doc("Regular expressions on key and field names left out of comparisons anywhere, e.g. '^trace_'."),
    )
    exclude: tuple[str, ...] = field(
        default=(),
        metadata=doc("Functions never replayed (side effects): glob patterns on module.qualname."),
    )
    shown: int = field(
        default=5, metadata=doc("Differing inputs shown per function in a replay report.", minimum=1)
    )
    threshold: float = field(
        default=0.0,
        metadata=doc(
            "Share of a baseline's inputs that may differ before `baseline check` alarms (0.02 = 2%).",
            minimum=0.0,
            maximum=1.0,
        ),
    )


@dataclass(frozen=True)
class Config:
    """The effective configuration. Sections are nested frozen dataclasses."""

    database: str = field(
        default="",
        metadata=doc(
            "Database URL: sqlite:///path or postgresql://user@host/db. Empty means "
            "sqlite:///<project root>/.codewitness/witness.db."
        ),
    )
    check: CheckSection = field(default_factory=CheckSection, metadata=doc("The merge gate."))
    capture: CaptureSection = field(default_factory=CaptureSection, metadata=doc("Agent hooks and commit linking."))
    sensor: SensorSection = field(
        default_factory=SensorSection,
        metadata=doc("The runtime sensor (codewitness.init / codewitness run)."),
    )
    metrics: MetricsSection = field(default_factory=MetricsSection, metadata=doc("Quality metrics."))
    alerts: AlertsSection = field(default_factory=AlertsSection, metadata=doc("Alert rules and channels."))
    otel: OtelSection = field(default_factory=OtelSection, metadata=doc("Generation events over OTLP."))
    invariants: tuple[InvariantRule, ...] = field(
        default=(),
        metadata=doc("[[invariants]] rules applied by the sensor: function, ensure or require, name, mode."),
    )
    review: tuple[ReviewRule, ...] = field(
        default=(),
        metadata=doc("[[review]] rules: function and rate; sampled calls go to the review queue."),
    )
    retention: RetentionSection = field(
        default_factory=RetentionSection,
        metadata=doc("How long runtime facts are kept, and how finely (codewitness ingest, codewitness store prune)."),
    )
    behavior: BehaviorSection = field(
        default_factory=BehaviorSection,
        metadata=doc("Replay, baselines and drift: how inputs are replayed and outcomes compared."),
    )


@dataclass(frozen=True)
class LoadedConfig:
    """A configuration together with where it was read from.

    Attributes:
        config: the effective values.
        root: the project root the files were looked up in.
        sources: dotted key -> ``"default"``, a file name, or ``"env NAME"``.
        files: the configuration files that were read.
    """

    config: Config
    root: Path
    sources: dict[str, str]
    files: tuple[Path, ...]

    @property
    def database_url(self) -> str:
        """The database URL, with the default filled in."""
        return self.config.database or default_database_url(self.root)

    def path(self, value: str) -> Path:
        """A path setting (``sensor.manifest``, ``sensor.spool_dir``) as a path: relative ones start
        at the project root, so a command run from a subfolder finds the same files."""
        return self.root / value


def default_database_url(root: Path) -> str:
    """The default store: a SQLite file under the project's ``.codewitness`` folder."""
    return f"sqlite:///{(root / '.codewitness' / 'witness.db').resolve()}"


def find_project_root(start: Path) -> Path:
    """The nearest folder at or above ``start`` that holds ``.git`` or ``codewitness.toml``.

    Falls back to the nearest folder with a ``pyproject.toml``, then to ``start`` itself.
    """
    start = start.resolve()
    candidates = [start, *start.parents]
    for folder in candidates:
        if (folder / ".git").exists() or (folder / "codewitness.toml").is_file():
            return folder
    for folder in candidates:
        if (folder / "pyproject.toml").is_file():
            return folder
    return start


def load_config(start: Path | None = None, environ: Mapping[str, str] | None = None) -> LoadedConfig:
    """Read the configuration for the project that contains ``start``.

    Args:
        start: a folder inside the project; the current directory when omitted.
        environ: the environment to read ``CODEWITNESS_*`` from; ``os.environ`` when omitted.

    Returns:
        The effective configuration and where each value came from.

    Raises:
        ConfigError: a file is not valid TOML, a key is unknown, or a value has the wrong type.
    """
    root = find_project_root(start or Path.cwd())
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    files: list[Path] = []

    pyproject = root / "pyproject.toml"
    read = _read_toml(pyproject)
    if read is not None:
        table = read.get("tool", {}).get("codewitness")
        if table is not None:
            if not isinstance(table, dict):
                raise ConfigError(f"{pyproject}: [tool.codewitness] must be a table")
            _merge(Config, table, values, sources, source="pyproject.toml", prefix="")
            files.append(pyproject)
    own = root / "codewitness.toml"
    read = _read_toml(own)
    if read is not None:
        _merge(Config, read, values, sources, source="codewitness.toml", prefix="")
        files.append(own)
    _merge_environment(env, values, sources)

    config = _build(Config, values)
    all_sources = {key: sources.get(key, "default") for key in _leaf_keys(Config)}
    all_sources.update(sources)
    return LoadedConfig(config=config, root=root, sources=all_sources, files=tuple(files))


def settings_table(config: Config) -> list[tuple[str, Any, str]]:
    """Every leaf setting as (dotted key, value, help text), in declaration order."""
    rows: list[tuple[str, Any, str]] = []

    def walk(obj: Any, prefix: str) -> None:
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            key = f"{prefix}{f.name}"
            if dataclasses.is_dataclass(value) and not isinstance(value, type):
                walk(value, key + ".")
            else:
                rows.append((key, value, f.metadata.get("doc", "")))

    walk(config, "")
    return rows


def plain_value(value: Any) -> Any:
    """A setting's value as JSON has it: rules as objects, lists as lists (for ``config --json``)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain_value(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (tuple, list)):
        return [plain_value(item) for item in value]
    return value


def env_settable(dotted_key: str) -> bool:
    """Whether a ``CODEWITNESS_*`` variable can set ``dotted_key`` (arrays of tables cannot)."""
    cls: Any = Config
    parts = dotted_key.split(".")
    for part in parts[:-1]:
        cls = _hints(cls)[part]
    return _table_list_item(_hints(cls)[parts[-1]]) is None


def env_name(dotted_key: str) -> str:
    """The environment variable that sets ``dotted_key`` (``sensor.interval`` -> ``CODEWITNESS_SENSOR_INTERVAL``)."""
    return ENV_PREFIX + dotted_key.replace(".", "_").replace("-", "_").upper()


# -- internals -------------------------------------------------------------------------------


#: The largest configuration file read (a pyproject.toml is a few kilobytes).
CONFIG_MAX_BYTES = 4 * 1024 * 1024


def _read_toml(path: Path) -> dict[str, Any] | None:
    """The TOML table in ``path``, or ``None`` when there is no such file.

    Raises:
        ConfigError: it is not a regular file (a link to ``/dev/zero``, a FIFO, a folder: refused at
            once, never read forever or waited on), too large, unreadable, not UTF-8 or not TOML.
    """
    data, problem = read_bytes(path, CONFIG_MAX_BYTES)
    if data is None:
        if problem is None:
            return None
        raise ConfigError(f"{path}: {problem}")
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None


@functools.lru_cache(maxsize=64)
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)  # read-only for callers: the answer is shared


def _is_section(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def _table_list_item(tp: Any) -> type | None:
    """For ``tuple[Section, ...]`` (an array of tables) return ``Section``."""
    if typing.get_origin(tp) is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis and _is_section(args[0]):
            return typing.cast(type, args[0])
    return None


def _leaf_keys(cls: type, prefix: str = "") -> list[str]:
    keys: list[str] = []
    hints = _hints(cls)
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        if _is_section(tp):
            keys.extend(_leaf_keys(tp, f"{prefix}{f.name}."))
        else:
            keys.append(f"{prefix}{f.name}")
    return keys


def _merge(
    cls: type,
    table: Mapping[str, Any],
    values: dict[str, Any],
    sources: dict[str, str],
    *,
    source: str,
    prefix: str,
) -> None:
    hints = _hints(cls)
    known = {f.name: f for f in dataclasses.fields(cls)}
    for key, raw in table.items():
        dotted = f"{prefix}{key}"
        if key not in known:
            close = ", ".join(sorted(known)) or "none"
            raise ConfigError(f"{source}: unknown setting {dotted!r} (known here: {close})")
        tp = hints[key]
        if _is_section(tp):
            if not isinstance(raw, dict):
                raise ConfigError(f"{source}: {dotted!r} must be a table")
            sub = values.setdefault(key, {})
            _merge(tp, raw, sub, sources, source=source, prefix=dotted + ".")
            continue
        values[key] = _coerce(tp, raw, known[key], dotted, source)
        sources[dotted] = source


def _merge_environment(env: Mapping[str, str], values: dict[str, Any], sources: dict[str, str]) -> None:
    by_env = {env_name(key): key for key in _leaf_keys(Config)}
    by_env.update(ENV_ALIASES)
    for name in sorted(env):
        if not name.startswith(ENV_PREFIX) or name in ENV_RESERVED:
            continue
        key = by_env.get(name)
        if key is None:
            raise ConfigError(
                f"unknown environment variable {name}; `codewitness config` lists the settings "
                "(set CODEWITNESS_<SECTION>_<KEY>)"
            )
        cls: type = Config
        target = values
        parts = key.split(".")
        for part in parts[:-1]:
            cls = _hints(cls)[part]
            target = target.setdefault(part, {})
        f = next(f for f in dataclasses.fields(cls) if f.name == parts[-1])
        tp = _hints(cls)[parts[-1]]
        target[parts[-1]] = _coerce(tp, _parse_env(tp, env[name], name), f, key, f"env {name}")
        sources[key] = f"env {name}"


def _parse_env(tp: Any, text: str, name: str) -> Any:
    base = _strip_optional(tp)
    if base is bool:
        lowered = text.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off", ""}:
            return False
        raise ConfigError(f"env {name}: expected true/false, got {text!r}")
    if base is int or base is float:
        try:
            return base(text)
        except ValueError:
            raise ConfigError(f"env {name}: expected a number, got {text!r}") from None
    if typing.get_origin(base) is tuple:
        if _table_list_item(base) is not None:
            raise ConfigError(f"env {name}: a list of tables cannot be set from the environment")
        return _parse_env_list(text, name)
    return text


def _parse_env_list(text: str, name: str) -> tuple[str, ...]:
    """A list from an environment variable: a JSON array of strings, or a comma-separated list.

    Anything else that looks like JSON (an object, a broken array, quoted text) is refused rather
    than split at its commas into pieces nobody meant.
    """
    stripped = text.strip()
    if stripped.startswith("["):
        try:
            items = json.loads(stripped)
        except ValueError:
            items = None
        if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
            raise ConfigError(
                f'env {name}: not a JSON array of strings: {text!r} (write ["a", "b"], or a comma list: a,b)'
            )
        return tuple(items)
    if stripped.startswith(("{", '"', "'")):
        raise ConfigError(f'env {name}: expected a JSON array (["a", "b"]) or a comma list (a,b), got {text!r}')
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _strip_optional(tp: Any) -> Any:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


def _coerce(tp: Any, raw: Any, f: dataclasses.Field[Any], dotted: str, source: str) -> Any:
    base = _strip_optional(tp)
    if raw is None and base is not tp:
        return None
    item_cls = _table_list_item(base)
    if item_cls is not None:
        if not isinstance(raw, list) or not all(isinstance(item, dict) for item in raw):
            raise ConfigError(f"{source}: {dotted!r} must be an array of tables ([[...]])")
        built = []
        for index, item in enumerate(raw):
            sub: dict[str, Any] = {}
            _merge(item_cls, item, sub, {}, source=source, prefix=f"{dotted}[{index}].")
            built.append(_build(item_cls, sub, where=f"{source}: {dotted}[{index}]"))
        return tuple(built)
    if typing.get_origin(base) is tuple:
        if isinstance(raw, str):
            raw = [raw]
        if not isinstance(raw, (list, tuple)) or not all(isinstance(item, str) for item in raw):
            raise ConfigError(f"{source}: {dotted!r} must be a list of strings")
        value: Any = tuple(raw)
    elif base is bool:
        if not isinstance(raw, bool):
            raise ConfigError(f"{source}: {dotted!r} must be true or false, got {raw!r}")
        value = raw
    elif base is int:
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise ConfigError(f"{source}: {dotted!r} must be a whole number, got {raw!r}")
        value = raw
    elif base is float:
        if isinstance(raw, bool) or not isinstance(raw, (int, float)):
            raise ConfigError(f"{source}: {dotted!r} must be a number, got {raw!r}")
        value = float(raw)
    elif base is str:
        if not isinstance(raw, str):
            raise ConfigError(f"{source}: {dotted!r} must be a string, got {raw!r}")
        value = raw
    else:  # pragma: no cover - a field type the loader does not know is a programming error
        raise TypeError(f"config field {dotted} has unsupported type {tp!r}")
    choices = f.metadata.get("choices")
    if choices is not None and value not in choices:
        shown = ", ".join('""' if c == "" else str(c) for c in choices)
        raise ConfigError(f"{source}: {dotted!r} must be one of {shown}; got {value!r}")
    minimum = f.metadata.get("minimum")
    if minimum is not None and value < minimum:
        raise ConfigError(f"{source}: {dotted!r} must be at least {minimum}; got {value!r}")
    maximum = f.metadata.get("maximum")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{source}: {dotted!r} must be at most {maximum}; got {value!r}")
    return value


def _build(cls: type, values: dict[str, Any], where: str = "") -> Any:
    hints = _hints(cls)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name not in values:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                if _is_section(hints[f.name]):
                    kwargs[f.name] = _build(hints[f.name], {}, where)
                    continue
                raise ConfigError(f"{where or 'config'}: required setting {f.name!r} is missing")
            continue
        if _is_section(hints[f.name]):
            kwargs[f.name] = _build(hints[f.name], values[f.name], where)
        else:
            kwargs[f.name] = values[f.name]
    return cls(**kwargs)
