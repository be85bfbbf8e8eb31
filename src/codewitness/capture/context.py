"""What an agent's hook tells the agent before it edits a file: the live problems of that file's functions.

Called by :mod:`codewitness.capture.hook` on the events whose answer can carry context
(``CONTEXT_EVENTS`` of each agent module: Claude Code's and Codex's ``PreToolUse`` and
``UserPromptSubmit``, Gemini CLI's ``BeforeAgent``). The files are the ones the tool is about to
change, or the Python files a prompt names that exist in the repository. The answer lists, for
each function of those files with a live problem (:mod:`codewitness.views.problems`), who wrote
it (generation, model, the prompt's first words), its exceptions with the newest inputs, its
broken invariants and its regressions -- at most ``capture.context_chars`` characters, and
nothing at all when there is nothing to say.

Standard library only, read only, no network: the store is read through ``sqlite3`` with a short
lock timeout; a store that is not SQLite, missing, or of another schema version gives no context.

Example:
    >>> context_for("/repo", parsed, {"database": "sqlite:////repo/.codewitness/witness.db",  # doctest: +SKIP
    ...     "context_since": "7d", "context_chars": 1500})
    'codewitness: live problems in app/calc.py (last 7d) ...'
"""

from __future__ import annotations

import os
import sqlite3

from codewitness.capture._base import Parsed, SessionInfo, Snapshot
from codewitness.capture._lean import dumps

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from codewitness.views.problems import FunctionProblems

__all__ = ["context_for", "files_named", "render"]

#: How long a hook waits for a lock on the store before giving up (seconds).
LOCK_TIMEOUT = 0.1
#: How much a hook reads of the store: SQLite virtual-machine instructions per answer, counted by
#: the thousand within each statement. Summing a file's intervals costs about 17 an interval, so
#: this is some 150,000 intervals of the file in the window (25-40 ms here). Past it, the intervals
#: are not summed: the answer has the exceptions and broken invariants (read down their indexes)
#: without regressions and slowdowns, and says so.
READ_STEPS = 2_500_000
_STEPS_PER_CHECK = 1_000
_UNREAD = "regressions and slowdowns not read: more runtime intervals than a hook reads; ask the MCP tool problems"
#: At most this many files named in one prompt are looked at.
MAX_PROMPT_FILES = 5
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
#: A Python file's name in a prompt (``app/calc.py``); compiled when a prompt is read (re costs a hook milliseconds).
_PY_FILE = r"(?<![\w/.-])((?:[\w.-]+/)*[\w.-]+\.py)\b"


def _age_seconds(text: str) -> int | None:
    """``7d`` -> seconds; ``None`` for anything that is not a number and a unit (s, m, h, d, w)."""
    text = text.replace(" ", "")
    if len(text) < 2 or text[-1] not in _UNITS or not text[:-1].isascii() or not text[:-1].isdigit():
        return None
    return int(text[:-1]) * _UNITS[text[-1]]


def _repo_relative(root: str, path: str, cwd: str | None) -> str | None:
    full = os.path.realpath(os.path.join(cwd or root, path))
    top = os.path.realpath(root)
    if full != top and not full.startswith(top + os.sep):
        return None
    return os.path.relpath(full, top).replace(os.sep, "/")


def files_named(root: str, prompt: str) -> list[str]:
    """Python files of the repository at ``root`` that ``prompt`` names (``app/calc.py``), in order."""
    import re

    found: list[str] = []
    for name in re.findall(_PY_FILE, prompt):
        rel = _repo_relative(root, name, None)
        if rel is not None and rel not in found and os.path.isfile(os.path.join(root, rel)):
            found.append(rel)
        if len(found) >= MAX_PROMPT_FILES:
            break
    return found


def _short_path(where: str, top: str | None) -> str:
    return where[len(top) :] if top and where.startswith(top) else where


def _one_line(text: str, limit: int) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _json_short(value: Any, limit: int) -> str:
    return _one_line(dumps(value), limit)


