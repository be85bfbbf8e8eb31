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

import dataclasses
import json
import sqlite3
import string
from collections import defaultdict
from contextlib import closing
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from secret_corpus import Secret, corpus, leaks
from tests.sensor_app import redactor as make_redactor

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
    with closing(sqlite3.connect(db)) as conn:
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
    # Exported here, on this thread: the last batch at shutdown gets 5 s on the exporter thread, and this
    # one (1,380 records to three exporters) took 2.7 to 7.3 s on a loaded machine, so it was lost there.
    assert codewitness.sensor.flush() > 0
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
    print(f"\n{len(items)} secrets through every path:\n{table}")
    assert not leaked, f"{len(leaked)} leaks:\n" + "\n".join(leaked[:40]) + f"\n{table}"


# -- an independent oracle: detect-secrets ---------------------------------------------------------

#: detect-secrets' plugins for secrets (its entropy plugins flag ordinary words out of context, and
#: a public IP address is not a secret the sensor hides).
DETECT_SECRETS_PLUGINS = (
    "AWSKeyDetector", "ArtifactoryDetector", "AzureStorageKeyDetector", "BasicAuthDetector", "CloudantDetector",
    "DiscordBotTokenDetector", "GitHubTokenDetector", "GitLabTokenDetector", "IbmCloudIamDetector",
    "IbmCosHmacDetector", "JwtTokenDetector", "KeywordDetector", "MailchimpDetector", "NpmDetector", "OpenAIDetector",
    "PrivateKeyDetector", "PypiTokenDetector", "SendGridDetector", "SlackDetector", "SoftlayerDetector",
    "SquareOAuthDetector", "StripeDetector", "TelegramBotTokenDetector", "TwilioKeyDetector",
)  # fmt: skip


def test_detect_secrets_finds_nothing_in_what_the_sensor_keeps() -> None:
    from detect_secrets.core.scan import scan_line
    from detect_secrets.settings import transient_settings

    redactor = make_redactor()
    recognised = []
    found_after = []
    with transient_settings({"plugins_used": [{"name": name} for name in DETECT_SECRETS_PLUGINS]}):
        for item in corpus():
            before = {s.type for line in item.text.splitlines() for s in scan_line(line)}
            if before:
                recognised.append(item.label)
            kept = [
                json.dumps(redactor.snapshot_arguments({item.param: item.value}), ensure_ascii=False),
                redactor.exception_message(ValueError(f"failed: {item.value}")),
                redactor.exception_message(ValueError(item.value)),
            ]
            for text in kept:
                for line in text.splitlines():
                    for secret in scan_line(line):
                        if "REDACTED" not in (secret.secret_value or ""):
                            found_after.append(f"{item.label}: {secret.type} in {line[:120]}")
    # detect-secrets knows about half of the corpus (the rest are shapes it does not scan for:
    # structures, headers, cookies, cards, URLs of most schemes); all of them are redacted.
    assert len(recognised) >= 50, recognised
    assert not found_after, "\n".join(found_after)


# -- generated secrets in generated shapes ---------------------------------------------------------

TOKEN = string.ascii_letters + string.digits
WORDS = st.lists(st.sampled_from(["order", "failed", "for", "user", "the", "request", "retry", "id", "42", "at"]))
PASSWORD_CHARS = TOKEN + "!$%^*-_.~+"


def _body(alphabet: str, low: int, high: int | None = None) -> st.SearchStrategy[str]:
    return st.text(alphabet, min_size=low, max_size=high or low)


