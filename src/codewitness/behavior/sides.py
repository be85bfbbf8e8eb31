"""The two sides of a replay: a revision checked out in a temporary git worktree (or the working
tree itself), and the runner processes that call the function there.

:func:`checkout` makes a detached worktree of a commit in a temporary folder and always removes it
(and git's record of it), however the replay ends. :func:`run_jobs` runs one function on a list
of inputs in a fresh process of the project's interpreter (``behavior.python``) with the
checkout first on ``sys.path``, a hash seed of its own, and the runner script
(:mod:`codewitness.behavior._runner`); it stops a call that takes longer than
``behavior.timeout`` (the input is counted as timed out and a new process goes on with the next),
and everything once the replay's ``budget`` is spent.

Example:
    >>> with checkout(root, "v1") as side:  # doctest: +SKIP
    ...     run = run_jobs(side, "shop.pricing.total", jobs, limits, seed=1)
    >>> run.outcomes["e1"]  # doctest: +SKIP
    {'ok': 1999}
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from codewitness._git import resolve, worktree_add, worktree_remove
from codewitness.errors import InputError, NotFoundError

__all__ = ["Limits", "Run", "Session", "Side", "checkout", "here", "resolve_commit", "run_jobs", "working_tree"]

_RUNNER = Path(__file__).with_name("_runner.py")
#: Environment variables a replay never passes on: the sensor's bootstrap and settings.
_DROPPED = ("CODEWITNESS_", "PYTHONHASHSEED", "PYTHONSTARTUP", "PYTHONINSPECT")


def _codec_path() -> Path:
    from codewitness.sensor import exact

    return Path(exact.__file__)


@dataclass(frozen=True)
class Side:
    """Where one side's code is: a checkout folder, the commit it holds (``None`` for the
    working tree as it is), and a label for reports."""

    root: Path
    commit: str | None
    label: str

    def to_dict(self) -> dict[str, Any]:
        """``{"label", "commit", "working_tree"}``."""
        return {"label": self.label, "commit": self.commit, "working_tree": self.commit is None}


@dataclass
class Limits:
    """The time limits and environment of the runner processes (``[tool.codewitness.behavior]``).

    Attributes:
        python: the interpreter (empty: the one running codewitness).
        paths: folders, relative to the checkout, put first on ``sys.path`` when they exist.
        timeout: seconds per call.
        import_timeout: seconds for starting and importing the function's module.
        deadline: ``time.monotonic()`` past which nothing more is run (the replay's budget).
        budget: the budget in seconds, for messages.
    """

    python: str = ""
    paths: tuple[str, ...] = ("", "src")
    timeout: float = 10.0
    import_timeout: float = 60.0
    deadline: float = float("inf")
    budget: float = 600.0

    def spent(self) -> bool:
        """Whether the replay's budget is spent."""
        return time.monotonic() >= self.deadline


@dataclass
class Run:
    """What one function's runs on one side gave: an outcome per job id, or a reason for all of them."""

    outcomes: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Set when the runner could not start at all (every job gets it as its error).
    fatal: str | None = None
    processes: int = 0


def working_tree(root: Path) -> Side:
    """The working tree as it is (uncommitted changes included)."""
    return Side(root=root, commit=None, label="working tree")


@contextmanager
def here(root: Path) -> Iterator[Side]:
    """The working tree as a side, as a context manager like :func:`checkout` (nothing to clean up)."""
    yield working_tree(root)


def resolve_commit(root: Path, rev: str) -> str:
    """The commit ``rev`` names.

    Raises:
        NotFoundError: it names no commit (a one-line message naming it).
    """
    found = resolve(root, rev)
    if found is None:
        raise NotFoundError(f"revision {rev!r} does not exist in {root} (check `git log --oneline`)")
    return found


@contextmanager
def checkout(root: Path, rev: str, label: str | None = None) -> Iterator[Side]:
    """A temporary, detached worktree of ``rev``; removed (folder and git's record) on the way out.

    Raises:
        NotFoundError: ``rev`` names no commit.
        GitError: git could not make the worktree.
    """
    commit = resolve_commit(root, rev)
    folder = Path(tempfile.mkdtemp(prefix="codewitness-replay-"))
    target = folder / "checkout"
    try:
        worktree_add(root, target, commit)
        yield Side(root=target, commit=commit, label=label or f"{rev} ({commit[:10]})")
    finally:
        worktree_remove(root, target)
        shutil.rmtree(folder, ignore_errors=True)


def _environment(seed: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_DROPPED)}
    bootstrap = str(Path(__file__).resolve().parent.parent / "_bootstrap")
    python_path = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and os.path.abspath(p) != bootstrap]
    if python_path:
        env["PYTHONPATH"] = os.pathsep.join(python_path)
    else:
        env.pop("PYTHONPATH", None)
    env["PYTHONHASHSEED"] = str(seed)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


