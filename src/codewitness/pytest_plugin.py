"""The pytest plugin: invariants that fail tests, AI-code coverage, and a corpus from the test run.

Installed with codewitness and loaded by pytest through the ``pytest11`` entry point. On its own
it does one thing: invariant rules that do not name their own mode run in ``raise`` mode, so a
broken invariant fails the test with :class:`~codewitness.errors.InvariantViolation`. That holds
for decorators and for the project's ``[[tool.codewitness.invariants]]`` rules, which the plugin
binds by starting the runtime sensor in the test process (exporting nothing) when there are any;
a rule that does not compile is skipped and named in one summary line. The rest is asked for:

* ``--codewitness-coverage`` (or ini ``codewitness_coverage = true``): after the run, coverage of
  AI-written statements beside human ones, per file and in total, from the coverage.py data of the
  run (pytest-cov, ``coverage run -m pytest``, or an existing ``.coverage`` file) joined with the
  attribution of ``HEAD``. ``--codewitness-json FILE`` also writes it as JSON (and implies it).
* ``--codewitness-record`` (or ini ``codewitness_record = true``): the runtime sensor runs in the
  test process with every call of an AI-written function offered for sampling; the input/output
  pairs are loaded into the store at the end, as ``codewitness ingest`` would, and join the
  replay corpus as inputs of source ``pytest``.
* ``--codewitness-tests`` (or ini ``codewitness_tests = true``): each test's outcome is stored with
  the AI-written functions it ran and their generations (committed ones, and those of captured edits
  not yet committed), for the first-pass test pass rate of ``codewitness metrics``.

Nothing here fails a test run: an error of ours becomes one ``codewitness:`` line in the summary.

Example::

    pytest --cov=shop --codewitness-coverage --codewitness-json ai-coverage.json
    pytest --codewitness-invariants=record     # count breaches instead of failing
    pytest --codewitness-record --codewitness-manifest .codewitness/manifest.json
    pytest --codewitness-tests                 # outcomes of tests that run AI-written code
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Collection
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from codewitness.errors import CodewitnessError, MissingExtraError

if TYPE_CHECKING:
    from collections.abc import Generator

    from codewitness.attribution.aicoverage import AICoverage
    from codewitness.metrics.testruns import Tracker
    from codewitness.sensor import Sensor

_MODES = ("record", "warn", "raise")
_PLUGIN_NAME = "codewitness-session"
#: Seconds per sensor interval while recording: the samples (one per input shape first) start afresh every interval.
_RECORD_INTERVAL = 1.0


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add the ``--codewitness-*`` options and their ini settings."""
    group = parser.getgroup("codewitness", "codewitness: invariants, AI-code coverage, recording")
    group.addoption(
        "--codewitness-invariants",
        choices=_MODES,
        default=None,
        help="Mode of invariant rules that name none (default: ini codewitness_invariants, else raise).",
    )
    parser.addini("codewitness_invariants", "Mode of invariant rules that name none under pytest.", default="raise")
    group.addoption(
        "--codewitness-coverage",
        action="store_true",
        default=None,
        help="Report test coverage of AI-written lines beside human lines at the end of the run.",
    )
    parser.addini("codewitness_coverage", "Report AI-code coverage at the end of the run.", type="bool", default=False)
    group.addoption(
        "--codewitness-json",
        metavar="FILE",
        default=None,
        help="Also write the AI-code coverage as JSON to FILE (implies --codewitness-coverage).",
    )
    group.addoption(
        "--codewitness-record",
        action="store_true",
        default=None,
        help="Record input/output pairs of AI-written functions during the run into the store.",
    )
    parser.addini("codewitness_record", "Record AI functions' input/output pairs.", type="bool", default=False)
    group.addoption(
        "--codewitness-tests",
        action="store_true",
        default=None,
        help="Store each test's outcome with the AI-written functions it ran (for `codewitness metrics`).",
    )
    parser.addini("codewitness_tests", "Store test outcomes for the test pass rate.", type="bool", default=False)
    group.addoption(
        "--codewitness-manifest",
        metavar="FILE",
        default=None,
        help="Manifest of AI-written functions for --codewitness-record (default: sensor.manifest).",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Put invariants in the chosen mode and start the session's work."""
    mode = config.getoption("codewitness_invariants") or str(config.getini("codewitness_invariants")).strip()
    if mode not in _MODES:
        raise pytest.UsageError(f"codewitness_invariants = {mode!r}: use one of {', '.join(_MODES)}")
    session = _Session(config)
    config.pluginmanager.register(session, _PLUGIN_NAME)
    session.guard("invariants left in their default mode", lambda: session.set_mode(mode))


def pytest_unconfigure(config: pytest.Config) -> None:
    """Give the process back as it was: the previous invariant mode, no sensor of ours running."""
    session = config.pluginmanager.get_plugin(_PLUGIN_NAME)
    if isinstance(session, _Session):
        if session.tracker is not None:
            session.tracker.stop()
        session.stop_sensor()
        session.restore_mode()
        config.pluginmanager.unregister(session, _PLUGIN_NAME)


def _message(exc: BaseException) -> str:
    if isinstance(exc, CodewitnessError):
        return str(exc)
    return f"{type(exc).__name__}: {exc} (an error in codewitness; please report it)"


class _Session:
    """What the plugin does in one test session; every step is guarded and ends as a line of text."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.previous_mode: str | None = None
        self.worker = hasattr(config, "workerinput")  # a pytest-xdist worker: the controller reports
        self.json_path: str | None = config.getoption("codewitness_json")
        self.coverage_on = bool(
            config.getoption("codewitness_coverage") or config.getini("codewitness_coverage") or self.json_path
        )
        self.record_on = bool(config.getoption("codewitness_record") or config.getini("codewitness_record"))
        self.tests_on = bool(config.getoption("codewitness_tests") or config.getini("codewitness_tests"))
        self.tracker: Tracker | None = None
        self.test_started: Any = None
        self.outcomes: dict[str, str] = {}
        self.durations: dict[str, float] = {}
        self.touched: dict[str, list[Any]] = {}
        self.lines: list[str] = []  # the summary section
        self.table: list[str] = []
        self.sensor: Sensor | None = None
        self.spool: Path | None = None

    def guard(self, what: str, step: Callable[[], None]) -> None:
        """Run ``step``; an exception or warning from it becomes a summary line starting with ``what``."""
        # Warnings raised in our code would be errors under `filterwarnings = error`: they become lines too.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                step()
            except Exception as exc:
                self.lines.append(f"{what}: {_message(exc)}")
        for warning in caught:
            self.lines.append(f"{what}: warning: {warning.message}")

    # -- invariants ------------------------------------------------------------------------

    def set_mode(self, mode: str) -> None:
        """Make ``mode`` the default of rules without their own, remembering the one before."""
        from codewitness import invariants

        previous = invariants.default_mode()  # restored at unconfigure
        invariants.set_default_mode(mode)  # type: ignore[arg-type]  # checked against _MODES
        self.previous_mode = previous

    def restore_mode(self) -> None:
        """Put back the mode that was in force before :meth:`set_mode`."""
        if self.previous_mode is not None:
            from codewitness import invariants

            invariants.set_default_mode(self.previous_mode)  # type: ignore[arg-type]
            self.previous_mode = None

    # -- recording -------------------------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        if self.tests_on:
            self.guard("test outcomes not recorded", self._start_tests)
        if self.record_on:
            self.guard("recording not started", self._start_recording)
        else:
            self.guard("configured invariants not applied", self._apply_config_rules)

    def _config_rules(self) -> int:
        """How many ``[[invariants]]`` rules of the configuration compile; one line for each that does not."""
        from codewitness.config import load_config
        from codewitness.invariants import compile_config_rules

        entries = load_config(self.config.rootpath).config.invariants
        try:
            rules, problems = compile_config_rules(entries)
        except Exception as exc:  # a rule the compiler itself chokes on (e.g. nested too deeply)
            self.lines.append(f"configured invariants not applied: {_message(exc)}")
            return 0
        self.lines.extend(f"invariant skipped: {problem}" for problem in problems)
        return len(rules)

    def _apply_config_rules(self) -> None:
        """Bind the configuration's rules to their functions: through the sensor, as ``init()`` does."""
        from codewitness import sensor as sensor_module

        if not self._config_rules():
            return
        if sensor_module.active() is not None:
            return  # a sensor runs already (``codewitness run -- pytest``); init() gave it the rules
        from codewitness import init

        # Watching only; nothing leaves the process (no spool, HTTP or OpenTelemetry).
        self.sensor = init(service=self.config.rootpath.name, spool_dir="", endpoint="", otel=False)
        if self.sensor is None:
            raise CodewitnessError("the runtime sensor did not start (its reason is on the codewitness.sensor log)")

    def _start_recording(self) -> None:
        from codewitness import init
        from codewitness.config import load_config

        self._config_rules()  # init() below binds the rules that compile; the others are named here
        settings = load_config(self.config.rootpath).config.sensor
        manifest = self.config.getoption("codewitness_manifest")
        self.spool = Path(tempfile.mkdtemp(prefix="codewitness-pytest-"))
        self.sensor = init(
            service=settings.service or self.config.rootpath.name,
            manifest=manifest,
            spool_dir=self.spool,
            endpoint="",
            otel=False,
            sample_rate=1.0,
            interval=_RECORD_INTERVAL,
        )
        if self.sensor is None:
            raise CodewitnessError("the runtime sensor did not start (its reason is on the codewitness.sensor log)")

    def stop_sensor(self) -> None:
        """Stop our sensor (recording, or applying rules) if it still runs; idempotent."""
        sensor, self.sensor = self.sensor, None
        if sensor is None:
            return
        from codewitness import sensor as sensor_module

        if sensor_module.active() is sensor:
            sensor_module.shutdown()
        else:  # a test started a sensor of its own, which replaced (and so stopped) ours
            sensor.shutdown()

    def _ingest(self) -> None:
        from codewitness.config import load_config
        from codewitness.facts import Decoded
        from codewitness.ingest import IngestResult, ingest_batch, read_spool
        from codewitness.store import open_store

        if self.spool is None:
            return
        self.stop_sensor()
        url = load_config(self.config.rootpath).database_url
        functions: set[str] = set()

        def note_functions(records: list[dict[str, Any]]) -> None:
            functions.update(str(r.get("function")) for r in records if r.get("kind") == "sample")

        store = open_store(url)
        try:
            total = IngestResult()
            for segment in read_spool(self.spool):
                note_functions(segment.records)
                for record in segment.records:
                    if record.get("kind") == "sample":
                        record["source"] = "pytest"  # the corpus tells test inputs from production ones
                total.add(ingest_batch(store, Decoded(segment.records, segment.unreadable), source=str(segment.path)))
        finally:
            store.close()
            shutil.rmtree(self.spool, ignore_errors=True)
            self.spool = None
        samples = total.by_kind.get("sample", 0)
        others = ", ".join(f"{n} {kind}" for kind, n in sorted(total.by_kind.items()) if kind != "sample")
        self.lines.append(
            f"recorded {samples} input/output sample(s) of {len(functions)} AI function(s) into {_safe_url(url)}"
            + (f" (also {others})" if others else "")
            + (f"; {total.bad} unreadable record(s) skipped" if total.bad else "")
        )

    # -- test outcomes ----------------------------------------------------------------------

    def _start_tests(self) -> None:
        from codewitness.metrics.testruns import Tracker, ai_targets
        from codewitness.model import utcnow

        self.test_started = utcnow()
        targets = ai_targets(self.config.rootpath)
        tracker = Tracker(targets)
        tracker.start()
        self.tracker = tracker
        if not targets:
            self.lines.append("test outcomes: no AI-written functions in this work tree; outcomes stored without them")

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, None, None]:
        tracker = self.tracker
        if tracker is not None:
            tracker.begin()
        yield
        if tracker is not None:
            self.touched[item.nodeid] = tracker.end()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self.tracker is None:
            return
        self.durations[report.nodeid] = self.durations.get(report.nodeid, 0.0) + report.duration * 1000
        before = self.outcomes.get(report.nodeid, "passed")
        if report.failed:
            now = "failed" if report.when == "call" else "error"
            self.outcomes[report.nodeid] = before if before in ("failed", "error") else now
        elif report.skipped and before == "passed":
            self.outcomes[report.nodeid] = "skipped"
        else:
            self.outcomes.setdefault(report.nodeid, before)

    def _store_tests(self) -> None:
        import uuid

        from codewitness._git import resolve
        from codewitness.config import load_config
        from codewitness.model import utcnow
        from codewitness.store import open_store
        from codewitness.store.metrics import TestResult, TestRun, record_test_run

        tracker, self.tracker = self.tracker, None
        if tracker is None:
            return
        tracker.stop()
        results = []
        for nodeid, outcome in sorted(self.outcomes.items()):
            touched = self.touched.get(nodeid, [])
            generations = sorted({g for t in touched for g in t.generation_ids})
            results.append(
                TestResult(
                    nodeid, outcome, self.durations.get(nodeid, 0.0), tuple(t.name for t in touched), tuple(generations)
                )
            )
        root = self.config.rootpath
        run = TestRun(
            id=f"tr_{uuid.uuid4().hex[:20]}",
            started_at=self.test_started or utcnow(),
            finished_at=utcnow(),
            revision=resolve(root, "HEAD") if (root / ".git").exists() else None,
            results=tuple(results),
        )
        url = load_config(root).database_url
        with open_store(url) as store:
            record_test_run(store, run)
        ran_ai = sum(1 for r in results if r.functions)
        self.lines.append(
            f"test outcomes: {len(results)} test(s) stored, {ran_ai} of them ran AI-written functions"
            f" ({tracker.method}) into {_safe_url(url)}"
        )

    # -- AI coverage -----------------------------------------------------------------------

    def _coverage(self) -> None:
        from codewitness.attribution.aicoverage import measure

        found = _coverage_data(self.config)
        if found is None:
            self.lines.append(
                "AI coverage: no coverage data (run with pytest-cov, e.g. --cov=PACKAGE, "
                "or under `coverage run -m pytest`)"
            )
            return
        measured, source, unanalysable = found
        result = measure(self.config.rootpath, measured, source=source)
        for name in unanalysable:
            result.skipped[name] = "not analysable by coverage.py (no source, or not Python)"
        self._report(result)

    def _report(self, result: AICoverage) -> None:
        if not any(f.has_ai for f in result.files):
            self.lines.append(
                f"AI coverage: no AI-written statements among the {len(result.files)} measured file(s) "
                f"of this repository at {result.revision[:12]} (no attribution: notes, imports or agent trailers)"
            )
        else:
            title = f"AI coverage ({result.source}; attribution of {result.revision[:12]}; unit: statements)"
            self.table = [title, *result.table()]
        if self.json_path:
            target = Path(self.config.invocation_params.dir, self.json_path)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(result.to_dict(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
            self.lines.append(f"AI coverage written to {target}")

    # -- the end of the run ----------------------------------------------------------------

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.tracker is not None:
            self.guard("test outcomes not stored", self._store_tests)
        if self.spool is not None:
            self.guard("recording not stored", self._ingest)
        if self.coverage_on and not self.worker:
            self.guard("AI coverage not reported", self._coverage)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not (self.table or self.lines):
            return
        terminalreporter.write_sep("-", "codewitness")
        for line in self.table:
            terminalreporter.write_line(line)
        for line in self.lines:
            terminalreporter.write_line(f"codewitness: {line}")


def _safe_url(url: str) -> str:
    """The store URL without a password."""
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        credentials, _, host = rest.rpartition("@")
        user = credentials.split(":", 1)[0]
        return f"{scheme}{sep}{user}:***@{host}"
    return url


def _coverage_data(
    config: pytest.Config,
) -> tuple[dict[str, tuple[Collection[int], Collection[int]]], str, list[str]] | None:
    """Statements and executed statements per measured file, where they came from, and files it cannot analyse.

    The data of this run when there is some (pytest-cov's combined data, or the live
    ``coverage run``), else the ``.coverage`` file (``COVERAGE_FILE``) in the invocation folder.
    """
    try:
        import coverage
    except ImportError:
        raise MissingExtraError("report", "AI coverage under pytest") from None
    cov: Any = None
    plugin = config.pluginmanager.getplugin("_cov")
    controller = getattr(plugin, "cov_controller", None)
    if controller is not None and getattr(controller, "cov", None) is not None:
        cov, source = controller.cov, "pytest-cov"
    elif coverage.Coverage.current() is not None:
        cov, source = coverage.Coverage.current(), "coverage run"
    else:
        path = Path(config.invocation_params.dir, os.environ.get("COVERAGE_FILE", ".coverage"))
        if not path.is_file():
            return None
        cov = coverage.Coverage(data_file=str(path))
        cov.load()
        source = f"coverage data file {path.name}, which may predate this run"
    data = cov.get_data()
    measured: dict[str, tuple[Collection[int], Collection[int]]] = {}
    unanalysable: list[str] = []
    for name in sorted(data.measured_files()):
        try:
            _name, statements, _excluded, missing, _text = cov.analysis2(name)
        except coverage.exceptions.CoverageException:  # NoSource, NotPython: the file is gone or not Python now
            unanalysable.append(name)
            continue
        measured[name] = (statements, set(statements) - set(missing))
    return measured, source, unanalysable
