"""The hook entry point: ``python -m codewitness.capture.hook <agent>`` (and git hooks).

Agent hooks run this on every file edit, so it imports the standard library and our light
capture modules only — never SQLAlchemy, Typer or Rich — and it never fails the agent: every
problem (malformed payload, file outside the repository, binary file, a bug of ours) is written
as one line to ``.codewitness/log`` and the process exits 0. Slow work (the ledger, the git
note) happens in the git hooks: ``python -m codewitness.capture.hook --git post-commit``,
``--git post-rewrite <amend|rebase>`` (which reads ``OLD NEW`` pairs on stdin) and
``--git prepare-commit-msg FILE [SOURCE]`` (the ``Codewitness-Generation`` trailers, when configured).

Example:
    $ echo '{"hook_event_name": "PostToolUse", ...}' | python -m codewitness.capture.hook claude
"""

from __future__ import annotations

import importlib
import os
import sys
import time

from codewitness.capture import AGENT_MODULES, _lean

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

    from codewitness.capture._lean import StrPath

__all__ = ["LOG_NAME", "MAX_PAYLOAD_BYTES", "handle_agent", "handle_git", "log", "main"]

LOG_NAME = "log"
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
MAX_PAYLOAD_BYTES = 64_000_000
_LOG_LIMIT = 1_000_000


def log(folder: StrPath, source: str, message: str) -> None:
    """Append one line to ``folder/log`` (rotated to ``log.1`` past 1 MB); never raises."""
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        path = os.path.join(folder, LOG_NAME)
        if os.path.exists(path) and os.stat(path).st_size > _LOG_LIMIT:
            os.replace(path, path + ".1")
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        line = " ".join(message.split())[:2000]
        # Owner-only, and never through a link or into a FIFO planted in .codewitness/.
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | _NOFOLLOW | _NONBLOCK, 0o600)
        with open(fd, "a", encoding="utf-8") as handle:
            handle.write(f"{stamp} {source}: {line}\n")
    except Exception:  # noqa: S110 - logging must never break the agent
        pass


def _max_bytes(root: StrPath) -> int:
    """``capture.max_file_bytes``: from the environment, else from the project config.

    Loading the config costs more than a hook may spend, so the value is cached in
    ``.codewitness/hook-settings.json`` together with the modification times of the config
    files it came from; a changed file invalidates the cache.
    """
    raw = os.environ.get("CODEWITNESS_CAPTURE_MAX_FILE_BYTES")
    if raw is not None:
        return int(raw)
    stamps: dict[str, int | None] = {}
    for name in ("pyproject.toml", "codewitness.toml"):
        try:
            stamps[name] = os.stat(os.path.join(root, name)).st_mtime_ns
        except OSError:
            stamps[name] = None
    cache = os.path.join(root, ".codewitness", "hook-settings.json")
    from codewitness.capture._base import read_bytes

    data, _problem = read_bytes(cache, 65_536, follow=False)
    try:
        cached = _lean.loads(data) if data is not None else None
        if isinstance(cached, dict) and cached["stamps"] == stamps:
            return int(cached["max_file_bytes"])
    except (ValueError, KeyError, TypeError):
        pass
    import json
    from pathlib import Path

    from codewitness.config import load_config

    value = load_config(Path(root)).config.capture.max_file_bytes
    from codewitness._files import write_atomically

    try:
        os.makedirs(os.path.dirname(cache), mode=0o700, exist_ok=True)
        write_atomically(cache, json.dumps({"stamps": stamps, "max_file_bytes": value}), private=True)
    except OSError:  # the cache only saves time
        pass
    return value