def render(
    found: list[FunctionProblems],
    prompts: dict[str, Any],
    paths: list[str],
    since: str,
    budget: int,
    root: str = "",
    *,
    revisions: bool = True,
) -> str:
    """The context text: one block per function, worst first, cut to ``budget`` characters (file names
    under ``root`` shown relative to it; without ``revisions``, a word that regressions were not read)."""
    top = os.path.realpath(root) + os.sep if root else None
    window = f"last {since}" if revisions else f"last {since}; {_UNREAD}"
    head = f"codewitness: live problems in {', '.join(paths)} ({window}); mind them when changing this code:"
    blocks = []
    for f in found:
        who = f.origin if f.origin != "mixed" else f"mixed ({f.ai_share:.0%} AI)"
        written = []
        for gid in f.generation_ids[:2]:
            record = prompts.get(gid)
            if record is None:
                written.append(gid)
            else:
                written.append(f'{gid} by {record["model"]}, prompt "{_one_line(record["prompt"], 100)}"')
        by = f"; written by {'; '.join(written)}" if written else ""
        lines = [f"- {f.function} ({f.path}:{f.line}; {who}{by})"]
        e = f.latest_exception
        if e is not None:
            counts = ", ".join(f"{t} x{n}" for t, n in f.exception_types.items())
            at = f" at {_short_path(e['where'], top)}" if e["where"] else ""
            lines.append(
                f"  raised {counts}; newest {e['time']}: {e['type']}: {_one_line(e['message'], 120)}"
                f" with inputs {_json_short(e['arguments'], 240)}{at}"
            )
        b = f.latest_breach
        if b is not None:
            rules = ", ".join(f"{r} x{n}" for r, n in f.breach_rules.items())
            result = f" result {_json_short(b['result'], 80)}" if b["result"] is not None else ""
            lines.append(
                f"  invariant broken: {rules}; newest: {b['kind']} {_one_line(b['expression'], 80)}"
                f" with inputs {_json_short(b['arguments'], 160)}{result}"
            )
        r = f.revisions
        if r is not None and r.regressed:
            lines.append(
                f"  regression at {r.revision}: error rate {r.error_rate:.1%}"
                f" (was {r.previous_error_rate:.1%} at {r.previous})"
            )
        if r is not None and r.slowed:
            lines.append(
                f"  slowdown at {r.revision}: mean {r.mean_ms:.3f} ms (was {r.previous_mean_ms:.3f} ms at {r.previous})"
            )
        blocks.append("\n".join(lines))
    text = head
    for i, block in enumerate(blocks):
        more = f"\n(and {len(blocks) - i} more functions: ask the codewitness MCP server, tool problems)"
        if i > 0 and len(text) + 1 + len(block) > budget - len(more):
            text += more
            break
        text += "\n" + block
    return text if len(text) <= budget else text[: budget - 1] + "…"


def _bounded(conn: sqlite3.Connection, steps: int) -> None:
    """Interrupt the statements of ``conn`` once they have run ``steps`` more instructions in all."""
    left = [steps // _STEPS_PER_CHECK]

    def check() -> int:
        left[0] -= 1
        return 1 if left[0] < 0 else 0

    conn.set_progress_handler(check, _STEPS_PER_CHECK)


def context_for(root: str, parsed: Parsed, settings: dict[str, Any], *, steps: int = READ_STEPS) -> str | None:
    """The context for the files ``parsed`` is about, or ``None`` when there is nothing to say.

    At most ``steps`` SQLite instructions are spent summing intervals (:data:`READ_STEPS`); past
    them, the answer leaves regressions and slowdowns out and says so.

    Raises:
        sqlite3.Error: the store could not be read (the hook logs it and answers nothing).
    """
    paths: list[str] = []
    for action in parsed.actions:
        if isinstance(action, Snapshot):
            paths += [p for p in (_repo_relative(root, path, parsed.cwd) for path in action.paths) if p]
        elif isinstance(action, SessionInfo) and action.prompt:
            paths += files_named(root, action.prompt)
    paths = [p for p in dict.fromkeys(paths) if p.endswith(".py")]
    if not paths:
        return None
    since_text = str(settings.get("context_since") or "7d").strip()
    seconds = _age_seconds(since_text)
    if seconds is None:
        return None
    from codewitness.store.lite import open_readonly

    conn = open_readonly(str(settings["database"]), timeout=LOCK_TIMEOUT)
    if conn is None:
        return None
    try:
        from datetime import UTC, datetime, timedelta

        from codewitness.store.problems import GENERATION_PROMPT, sqlite_rows
        from codewitness.views.problems import file_problems

        rows = sqlite_rows(conn)
        since = datetime.now(UTC) - timedelta(seconds=seconds)
        revisions = True
        _bounded(conn, steps)
        try:
            found = file_problems(rows, paths, since=since)
        except sqlite3.OperationalError as exc:
            if "interrupt" not in str(exc):
                raise
            revisions = False  # too many intervals to sum before an edit: the events alone
            _bounded(conn, steps)
            found = file_problems(rows, paths, since=since, revisions=False)
        if not found:
            return None
        prompts: dict[str, Any] = {}
        for f in found:
            for gid in f.generation_ids[:2]:
                if gid not in prompts:
                    hit = rows(GENERATION_PROMPT, since=since, generation=gid)
                    if hit:
                        prompts[gid] = hit[0]
    finally:
        conn.close()
    shown = list(dict.fromkeys(f.path or "?" for f in found))
    return render(found, prompts, shown, since_text, int(settings["context_chars"]), root, revisions=revisions)
