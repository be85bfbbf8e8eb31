"""The pending journal: agent edits captured by hooks and not yet linked to a commit.

A small SQLite file, ``.codewitness/pending.db``, written by the agent hooks with the
standard library only (the hook must start fast and never import SQLAlchemy). The
post-commit step reads it, writes the git note and moves generations into the ledger.

Tables:

* ``snapshots`` — file text taken by a *before* hook (PreToolUse / BeforeTool), keyed by the
  tool call, so the *after* hook can diff exact before/after snapshots.
* ``edits`` — one row per agent edit of one file: before/after text, the AI line spans, the
  edit's raw output, agent, session, model, prompt, tool call id.
* ``sessions`` — the latest prompt and model seen per agent session (for agents whose edit
  payloads do not carry them).

Example:
    >>> with Journal.open(".codewitness") as journal:  # doctest: +SKIP
    ...     journal.pending_paths()
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
import time
from collections.abc import Iterator
from types import TracebackType

from codewitness.capture._lean import NamedTuple, StrPath

__all__ = ["JOURNAL_NAME", "Journal", "PendingEdit"]

JOURNAL_NAME = "pending.db"
_VERSION = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS snapshots (
    key TEXT NOT NULL, path TEXT NOT NULL, content TEXT, created REAL NOT NULL,
    PRIMARY KEY (key, path)
);
CREATE TABLE IF NOT EXISTS edits (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    agent TEXT NOT NULL, session_id TEXT, tool_call_id TEXT, path TEXT NOT NULL,
    before TEXT, after TEXT NOT NULL, ai_lines TEXT NOT NULL, output TEXT NOT NULL,
    model TEXT, prompt TEXT, transcript_path TEXT, created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS edits_path ON edits (path, seq);
CREATE TABLE IF NOT EXISTS sessions (
    agent TEXT NOT NULL, session_id TEXT NOT NULL, prompt TEXT, model TEXT, updated REAL NOT NULL,
    PRIMARY KEY (agent, session_id)
);
"""


def _spans_text(spans: tuple[tuple[int, int], ...]) -> str:
    """``((1, 3), (5, 5))`` -> ``"1-3,5-5"`` (the ``ai_lines`` column)."""
    return ",".join(f"{a}-{b}" for a, b in spans)


def _spans(text: str) -> tuple[tuple[int, int], ...]:
    pairs = (part.split("-") for part in text.split(",") if part)
    return tuple((int(a), int(b)) for a, b in pairs)


def _claim(path: str) -> None:
    """Create the journal file readable by its owner only (it holds prompts and code; SQLite
    would create it 0644, and its -wal and -shm files take the same mode), and refuse anything
    but a regular file there: SQLite would wait forever on a FIFO, and write through a link.

    Raises:
        OSError: the file cannot be created or opened, or is not a regular file.
    """
    flags = os.O_RDONLY | os.O_CREAT | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except OSError:
        if os.path.islink(path):  # planted in .codewitness/: SQLite would write where it points
            raise OSError(f"{path} is a symbolic link; remove it") from None
        raise
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{path} is not a regular file; remove it")
    finally:
        os.close(fd)


class PendingEdit(NamedTuple):
    """One captured agent edit of one file (a row of ``edits``).

    ``before`` is ``None`` when the file did not exist before the edit. ``ai_lines`` are the
    1-based inclusive spans of ``after`` the agent wrote.
    """

    seq: int
    agent: str
    session_id: str | None
    tool_call_id: str | None
    path: str
    before: str | None
    after: str
    ai_lines: tuple[tuple[int, int], ...]
    output: str
    model: str | None
    prompt: str | None
    transcript_path: str | None
    created: float