class _Lines:
    """The runner's answers, read on a thread so that waiting for one can time out."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self._queue: queue.Queue[bytes | None] = queue.Queue()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[bytes]) -> None:
        try:
            for line in stream:
                self._queue.put(line)
        except (OSError, ValueError):  # the stream was closed under us: the process is gone
            pass
        finally:
            self._queue.put(None)

    def close(self) -> None:
        """After the process ended: let the reader finish, then close the pipe."""
        self._thread.join(timeout=5)
        self._stream.close()

    def next(self, timeout: float) -> dict[str, Any] | None:
        """The next answer; ``None`` when the runner ended. Raises ``queue.Empty`` on timeout."""
        while True:
            line = self._queue.get(timeout=max(timeout, 0.001))
            if line is None:
                return None
            try:
                answer = json.loads(line)
            except ValueError:
                continue  # not ours (a library writing to the inherited descriptor): skip it
            if isinstance(answer, dict):
                return answer


def _last_words(path: Path) -> str:
    try:
        lines = [ln for ln in path.read_text("utf-8", "replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return lines[-1][:300] if lines else ""


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def run_jobs(
    side: Side,
    jobs: Sequence[dict[str, Any]],
    limits: Limits,
    *,
    seed: int,
    file: tuple[Path, str] | None = None,
) -> Run:
    """Run every job (``{"id", "target", "input"}``: a function and an input) at ``side``, in as
    few processes as the time limits allow (one, unless a call times out or kills its process).

    Args:
        side: the checkout.
        jobs: the calls, each with a unique ``id``; a target is ``module.qualname`` or ``module:qualname``.
        limits: time limits and interpreter.
        seed: the processes' ``PYTHONHASHSEED``.
        file: ``(path, module)``: load this file as that module (a generated module); targets are
            then qualified names inside it, and its folder goes on ``sys.path`` too.

    Returns:
        An outcome per job id; jobs past a timeout or the budget get ``{"error": ...}``.

    Raises:
        InputError: the configured interpreter cannot be started.
    """
    python = limits.python or sys.executable
    paths = [str(side.root / p) if p else str(side.root) for p in limits.paths if (side.root / p).is_dir()]
    setup: dict[str, Any] = {"exact": str(_codec_path()), "paths": paths, "root": str(side.root)}
    if file is not None:
        path, module = file
        setup.update(file=str(path), module=module, root=str(path.parent), paths=[str(path.parent), *paths])
    run = Run()
    pending = list(jobs)
    with tempfile.TemporaryDirectory(prefix="codewitness-runner-") as scratch:
        while pending:
            if limits.spent():
                for job in pending:
                    run.outcomes[job["id"]] = {"error": f"not run: the replay's budget ({limits.budget:g} s) ran out"}
                break
            jobs_file = Path(scratch, f"jobs-{run.processes}.jsonl")
            jobs_file.write_text("".join(json.dumps(j, ensure_ascii=False) + "\n" for j in pending), "utf-8")
            log = Path(scratch, f"stderr-{run.processes}.txt")
            pending = _one_process(python, side, {**setup, "jobs": str(jobs_file)}, pending, limits, seed, log, run)
            run.processes += 1
            if run.fatal is not None:
                for job in pending:
                    run.outcomes[job["id"]] = {"error": run.fatal}
                break
    return run


def _one_process(
    python: str,
    side: Side,
    setup: dict[str, Any],
    pending: list[dict[str, Any]],
    limits: Limits,
    seed: int,
    log: Path,
    run: Run,
) -> list[dict[str, Any]]:
    """Start one runner and collect answers until it is done, stuck or dead; the jobs left."""
    with log.open("wb") as errors:
        try:
            proc = subprocess.Popen(
                [python, str(_RUNNER)],
                cwd=side.root,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=errors,
                env=_environment(seed),
            )
        except OSError as exc:
            raise InputError(f"cannot start {python} for a replay (behavior.python): {exc.strerror}") from None
        assert proc.stdin is not None and proc.stdout is not None
        lines: _Lines | None = None
        try:
            proc.stdin.write(json.dumps(setup).encode() + b"\n")
            proc.stdin.close()
            lines = _Lines(proc.stdout)
            try:
                first = lines.next(min(limits.import_timeout, max(limits.deadline - time.monotonic(), 0)))
            except queue.Empty:
                run.fatal = f"starting took longer than {limits.import_timeout:g} s (behavior.import_timeout)"
                return pending
            if first is None or "fatal" in first:
                run.fatal = (first or {}).get("fatal") or f"the runner ended at start: {_last_words(log)}"
                return pending
            index = 0
            while index < len(pending):
                job = pending[index]
                # A function's first call imports its module: that may take the import time.
                first_call = index == 0 or job["target"] != pending[index - 1]["target"]
                wait = min(
                    max(limits.timeout, limits.import_timeout if first_call else 0), limits.deadline - time.monotonic()
                )
                try:
                    answer = lines.next(wait)
                except queue.Empty:
                    if limits.spent():
                        return pending[index:]  # the caller counts them as not run
                    run.outcomes[job["id"]] = {"error": f"timed out after {limits.timeout:g} s (behavior.timeout)"}
                    return pending[index + 1 :]
                if answer is None:  # the process died inside this call (os._exit, a crash)
                    run.outcomes[job["id"]] = {"error": f"the process ended during the call: {_last_words(log)}"}
                    return pending[index + 1 :]
                if answer.get("id") != job["id"]:
                    continue
                run.outcomes[job["id"]] = answer.get("outcome") or {"error": "no outcome"}
                index += 1
            return []
        finally:
            _stop(proc)
            if lines is not None:
                lines.close()
            else:
                proc.stdout.close()


class Session:
    """One runner kept open for jobs sent one at a time (a property-based search asks many small
    questions): each call waits ``limits.timeout``; a call that times out or kills the process
    is answered with an error and the next call starts a fresh process.

    Use as a context manager; the process is stopped on the way out.

    Raises:
        InputError: the interpreter cannot be started.
    """

    def __init__(self, side: Side, limits: Limits, *, seed: int = 1) -> None:
        self.side = side
        self.limits = limits
        self.seed = seed
        self.fatal: str | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._lines: _Lines | None = None
        self._scratch = tempfile.TemporaryDirectory(prefix="codewitness-session-")
        self._count = 0
        self._loaded: set[Any] = set()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the process."""
        self._drop()
        self._scratch.cleanup()

    def _drop(self) -> None:
        """Stop the current process and close its pipes (the next call starts a new one)."""
        if self._proc is not None:
            if self._proc.stdin is not None:
                self._proc.stdin.close()
            _stop(self._proc)
            if self._lines is not None:
                self._lines.close()
            self._proc, self._lines = None, None

    def _start(self) -> bool:
        python = self.limits.python or sys.executable
        root = self.side.root
        paths = [str(root / p) if p else str(root) for p in self.limits.paths if (root / p).is_dir()]
        setup = {"exact": str(_codec_path()), "paths": paths, "root": str(root)}
        log = Path(self._scratch.name, f"stderr-{self._count}.txt")
        self._count += 1
        with log.open("wb") as errors:
            try:
                proc = subprocess.Popen(
                    [python, str(_RUNNER)],
                    cwd=root,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=errors,
                    env=_environment(self.seed),
                )
            except OSError as exc:
                raise InputError(f"cannot start {python} for a replay (behavior.python): {exc.strerror}") from None
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(json.dumps(setup).encode() + b"\n")
        proc.stdin.flush()
        lines = _Lines(proc.stdout)
        try:
            first = lines.next(self.limits.import_timeout)
        except queue.Empty:
            first = {"fatal": f"starting took longer than {self.limits.import_timeout:g} s (behavior.import_timeout)"}
        if first is None or "fatal" in first:
            self.fatal = (first or {}).get("fatal") or f"the runner ended at start: {_last_words(log)}"
            proc.stdin.close()
            _stop(proc)
            lines.close()
            return False
        self._proc, self._lines = proc, lines
        self._loaded = set()  # a new process imports again
        return True

    def ask(self, job: dict[str, Any]) -> dict[str, Any]:
        """Send one job (``{"target", "input"}`` or ``{"target", "describe": true}``); its answer, or
        ``{"error": ...}`` (the first call of a target may take the import time)."""
        if self.fatal is not None:
            return {"error": self.fatal}
        if self._proc is None and not self._start():
            return {"error": self.fatal or "the runner did not start"}
        assert self._proc is not None and self._proc.stdin is not None and self._lines is not None
        self._count += 1
        job = {**job, "id": str(self._count)}
        try:
            self._proc.stdin.write(json.dumps(job, ensure_ascii=False).encode() + b"\n")
            self._proc.stdin.flush()
            first = job.get("target") not in self._loaded
            self._loaded.add(job.get("target"))
            while True:
                answer = self._lines.next(max(self.limits.timeout, self.limits.import_timeout if first else 0))
                if answer is None:
                    raise BrokenPipeError
                if answer.get("id") == job["id"]:
                    return answer
        except queue.Empty:
            self._drop()
            return {"error": f"timed out after {self.limits.timeout:g} s (behavior.timeout)"}
        except (BrokenPipeError, OSError):
            self._drop()
            return {"error": "the process ended during the call"}