def handle_agent(agent: str, data: bytes, cwd: str) -> str:
    """Capture one agent hook payload; returns a one-line summary (also logged when notable).

    Raises:
        Exception: anything; :func:`main` catches and logs it.
    """
    from codewitness.capture._base import PayloadError, find_root, run
    from codewitness.capture.journal import Journal

    module = importlib.import_module(AGENT_MODULES[agent])
    root = find_root(cwd)
    folder = os.path.join(root or cwd, ".codewitness")
    try:
        payload: Any = _lean.loads(data)
        if not isinstance(payload, dict):
            raise PayloadError("the payload is not a JSON object")
        parsed = module.parse(payload)
    except (ValueError, PayloadError) as exc:
        if root is not None:
            log(folder, agent, f"ignored payload: {exc}")
        return f"ignored: {exc}"
    if parsed.cwd:
        root = find_root(parsed.cwd) or root
    if root is None:
        return "not in a git repository"
    folder = os.path.join(root, ".codewitness")
    with Journal.open(folder) as journal:
        outcome = run(
            module.AGENT, parsed, journal, root, transcript=module.from_transcript, max_bytes=_max_bytes(root)
        )
    for reason in outcome.skipped:
        log(folder, agent, f"skipped {reason}")
    return f"{outcome.snapshots} snapshots, {outcome.edits} edits, {len(outcome.skipped)} skipped"


def handle_git(hook: str, args: list[str], stdin: str, cwd: str) -> str:
    """Run the work of one git hook (``post-commit``, ``post-rewrite`` or ``prepare-commit-msg``)."""
    from pathlib import Path

    from codewitness._git import repo_root

    root = repo_root(Path(cwd))
    if hook == "prepare-commit-msg":
        return _generation_trailers(root, args)
    from codewitness.capture import commit as linking

    if hook == "post-commit":
        if linking.rewrite_in_progress(root):
            return "rebase in progress: notes are carried by post-rewrite"
        result = linking.link_commit(root)
        d = result.note.delta
        return f"{result.commit[:12]}: {d.ai_kept} ai, {d.ai_edited} mixed, {d.human} human lines"
    if hook == "post-rewrite":
        done = 0
        for line in stdin.splitlines():
            parts = line.split()
            if len(parts) >= 2 and linking.remap(root, parts[0], parts[1]) is not None:
                done += 1
        return f"{done} notes carried ({args[0] if args else 'rewrite'})"
    raise ValueError(f"unknown git hook {hook!r}")


def _generation_trailers(root: Path, args: list[str]) -> str:
    """``capture.commit_trailer``: add a ``Codewitness-Generation`` trailer per staged generation."""
    from codewitness.config import load_config

    if not args or (len(args) > 1 and args[1] == "merge"):
        return "no message file, or a merge: no trailers"
    if not load_config(root).config.capture.commit_trailer:
        return "capture.commit_trailer is off"
    from codewitness._git import add_trailers
    from codewitness.attribution.trailers import GENERATION_TRAILER
    from codewitness.capture.commit import staged_generations
    from codewitness.capture.journal import Journal

    with Journal.open(os.path.join(root, ".codewitness")) as journal:
        generations = staged_generations(root, journal)
    if generations:
        add_trailers(root, args[0], [(GENERATION_TRAILER, g) for g in generations])
    return f"{len(generations)} generation trailer(s)"


def main(argv: list[str] | None = None) -> int:
    """Entry point; always returns 0 so that neither the agent nor git is ever blocked."""
    args = list(sys.argv[1:] if argv is None else argv)
    cwd = os.getcwd()
    source = args[0] if args else "hook"
    try:
        if args[:1] == ["--git"] and len(args) >= 2:
            source = f"git {args[1]}"
            stdin = sys.stdin.read() if args[1] == "post-rewrite" else ""
            summary = handle_git(args[1], args[2:], stdin, cwd)
            _log_near(cwd, source, summary)
            return 0
        if not args or args[0] not in AGENT_MODULES:
            _log_near(cwd, source, f"unknown agent {source!r}; expected one of {', '.join(AGENT_MODULES)}")
            return 0
        data = sys.stdin.buffer.read(MAX_PAYLOAD_BYTES + 1)
        if len(data) > MAX_PAYLOAD_BYTES:
            _log_near(cwd, source, f"payload over {MAX_PAYLOAD_BYTES} bytes ignored")
            return 0
        handle_agent(args[0], data, cwd)
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            return 0
        import traceback

        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        _log_near(cwd, source, f"error: {detail}")
    return 0


def _log_near(cwd: str, source: str, message: str) -> None:
    from codewitness.capture._base import find_root

    root = find_root(cwd)
    if root is not None:
        log(os.path.join(root, ".codewitness"), source, message)


if __name__ == "__main__":
    main()
    # A hook process is done once its journal rows are committed: leave without interpreter
    # teardown (and without SQLite's checkpoint-on-close, which the next commit does anyway).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