class Journal:
    """The pending journal of one project (``<root>/.codewitness/pending.db``)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    @classmethod
    def open(cls, folder: StrPath) -> Journal:
        """Open (creating if needed) the journal in ``folder`` (the project's ``.codewitness``)."""
        os.makedirs(folder, mode=0o700, exist_ok=True)
        path = os.path.join(folder, JOURNAL_NAME)
        _claim(path)
        conn = sqlite3.connect(path, timeout=10.0, isolation_level=None)
        try:
            conn.execute("PRAGMA synchronous=NORMAL")
            # Set up once per file: WAL mode persists, and the tables exist from then on. Hooks open
            # the journal on every edit, so the common path is this one read.
            if conn.execute("PRAGMA user_version").fetchone()[0] != _VERSION:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.executescript(_SCHEMA + f"PRAGMA user_version = {_VERSION};")
        except BaseException:
            conn.close()  # not a journal (or not one we can set up): let go of the file now
            raise
        return cls(conn)

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    @contextlib.contextmanager
    def batch(self) -> Iterator[Journal]:
        """One transaction around several changes (one write to disk instead of one per change)."""
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    # -- snapshots ---------------------------------------------------------------------------

    def put_snapshot(self, key: str, path: str, content: str | None) -> None:
        """Remember ``path``'s text (``None``: absent) before the tool call ``key``."""
        self._conn.execute(
            "INSERT OR REPLACE INTO snapshots (key, path, content, created) VALUES (?, ?, ?, ?)",
            (key, path, content, time.time()),
        )

    def has_snapshot(self, key: str, path: str) -> bool:
        """Whether a snapshot was taken for ``key`` and ``path`` (a read: takes no write lock)."""
        row = self._conn.execute("SELECT 1 FROM snapshots WHERE key = ? AND path = ?", (key, path)).fetchone()
        return row is not None

    def take_snapshot(self, key: str, path: str) -> tuple[bool, str | None]:
        """Remove and return ``(found, content)`` of the snapshot taken for ``key`` and ``path``."""
        row = self._conn.execute("SELECT content FROM snapshots WHERE key = ? AND path = ?", (key, path)).fetchone()
        if row is None:
            return False, None
        self._conn.execute("DELETE FROM snapshots WHERE key = ? AND path = ?", (key, path))
        return True, row[0]

    def prune_snapshots(self, older_than: float) -> int:
        """Drop snapshots whose tool call never reported back (older than ``older_than`` seconds)."""
        cur = self._conn.execute("DELETE FROM snapshots WHERE created < ?", (time.time() - older_than,))
        return cur.rowcount

    # -- sessions ----------------------------------------------------------------------------

    def note_session(self, agent: str, session_id: str, *, prompt: str | None, model: str | None) -> None:
        """Record the latest prompt and/or model of a session (``None`` keeps the old value)."""
        self._conn.execute(
            "INSERT INTO sessions (agent, session_id, prompt, model, updated) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (agent, session_id) DO UPDATE SET "
            "prompt = COALESCE(excluded.prompt, prompt), model = COALESCE(excluded.model, model), "
            "updated = excluded.updated",
            (agent, session_id, prompt, model, time.time()),
        )

    def session(self, agent: str, session_id: str) -> tuple[str | None, str | None]:
        """``(prompt, model)`` last recorded for a session, or ``(None, None)``."""
        row = self._conn.execute(
            "SELECT prompt, model FROM sessions WHERE agent = ? AND session_id = ?", (agent, session_id)
        ).fetchone()
        return (row[0], row[1]) if row else (None, None)

    # -- edits -------------------------------------------------------------------------------

    def add_edit(
        self,
        *,
        agent: str,
        path: str,
        before: str | None,
        after: str,
        ai_lines: tuple[tuple[int, int], ...],
        output: str,
        session_id: str | None = None,
        tool_call_id: str | None = None,
        model: str | None = None,
        prompt: str | None = None,
        transcript_path: str | None = None,
    ) -> int:
        """Append one captured edit; returns its sequence number."""
        cur = self._conn.execute(
            "INSERT INTO edits (agent, session_id, tool_call_id, path, before, after, ai_lines, output, "
            "model, prompt, transcript_path, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                agent,
                session_id,
                tool_call_id,
                path,
                before,
                after,
                _spans_text(ai_lines),
                output,
                model,
                prompt,
                transcript_path,
                time.time(),
            ),
        )
        return int(cur.lastrowid or 0)

    def before_of(self, key: str | None, path: str) -> tuple[str, str | None] | None:
        """What the journal knows of ``path``'s text just before the tool call ``key``.

        Read in one transaction, so a capture hook writing at the same time is seen either
        before or after its write, never halfway:

        * ``("snapshot", text)`` — taken by the call's before hook (``None``: the file was absent);
        * ``("edit", before)`` — the before text of the edit already captured for this call;
        * ``("last", after)`` — the text after the newest edit of ``path`` by another call;
        * ``None`` — the journal knows nothing of the file.
        """
        self._conn.execute("BEGIN")
        try:
            if key is not None:
                row = self._conn.execute(
                    "SELECT content FROM snapshots WHERE key = ? AND path = ?", (key, path)
                ).fetchone()
                if row is not None:
                    return "snapshot", row[0]
                row = self._conn.execute(
                    "SELECT before FROM edits WHERE tool_call_id = ? AND path = ? ORDER BY seq LIMIT 1", (key, path)
                ).fetchone()
                if row is not None:
                    return "edit", row[0]
            other = "" if key is None else " AND tool_call_id IS NOT ?"  # IS NOT: a NULL id is another call
            row = self._conn.execute(
                f"SELECT after FROM edits WHERE path = ?{other} ORDER BY seq DESC LIMIT 1",  # noqa: S608 - fixed text
                (path,) if key is None else (path, key),
            ).fetchone()
            return None if row is None else ("last", row[0])
        finally:
            self._conn.execute("COMMIT")

    def last_after(self, path: str) -> tuple[bool, str]:
        """``(found, text)`` of the newest captured edit of ``path``."""
        row = self._conn.execute("SELECT after FROM edits WHERE path = ? ORDER BY seq DESC LIMIT 1", (path,)).fetchone()
        return (True, row[0]) if row else (False, "")

    def edits(self, path: str | None = None) -> list[PendingEdit]:
        """Pending edits in capture order, of one path or of all."""
        if path is None:
            rows = self._conn.execute("SELECT * FROM edits ORDER BY seq")
        else:
            rows = self._conn.execute("SELECT * FROM edits WHERE path = ? ORDER BY seq", (path,))
        return [self._row(row) for row in rows]

    def pending_paths(self) -> list[str]:
        """Paths with pending edits, sorted."""
        return [row[0] for row in self._conn.execute("SELECT DISTINCT path FROM edits ORDER BY path")]

    def retire(self, path: str, up_to: int) -> None:
        """Drop the edits of ``path`` with sequence numbers up to ``up_to`` (they are committed)."""
        self._conn.execute("DELETE FROM edits WHERE path = ? AND seq <= ?", (path, up_to))

    def fill_details(self, seq: int, *, model: str | None, prompt: str | None) -> None:
        """Complete the model/prompt of an edit found later (e.g. in the agent's transcript)."""
        self._conn.execute(
            "UPDATE edits SET model = COALESCE(model, ?), prompt = COALESCE(prompt, ?) WHERE seq = ?",
            (model, prompt, seq),
        )

    def health(self) -> tuple[str | None, int, float | None]:
        """``(problem, pending edits, creation time of the oldest)``; ``problem`` is ``None`` when
        SQLite's quick check finds the file sound."""
        verdict = [str(row[0]) for row in self._conn.execute("PRAGMA quick_check")]
        count, oldest = self._conn.execute("SELECT COUNT(*), MIN(created) FROM edits").fetchone()
        problem = None if verdict == ["ok"] else "; ".join(verdict)[:300]
        return problem, int(count), None if oldest is None else float(oldest)

    @staticmethod
    def _row(row: tuple[object, ...]) -> PendingEdit:
        # ``SELECT *`` gives the columns in PendingEdit's order; the column types hold the field types.
        edit = PendingEdit._make(row)
        return edit._replace(ai_lines=_spans(str(edit.ai_lines)))