@st.composite
def secrets(draw: st.DrawFn) -> tuple[str, str]:
    """A secret as text, and the part of it that must not be seen."""
    kind = draw(st.sampled_from(["prefixed", "jwt", "url", "keyword", "header", "card", "pem", "aws-id", "hex"]))
    if kind == "prefixed":
        prefix, alphabet, low, high = draw(
            st.sampled_from(
                [
                    ("ghp_", TOKEN, 36, 40),
                    ("github_pat_", TOKEN + "_", 40, 90),
                    ("glpat-", TOKEN + "-_", 20, 40),
                    ("xoxb-", string.digits + "-" + TOKEN, 20, 60),
                    ("xapp-", string.digits + "-" + TOKEN, 20, 60),
                    ("sk_live_", TOKEN, 24, 99),
                    ("rk_live_", TOKEN, 24, 99),
                    ("sk-proj-", TOKEN + "-_", 40, 160),
                    ("sk-ant-api03-", TOKEN + "-_", 80, 100),
                    ("AIza", TOKEN + "-_", 35, 35),
                    ("npm_", TOKEN, 36, 36),
                    ("pypi-AgEIcHlwaS5vcmc", TOKEN + "-_", 60, 200),
                    ("hf_", TOKEN, 34, 40),
                    ("shpat_", "0123456789abcdef", 32, 32),
                    ("dop_v1_", "0123456789abcdef", 64, 64),
                    ("sq0csp-", TOKEN + "-_", 43, 43),
                    ("SG.", TOKEN, 22, 22),
                ]
            )
        )
        body = draw(_body(alphabet, low, high))
        if prefix == "SG.":
            body += "." + draw(_body(TOKEN + "-_", 43))
        return prefix + body, body
    if kind == "jwt":
        parts = [draw(_body(TOKEN + "-_", 10, 80)) for _ in range(2)]
        return "eyJ" + draw(_body(TOKEN, 10, 40)) + "." + ".".join(parts), parts[1] if len(parts[1]) > len(
            parts[0]
        ) else parts[0]
    if kind == "url":
        scheme = draw(
            st.sampled_from(
                ["postgres", "postgresql+psycopg", "mysql", "redis", "rediss", "mongodb+srv", "amqp", "https"]
            )
        )
        password = draw(_body(PASSWORD_CHARS, 8, 40))
        user = draw(_body(string.ascii_lowercase, 0, 10))
        return f"{scheme}://{user}:{password}@db.internal:5432/app", password
    if kind == "keyword":
        name = draw(
            st.sampled_from(
                [
                    "password",
                    "PASSWORD",
                    "db_password",
                    "secret",
                    "client_secret",
                    "api_key",
                    "apiKey",
                    "access_token",
                    "token",
                    "passwd",
                    "pwd",
                    "AccountKey",
                    "sig",
                ]
            )
        )
        sep = draw(st.sampled_from(["=", ": ", " = ", "=>", '": "', "':'"]))
        value = draw(_body(PASSWORD_CHARS, 8, 40))
        return f"{name}{sep}{value}", value
    if kind == "header":
        name = draw(
            st.sampled_from(
                ["Authorization", "authorization", "Cookie", "Set-Cookie", "X-Api-Key", "Proxy-Authorization"]
            )
        )
        value = draw(_body(TOKEN + "+/=", 10, 60))
        scheme = draw(st.sampled_from(["", "Bearer ", "Basic ", "session="]))
        return f"{name}: {scheme}{value}", value
    if kind == "card":
        digits = draw(_body(string.digits, 15))
        check = next(d for d in string.digits if _luhn_ok(digits + d))
        number = digits + check
        sep = draw(st.sampled_from(["", " ", "-"]))
        return sep.join(number[i : i + 4] for i in range(0, 16, 4)), number[4:]
    if kind == "pem":
        lines = [draw(_body(TOKEN + "+/", 64)) for _ in range(draw(st.integers(1, 6)))]
        label = draw(st.sampled_from(["RSA PRIVATE KEY", "PRIVATE KEY", "EC PRIVATE KEY", "OPENSSH PRIVATE KEY"]))
        return f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----", lines[0]
    if kind == "aws-id":
        body = draw(_body(string.ascii_uppercase + string.digits, 16))
        return draw(st.sampled_from(["AKIA", "ASIA"])) + body, body
    body = draw(_body("0123456789abcdef", 64))
    return draw(st.sampled_from(["", "0x"])) + body, body


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


class Pair(NamedTuple):
    name: str
    value: Any


@dataclasses.dataclass
class Holder:
    label: str
    content: Any


SHAPES = [
    "text", "dict value", "dict key", "list", "tuple", "pair", "namedtuple", "dataclass", "bytes", "nested",
    "dict repr", "json", "cut value", "message", "cut message", "exception object",
]  # fmt: skip


@given(secret=secrets(), shape=st.sampled_from(SHAPES), before=WORDS, after=WORDS, cut=st.integers(-40, 40))
@settings(max_examples=600, deadline=None)
def test_generated_secrets_never_leak_from_generated_shapes(
    secret: tuple[str, str], shape: str, before: list[str], after: list[str], cut: int
) -> None:
    from codewitness.sensor.snapshot import REDACTED

    text, needle = secret
    around = " ".join(before) + " " + text + " " + " ".join(after)
    pieces = {needle} if len(needle) < 10 else {needle[i : i + 10] for i in range(0, len(needle) - 9)}
    # The secret must not also be a public part of what is shown (a user name equal to the password).
    # Nor a piece of the mark that replaces it (a password of "REDACTED").
    public = (around + " lorem x tail settings note error " + "x" * 80).replace(needle, " ", 1) + REDACTED
    assume(not [p for p in pieces if p in public])
    r = make_redactor(max_chars=256)
    shown: Any
    if shape == "text":
        shown = r.snapshot(around)
    elif shape == "dict value":
        shown = r.snapshot({"note": around, "n": 1})
    elif shape == "dict key":
        shown = r.snapshot({text: 1, "other": 2})
    elif shape == "list":
        shown = r.snapshot(["a", around, 3])
    elif shape == "tuple":
        shown = r.snapshot(("a", text, 3))
    elif shape == "pair":
        shown = r.snapshot([("x-note", text)])
    elif shape == "namedtuple":
        shown = r.snapshot(Pair("note", around))
    elif shape == "dataclass":
        shown = r.snapshot(Holder("note", [around]))
    elif shape == "bytes":
        shown = r.snapshot(around.encode())
    elif shape == "nested":
        shown = r.snapshot({"a": {"b": [{"c": around}]}})
    elif shape == "dict repr":
        shown = r.snapshot(f"settings: { {'note': text} }")
    elif shape == "json":
        shown = r.snapshot(json.dumps({"note": text}))
    elif shape == "cut value":  # the secret straddles the cut of a value
        shown = r.snapshot("lorem " * 60 + "x" * max(0, 256 - 360 + cut) + " " + text + " tail")
    elif shape == "message":
        shown = r.exception_message(ValueError(around))
    elif shape == "cut message":  # ... and of an exception message
        shown = r.exception_message(ValueError("lorem " * 333 + " " * max(0, cut + 2) + text + " tail"))
    else:
        shown = r.snapshot({"error": PermissionError(around)})
    out = json.dumps(shown, ensure_ascii=False)
    assert not [p for p in pieces if p in out], (shape, text, out)
