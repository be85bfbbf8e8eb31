"""Read-only SQL over the store for coding agents: the documented ``cw_*`` views, bounded in rows and time.

:func:`run_query` runs one statement that reads. What keeps it from writing:

* **SQLite**: its own connection, opened read-only (``mode=ro``), with ``PRAGMA query_only`` on and
  an authorizer that allows reading and nothing else (no write, no temporary table, no
  ``ATTACH``, no ``PRAGMA``, no transaction control); a progress handler stops it at the time
  limit. ``sqlite3`` refuses a second statement.
* **PostgreSQL**: a ``READ ONLY`` transaction with ``statement_timeout``; the statement is prepared,
  and PostgreSQL refuses a second command in a prepared statement. The role the URL names is still
  the role: give the MCP server one that may only read, since a read-only transaction does not stop, say, a superuser's
  ``pg_read_file``. Functions with effects outside the database are refused by name as a second
  line (:data:`PG_REFUSED_FUNCTIONS`).
* **Both**: the statement must start with ``SELECT``, ``WITH``, ``VALUES`` or ``EXPLAIN``.

At most ``max_rows`` rows come back (``truncated`` says when there were more) and a cell's text is
cut at ``max_cell_chars``. :data:`VIEWS` documents every view and column (the MCP ``schema`` tool).

Example:
    >>> result = run_query(store, "SELECT function, SUM(calls) FROM cw_runtime GROUP BY function")  # doctest: +SKIP
    >>> result.columns, result.rows[:1], result.truncated  # doctest: +SKIP
    (('function', 'SUM(calls)'), (('shop.pricing.total', 401),), False)
"""

from __future__ import annotations

import base64
import re
import sqlite3
import time
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypedDict
from urllib.parse import quote

from codewitness.errors import InputError, StoreError

if TYPE_CHECKING:
    from codewitness.store import Store

__all__ = ["PG_REFUSED_FUNCTIONS", "VIEWS", "QueryResult", "ViewDoc", "run_query"]


class ViewDoc(TypedDict):
    """One documented view: what a row is, and its columns."""

    description: str
    columns: dict[str, str]


_RUNTIME_FUNCTION = {
    "function": "module.qualname of the function",
    "origin": "who wrote it, from the sensor's manifest: ai, mixed, human or unknown",
    "ai_share": "share of its lines an agent wrote (0..1)",
    "path": "its file, relative to the repository root",
    "line": "its first line",
    "generation_ids": "JSON list of the generations that wrote it",
    "models": "JSON list of their models",
}
_SOURCE = {
    "service": "the service that reported it",
    "revision": "the code revision that ran (git commit or release)",
    "host": "the host that ran it",
}

