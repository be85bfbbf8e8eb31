"""Which AI-written functions each test runs: the input of the first-pass test pass rate.

:func:`ai_targets` lists the AI-written functions of the work tree as they are now, with the
generations behind them: the committed ones from the attribution of ``HEAD`` and, for files with
captured edits not yet committed, the pending ones (so the test run an agent starts right after its
edit counts as that edit's first run). :class:`Tracker` sees the calls of those functions while a
test runs: on Python 3.12+ through ``sys.monitoring`` (every other function is switched off after its
first call, so it costs nothing afterwards), on 3.11 through ``sys.setprofile``. The pytest plugin
(``pytest --codewitness-tests``) drives both and stores one :class:`~codewitness.store.metrics.TestRun`.

Example:
    >>> targets = ai_targets(Path("."))  # doctest: +SKIP
    >>> tracker = Tracker(targets); tracker.start()  # doctest: +SKIP
    >>> tracker.begin(); run_the_test(); touched = tracker.end()  # doctest: +SKIP
"""

from __future__ import annotations

import os
import sys
import threading
import types
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Target", "Tracker", "ai_targets"]


@dataclass(frozen=True)
class Target:
    """One AI-written function: its file (absolute, resolved), line span, name and generations."""

    path: str
    start: int
    end: int
    name: str
    generation_ids: tuple[str, ...]


def ai_targets(root: Path) -> list[Target]:
    """The AI-written Python functions of the work tree at ``root``, with their generations.

    Files with pending (not yet committed) agent edits are read from the work tree and labelled from
    the pending journal; every other file keeps its attribution at ``HEAD``. A repository without
    commits has pending targets only.
    """
    from codewitness._git import resolve
    from codewitness._statedir import STATE_DIR
    from codewitness.attribution.functions import function_spans, module_name
    from codewitness.capture.commit import complete_details, pending_labels
    from codewitness.capture.journal import Journal

    root = root.resolve()
    targets: list[Target] = []
    pending: dict[str, list[Any]] = {}
    if (root / STATE_DIR).is_dir():
        with Journal.open(root / STATE_DIR) as journal:
            # The generation ids must be those the commit will record: fill in model and prompt first.
            complete_details(journal)
            pending = {p: labels for p, labels in pending_labels(root, journal).items() if p.endswith(".py")}
    for path, labels in sorted(pending.items()):
        try:
            text = (root / path).read_text("utf-8")
            spans = function_spans(text)
        except (OSError, UnicodeDecodeError, SyntaxError, ValueError):
            continue
        module = module_name(path, set(pending))
        for span in spans:
            generations: dict[str, None] = {}
            for line in range(span.start_line, min(span.end_line, len(labels)) + 1):
                label = labels[line - 1]
                if label.kind in ("ai", "mixed"):
                    generations.update(dict.fromkeys(label.generations))
            if generations:
                name = f"{module}.{span.qualname}"
                targets.append(Target(str(root / path), span.start_line, span.end_line, name, tuple(generations)))
    if resolve(root, "HEAD") is not None:
        from codewitness.attribution.manifest import build_manifest

        for f in build_manifest(root, "HEAD").functions:
            if f.path in pending or not f.generation_ids:
                continue
            targets.append(Target(str(root / f.path), f.start_line, f.end_line, f.name, f.generation_ids))
    return targets


class Tracker:
    """Records which :class:`Target` functions run between :meth:`begin` and :meth:`end`.

    One tracker per process; :meth:`start` installs it and :meth:`stop` removes it. Calls from any
    thread count for the test that is running.
    """

    def __init__(self, targets: Iterable[Target]) -> None:
        self._by_file: dict[str, list[Target]] = {}
        for target in targets:
            self._by_file.setdefault(os.path.normcase(target.path), []).append(target)
        for spans in self._by_file.values():
            spans.sort(key=lambda t: t.end - t.start)  # the innermost span first
        self._codes: dict[types.CodeType, Target | None] = {}
        self._touched: set[Target] = set()
        self._lock = threading.Lock()
        self._tool: int | None = None
        self._started = False

    @property
    def method(self) -> str:
        """``sys.monitoring`` or ``sys.setprofile``."""
        return "sys.monitoring" if sys.version_info >= (3, 12) else "sys.setprofile"

    def _target(self, code: types.CodeType) -> Target | None:
        found = self._codes.get(code, False)
        if found is not False:
            return found  # type: ignore[return-value]
        hit: Target | None = None
        spans = self._by_file.get(os.path.normcase(os.path.realpath(code.co_filename))) if code.co_filename else None
        for target in spans or ():
            if target.start <= code.co_firstlineno <= target.end:
                hit = target
                break
        self._codes[code] = hit
        return hit

    def start(self) -> None:
        """Begin watching calls.

        Raises:
            RuntimeError: no free ``sys.monitoring`` tool id, or (3.11) another profiler is set.
        """
        if self._started:
            return
        if sys.version_info >= (3, 12):
            self._start_monitoring()
        else:
            if sys.getprofile() is not None:
                raise RuntimeError("another profiler is running (sys.setprofile); AI functions are not tracked")
            threading.setprofile(self._profile)
            sys.setprofile(self._profile)
        self._started = True

    def _start_monitoring(self) -> None:
        monitoring: Any = getattr(sys, "monitoring")  # noqa: B009 - 3.12+ only; mypy checks 3.11
        for tool in (4, 3, 5):
            if monitoring.get_tool(tool) is None:
                monitoring.use_tool_id(tool, "codewitness-tests")
                self._tool = tool
                break
        else:
            raise RuntimeError("no free sys.monitoring tool id; AI functions are not tracked")
        disable = monitoring.DISABLE

        def on_start(code: types.CodeType, offset: int) -> Any:
            target = self._target(code)
            if target is None:
                return disable
            self._touched.add(target)
            return None

        monitoring.register_callback(self._tool, monitoring.events.PY_START, on_start)
        monitoring.set_events(self._tool, monitoring.events.PY_START)

    def _profile(self, frame: types.FrameType, event: str, arg: Any) -> None:
        if event == "call":
            target = self._target(frame.f_code)
            if target is not None:
                self._touched.add(target)

    def stop(self) -> None:
        """Stop watching (idempotent)."""
        if not self._started:
            return
        self._started = False
        if self._tool is not None:
            monitoring: Any = getattr(sys, "monitoring")  # noqa: B009
            monitoring.set_events(self._tool, 0)
            monitoring.register_callback(self._tool, monitoring.events.PY_START, None)
            monitoring.free_tool_id(self._tool)
            self._tool = None
        else:
            sys.setprofile(None)
            threading.setprofile(None)

    def begin(self) -> None:
        """A test starts: forget what ran before."""
        with self._lock:
            self._touched = set()

    def end(self) -> list[Target]:
        """A test ended: the targets it ran, by name."""
        with self._lock:
            touched, self._touched = self._touched, set()
        return sorted(touched, key=lambda t: t.name)
