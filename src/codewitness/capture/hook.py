"""The hook entry point: ``python -m codewitness.capture.hook <agent>`` (and git hooks).

Agent hooks run this on every file edit, so it imports the standard library and our light
capture modules only — never SQLAlchemy, Typer or Rich — and it never fails the agent: every
problem (malformed payload, file outside the repository, binary file, a bug of ours) is written
as one line to ``.codewitness/log`` and the process exits 0. Slow work (the ledger, the git
note) happens in the git hooks: ``python -m codewitness.capture.hook --git post-commit``,
``--git post-merge <squash>``, ``--git pre-push <remote> <url>`` (which pushes the notes too),
``--git prepare-commit-msg FILE [SOURCE]`` (which remembers the cherry-pick,
revert, merge or squash a commit finishes, and adds the ``Codewitness-Generation`` trailers when
configured) and ``--git post-rewrite <amend|rebase>`` (which
reads ``OLD NEW`` pairs on stdin).

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

    from codewitness.capture._base import HookOutput
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


#: The settings the hook needs, as the project's configuration gives them (see :func:`_settings`).
_SETTINGS = ("max_file_bytes", "database", "context", "context_since", "context_chars")


def _settings(root: StrPath) -> dict[str, Any]:
    """``capture.max_file_bytes``, the database URL and the ``capture.context*`` settings of the project.

    Loading the config costs more than a hook may spend, so the values are cached in
    ``.codewitness/hook-settings.json`` together with the modification times of the config files
    and the ``CODEWITNESS_*`` variables they came from; a change to either invalidates the cache.
    """
    stamps: dict[str, Any] = {}
    for name in ("pyproject.toml", "codewitness.toml"):
        try:
            stamps[name] = os.stat(os.path.join(root, name)).st_mtime_ns
        except OSError:
            stamps[name] = None
    import zlib

    # A checksum of the variables, not the variables: one of them may hold a token.
    env = "\x00".join(f"{k}={v}" for k, v in sorted(os.environ.items()) if k.startswith("CODEWITNESS_"))
    stamps["env"] = zlib.crc32(env.encode("utf-8", "surrogateescape"))
    cache = os.path.join(root, ".codewitness", "hook-settings.json")
    from codewitness._read import read_bytes

    data, _problem = read_bytes(cache, 65_536, follow=False)
    try:
        cached = _lean.loads(data) if data is not None else None
        if isinstance(cached, dict) and cached["stamps"] == stamps and all(k in cached for k in _SETTINGS):
            return cached
    except (ValueError, KeyError, TypeError):
        pass
    import json
    from pathlib import Path

    from codewitness.config import load_config

    loaded = load_config(Path(root))
    section = loaded.config.capture
    values: dict[str, Any] = {
        "stamps": stamps,
        "max_file_bytes": section.max_file_bytes,
        "database": loaded.database_url,
        "context": section.context,
        "context_since": section.context_since,
        "context_chars": section.context_chars,
    }
    from codewitness._files import write_atomically

    try:
        os.makedirs(os.path.dirname(cache), mode=0o700, exist_ok=True)
        write_atomically(cache, json.dumps(values), private=True)
    except OSError:  # the cache only saves time
        pass
    return values


def _max_bytes(root: StrPath) -> int:
    """``capture.max_file_bytes`` of the project (from the cached settings)."""
    return int(_settings(root)["max_file_bytes"])


def handle_agent(agent: str, data: bytes, cwd: str) -> tuple[str, HookOutput | None]:
    """Capture one agent hook payload; returns a one-line summary (also logged when notable) and,
    for an event whose answer can carry context, the live problems of the files concerned.

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
        return f"ignored: {exc}", None
    if parsed.cwd:
        root = find_root(parsed.cwd) or root
    if root is None:
        return "not in a git repository", None
    folder = os.path.join(root, ".codewitness")
    settings = _settings(root)
    with Journal.open(folder) as journal:
        outcome = run(
            module.AGENT,
            parsed,
            journal,
            root,
            transcript=module.from_transcript,
            max_bytes=int(settings["max_file_bytes"]),
        )
    for reason in outcome.skipped:
        log(folder, agent, f"skipped {reason}")
    summary = f"{outcome.snapshots} snapshots, {outcome.edits} edits, {len(outcome.skipped)} skipped"
    event = payload.get("hook_event_name")
    if not settings["context"] or event not in module.CONTEXT_EVENTS:
        return summary, None
    try:
        from codewitness.capture.context import context_for

        text = context_for(root, parsed, settings)
    except Exception as exc:  # context is a courtesy: never let it cost the capture or the agent
        log(folder, agent, f"context not given: {type(exc).__name__}: {exc}")
        return summary, None
    return summary, (module.context_output(event, text) if text else None)


def handle_git(hook: str, args: list[str], stdin: str, cwd: str) -> str:
    """Run the work of one git hook (``post-commit``, ``post-merge``, ``post-rewrite``, ``prepare-commit-msg``)."""
    from pathlib import Path

    from codewitness._git import repo_root
    from codewitness.capture import commit as linking

    root = repo_root(Path(cwd))
    if hook == "prepare-commit-msg":
        sources = linking.record_sources(root)
        finishing = f"finishing {', '.join(f'{s.how} of {s.rev[:12]}' for s in sources) or 'nothing'}"
        return f"{finishing}; {_generation_trailers(root, args)}"
    if hook == "post-commit":
        if linking.rewrite_in_progress(root):
            return "rebase in progress: notes are carried by post-rewrite"
        result = linking.link_commit(root, sources=linking.local_sources(root))
        return _summary(result)
    if hook == "post-merge":
        from codewitness.capture.sync import merge_remote_notes

        merged = linking.link_merge(root, squash=args[:1] == ["1"])
        fetched = merge_remote_notes(root)  # a `git pull` fetched the remote's notes to its tracking ref
        summary = _summary(merged) if merged is not None else "no merge commit to link"
        return summary + "".join(f"; merged {ref}" for ref in fetched)
    if hook == "pre-push":
        from codewitness.capture.sync import push_notes

        return push_notes(root, args[0] if args else "", stdin)
    if hook == "post-rewrite":
        done = 0
        for line in stdin.splitlines():
            parts = line.split()
            if len(parts) >= 2 and linking.remap(root, parts[0], parts[1]) is not None:
                done += 1
        return f"{done} notes carried ({args[0] if args else 'rewrite'})"
    raise ValueError(f"unknown git hook {hook!r}")


def _summary(result: Any) -> str:
    d = result.note.delta
    carried = "".join(f"; {s.how} of {s.rev[:12]}" for s in result.sources)
    return f"{result.commit[:12]}: {d.ai_kept} ai, {d.ai_edited} mixed, {d.human} human lines{carried}"


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
            stdin = sys.stdin.read() if args[1] in ("post-rewrite", "pre-push") else ""
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
        _summary, answer = handle_agent(args[0], data, cwd)
        if answer is not None and answer.exit_code == 0 and answer.stdout:
            sys.stdout.write(answer.stdout)
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