#: Every view the ``query`` tool documents, with its columns. Times are UTC (ISO text on SQLite).
VIEWS: dict[str, ViewDoc] = {
    "cw_runtime": {
        "description": "one row per function per sensor interval: calls, errors, time",
        "columns": {
            **_SOURCE,
            "pid": "the process id",
            **{k: v for k, v in _RUNTIME_FUNCTION.items() if k not in ("generation_ids", "models")},
            "interval_start": "start of the interval",
            "interval_end": "end of the interval",
            "calls": "calls that ended in the interval",
            "errors": "calls that raised",
            "errors_by_type": "JSON object: exception type -> calls that raised it",
            "total_ns": "summed wall time of the calls, nanoseconds",
            "max_ns": "slowest call, nanoseconds",
            "mean_ms": "mean call time, milliseconds",
            "generation_ids": _RUNTIME_FUNCTION["generation_ids"],
            "models": _RUNTIME_FUNCTION["models"],
            "rollup": "0 for an interval as the sensor sent it; else the seconds of the span older intervals"
            " were merged into (retention)",
        },
    },
    "cw_functions": {
        "description": "one row per function (and origin it ran with): totals over every stored interval",
        "columns": {
            "function": _RUNTIME_FUNCTION["function"],
            "origin": _RUNTIME_FUNCTION["origin"],
            "path": _RUNTIME_FUNCTION["path"],
            "line": _RUNTIME_FUNCTION["line"],
            "intervals": "stored intervals",
            "calls": "calls",
            "errors": "calls that raised",
            "first_seen": "start of its first interval",
            "last_seen": "end of its newest interval",
        },
    },
    "cw_exceptions": {
        "description": "one row per captured exception, with the (redacted) inputs that caused it",
        "columns": {
            "id": "record id",
            "time": "when it was raised",
            **_SOURCE,
            **{k: _RUNTIME_FUNCTION[k] for k in ("function", "origin", "ai_share", "path", "line")},
            "type": "exception type, qualified",
            "message": "the exception's message (redacted)",
            "arguments": "JSON object: the call's arguments, redacted and size-bounded",
            "stack": "JSON list of frames {file, line, function}, innermost last",
            **{k: _RUNTIME_FUNCTION[k] for k in ("generation_ids", "models")},
            "fingerprint": "the failure it is a capture of (function, type, message pattern, innermost frames)",
            "count": "occurrences in its interval this capture stands for (SUM(count) by fingerprint: all of them)",
        },
    },
    "cw_breaches": {
        "description": "one row per broken invariant (ensure/require rule), with inputs and result",
        "columns": {
            "id": "record id",
            "time": "when it broke",
            **_SOURCE,
            **{k: _RUNTIME_FUNCTION[k] for k in ("function", "origin", "ai_share", "path", "line")},
            "rule": "the rule's name",
            "rule_kind": "ensure, require or returns",
            "expression": "the rule's expression",
            "mode": "what the sensor did: record or raise",
            "arguments": "JSON object: the call's arguments (redacted)",
            "result": "JSON: the return value (redacted), for ensure rules",
            "detail": "why it broke, when the rule says",
            **{k: _RUNTIME_FUNCTION[k] for k in ("generation_ids", "models")},
        },
    },
    "cw_generations": {
        "description": "one row per AI generation in the ledger: agent, model, prompt",
        "columns": {
            "id": "generation id (gen_...)",
            "agent": "claude-code, cursor, codex, gemini-cli, api, ...",
            "model": "the exact model string",
            "session_id": "the agent session",
            "prompt_name": "managed prompt name, when there is one",
            "prompt_version": "its version",
            "prompt_hash": "sha256 of the prompt text",
            "prompt": "the prompt text",
            "created_at": "when it was recorded",
            "input_tokens": "prompt tokens, when known",
            "output_tokens": "output tokens, when known",
            "latency_ms": "generation latency, when known",
        },
    },
    "cw_generation_files": {
        "description": "the line ranges each generation wrote, as captured",
        "columns": {
            "generation_id": "generation id",
            "path": "file, relative to the repository root",
            "start_line": "first line written",
            "end_line": "last line written",
        },
    },
    "cw_commit_generations": {
        "description": "which commits carry lines of which generation",
        "columns": {
            "commit_sha": "the commit",
            "generation_id": "generation id",
            "path": "file",
            "ai_lines": "lines kept as the agent wrote them",
            "mixed_lines": "lines a person edited before committing",
            "linked_at": "when the commit was linked",
        },
    },
    "cw_incident_tags": {
        "description": "what people said about incidents (codewitness incidents tag); newest wins",
        "columns": {
            "incident_id": "inc_... (see the incidents tool)",
            "cause": "ai, human or unknown",
            "note": "free text",
            "link": "post-mortem URL",
            "tagged_at": "when",
        },
    },
}

#: PostgreSQL functions with effects outside the query (files, processes, sessions, settings).
PG_REFUSED_FUNCTIONS = frozenset(
    {
        "pg_read_file",
        "pg_read_binary_file",
        "pg_ls_dir",
        "pg_stat_file",
        "lo_import",
        "lo_export",
        "dblink",
        "dblink_exec",
        "pg_terminate_backend",
        "pg_cancel_backend",
        "pg_reload_conf",
        "pg_rotate_logfile",
        "set_config",
        "pg_advisory_lock",
        "pg_advisory_xact_lock",
        "pg_sleep",
        "pg_notify",
        "copy",
    }
)

_LEADING = re.compile(r"^(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/|\()*", re.DOTALL)
_FIRST_WORD = re.compile(r"[A-Za-z]+")
_READING = frozenset({"select", "with", "values", "explain"})
_CALL = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)\s*\(")
_STRING = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|\$\$.*?\$\$", re.DOTALL)

# sqlite3 authorizer action codes that only read.
_SQLITE_ALLOWED = frozenset({sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, 33})  # 33: RECURSIVE
_SQLITE_REFUSED_FUNCTIONS = frozenset({"load_extension", "readfile", "writefile", "edit", "fts3_tokenizer"})


@dataclass(frozen=True)
class QueryResult:
    """What one query returned.

    Attributes:
        columns: column names.
        rows: at most ``max_rows`` rows of JSON-ready values.
        truncated: there were more rows.
        cells_cut: how many cells were cut to ``max_cell_chars``.
        seconds: how long it ran.
    """

    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    truncated: bool
    cells_cut: int
    seconds: float


def _statement_kind(sql: str) -> str:
    text = _LEADING.sub("", sql, count=1)
    found = _FIRST_WORD.match(text)
    return found.group(0).lower() if found else ""


def _check(sql: str, dialect: str) -> None:
    if not sql.strip():
        raise InputError("the query is empty; see the schema tool for the cw_* views")
    kind = _statement_kind(sql)
    if kind not in _READING:
        shown = kind.upper() or sql.strip()[:20]
        raise InputError(f"only reading is allowed (SELECT, WITH, VALUES, EXPLAIN); {shown} is refused")
    if dialect == "postgresql":
        called = {name.lower() for name in _CALL.findall(_STRING.sub("''", sql))}
        refused = sorted(called & PG_REFUSED_FUNCTIONS)
        if refused:
            raise InputError(f"{', '.join(refused)}() is refused: it acts outside the query")


def _cell(value: Any, limit: int) -> tuple[Any, bool]:
    if isinstance(value, (bytes, bytearray, memoryview)):
        value = "base64:" + base64.b64encode(bytes(value)).decode("ascii")
    elif isinstance(value, (datetime, date)):
        value = value.isoformat()
    elif isinstance(value, Decimal):
        value = float(value)
    elif value is not None and not isinstance(value, (str, int, float, bool)):
        import json

        value = json.dumps(value, default=str, ensure_ascii=False)
    if isinstance(value, str) and len(value) > limit:
        return value[:limit] + "...", True
    return value, False


def _shape(
    columns: list[str], fetched: list[Any], max_rows: int, max_cell_chars: int, started: float
) -> QueryResult:
    cut = 0
    rows = []
    for row in fetched[:max_rows]:
        cells = []
        for value in row:
            shown, was_cut = _cell(value, max_cell_chars)
            cut += was_cut
            cells.append(shown)
        rows.append(tuple(cells))
    return QueryResult(
        columns=tuple(columns),
        rows=tuple(rows),
        truncated=len(fetched) > max_rows,
        cells_cut=cut,
        seconds=round(time.perf_counter() - started, 4),
    )


def _sqlite_authorizer(action: int, arg1: str | None, arg2: str | None, _db: str | None, _trigger: str | None) -> int:
    if action not in _SQLITE_ALLOWED:
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() in _SQLITE_REFUSED_FUNCTIONS:
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


def _run_sqlite(path: str, sql: str, max_rows: int, seconds: float, max_cell_chars: int) -> QueryResult:
    try:
        conn = sqlite3.connect(f"file:{quote(path)}?mode=ro", uri=True, timeout=5.0)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open {path} to read: {exc}") from None
    started = time.perf_counter()
    deadline = started + seconds
    try:
        conn.execute("PRAGMA query_only = ON")
        conn.set_authorizer(_sqlite_authorizer)
        conn.set_progress_handler(lambda: int(time.perf_counter() > deadline), 10_000)
        try:
            cursor = conn.execute(sql)
            fetched = cursor.fetchmany(max_rows + 1)
        except (sqlite3.ProgrammingError, sqlite3.Warning) as exc:
            if "one statement" in str(exc):
                raise InputError("one statement at a time: the query holds more than one") from None
            raise InputError(f"the query failed: {exc}") from None
        except sqlite3.DatabaseError as exc:
            if time.perf_counter() > deadline:
                raise InputError(f"the query ran longer than {seconds:g} s and was stopped; narrow it") from None
            if "not authorized" in str(exc):
                raise InputError(f"refused: the query may only read ({exc})") from None
            raise InputError(f"the query failed: {exc}") from None
        columns = [d[0] for d in cursor.description or ()]
        return _shape(columns, fetched, max_rows, max_cell_chars, started)
    finally:
        conn.close()


def _run_postgres(store: Store, sql: str, max_rows: int, seconds: float, max_cell_chars: int) -> QueryResult:
    import psycopg

    started = time.perf_counter()
    try:
        with store.read() as conn:
            conn.exec_driver_sql(f"SET LOCAL statement_timeout = {max(1, int(seconds * 1000))}")
            raw = conn.connection.driver_connection
            assert isinstance(raw, psycopg.Connection)
            cursor = raw.cursor()
            try:
                # Prepared (the extended protocol): PostgreSQL refuses a second command in it.
                cursor.execute(sql, prepare=True)
                fetched = list(cursor.fetchmany(max_rows + 1)) if cursor.description else []
                columns = [d[0] for d in cursor.description or ()]
            finally:
                cursor.close()
    except psycopg.errors.QueryCanceled:
        raise InputError(f"the query ran longer than {seconds:g} s and was stopped; narrow it") from None
    except psycopg.errors.ReadOnlySqlTransaction as exc:
        raise InputError(f"refused: the query may only read ({_first_line(exc)})") from None
    except psycopg.Error as exc:
        raise InputError(f"the query failed: {_first_line(exc)}") from None
    return _shape(columns, fetched, max_rows, max_cell_chars, started)


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def run_query(
    store: Store, sql: str, *, max_rows: int = 200, seconds: float = 2.0, max_cell_chars: int = 2000
) -> QueryResult:
    """Run one reading statement on the store, bounded in rows, time and cell size.

    Raises:
        InputError: the statement is refused (it does not only read, or is more than one), fails,
            or runs past the time limit.
        StoreError: the database cannot be opened.
    """
    if max_rows < 1:
        raise InputError(f"max_rows must be at least 1; got {max_rows}")
    _check(sql, store.dialect)
    if store.dialect == "sqlite":
        from codewitness.store.lite import sqlite_path

        path = sqlite_path(store.url)
        if path is None:
            raise StoreError(f"{store.safe_url}: only a plain sqlite:///path URL can be queried")
        return _run_sqlite(str(path), sql, max_rows, seconds, max_cell_chars)
    return _run_postgres(store, sql, max_rows, seconds, max_cell_chars)
