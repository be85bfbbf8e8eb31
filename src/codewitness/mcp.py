"""The MCP server: codewitness's facts as tools a coding agent calls (the official ``mcp`` SDK, version 2).

Run it from the project (``codewitness mcp``, or ``python -m codewitness.mcp``); it speaks MCP over
stdio, or streamable HTTP on loopback with a bearer token (``--http``). Every tool only reads, and
answers compact JSON of at most :data:`MAX_ANSWER_CHARS` characters (longer lists are cut and a
``truncated`` note says what was left out):

=====================================  ================================================================
``function_context(file, line)``       one function: origin (generations, prompts, models), runtime
``function_context(qualname=...)``     and trend, exceptions with inputs, breaches, reviews, reach
``why(file, line)``                    the generation and prompt that wrote a line, and later edits
``problems(since, origin)``            functions ranked by live problems (exceptions, breaches,
                                       regressions, slowdowns)
``check_code(path, content)``          the merge gate on proposed text, before it is written
``incidents(since, origin, id)``       incidents by fingerprint, tagged with the origin of the code
``insights(since, kind, origin)``      N+1 queries, chatty calls, slowdowns and error jumps after a
                                       change, routes that slow under load
``schema()`` / ``query(sql)``          read-only SQL over the documented ``cw_*`` views
=====================================  ================================================================

A bad argument, an unknown function or file, a store that cannot be read: the tool answers an MCP
error (``isError``) with one line saying what to do; the server never stops for it. Nothing is
printed on stdout but the protocol.

This module is a face: it parses arguments, calls one view or stage, and shapes the answer.

Example (in ``.mcp.json`` or an agent's MCP settings)::

    {"mcpServers": {"codewitness": {"command": "codewitness", "args": ["mcp"]}}}
"""

# No ``from __future__ import annotations`` here: the SDK reads each tool's parameter annotations
# (types, descriptions, bounds) as objects, and the tools are defined inside build_server.
import argparse
import json
import os
import secrets
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

from codewitness.errors import CodewitnessError, MissingExtraError

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer
    from mcp_types import CallToolResult

    from codewitness.store import Store

__all__ = ["MAX_ANSWER_CHARS", "build_server", "main"]

#: The most characters of JSON one tool answer carries.
MAX_ANSWER_CHARS = 24_000
#: Strings longer than this are cut first when an answer is too long.
_LONG_STRING = 400
_T = TypeVar("_T")


class _Project:
    """Where the server reads from: the store (opened on first use) and the repository, if any."""

    def __init__(self, url: str, root: Path | None) -> None:
        self.url = url
        self.root = root
        self._store: Store | None = None
        self._lock = threading.Lock()

    def store(self) -> "Store":
        from codewitness.store import open_store

        with self._lock:
            if self._store is None:
                self._store = open_store(self.url)
            return self._store

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None


def _compact(doc: Any) -> str:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"), default=str)


def _cut_strings(value: Any, limit: int = _LONG_STRING) -> Any:
    if isinstance(value, str) and len(value) > limit:
        return value[:limit] + f"... [{len(value) - limit} more characters]"
    if isinstance(value, dict):
        return {k: _cut_strings(v, limit) for k, v in value.items()}
    if isinstance(value, list):
        return [_cut_strings(v, limit) for v in value]
    return value


def _longest_list(value: Any, path: str = "") -> tuple[int, str, list[Any]] | None:
    """The list (of at least two items) whose JSON is longest, anywhere in ``value``."""
    best: tuple[int, str, list[Any]] | None = None
    if isinstance(value, list):
        if len(value) >= 2:
            best = (len(_compact(value)), path or "(answer)", value)
        children: list[tuple[str, Any]] = [(f"{path}[{i}]", v) for i, v in enumerate(value)]
    elif isinstance(value, dict):
        children = [(f"{path}.{k}" if path else str(k), v) for k, v in value.items()]
    else:
        return None
    for child_path, child in children:
        found = _longest_list(child, child_path)
        if found is not None and (best is None or found[0] > best[0]):
            best = found
    return best


def bounded(doc: dict[str, Any], limit: int = MAX_ANSWER_CHARS) -> dict[str, Any]:
    """``doc`` if its JSON fits in ``limit`` characters (at least 400); otherwise long strings cut, then the
    longest lists halved until it fits, with a ``truncated`` note naming what was left out. A document
    that still does not fit is given as the start of its JSON text (``partial``)."""
    if len(_compact(doc)) <= limit:
        return doc
    room = limit - 300  # for the note
    shaped: dict[str, Any] = _cut_strings(doc)
    notes: dict[str, int] = {}
    while len(_compact(shaped)) > room:
        found = _longest_list(shaped)
        if found is None:
            break
        _, where, items = found
        drop = max(1, len(items) // 2)
        del items[len(items) - drop :]
        notes[where] = notes.get(where, 0) + drop
    named = [f"{n} items of {where}" for where, n in notes.items()]
    left_out = ", ".join(named[:4]) + (f" and {len(named) - 4} more lists" if len(named) > 4 else "")
    note = f"the answer was cut to {limit} characters: left out {left_out or 'the end of long texts'}"
    note = note.encode("ascii", "backslashreplace").decode("ascii").replace('"', "'")[:150]
    if len(_compact(shaped)) > room:
        shaped = _cut_strings(shaped, 40)
    if len(_compact({**shaped, "truncated": note})) > limit:
        shaped = {"truncated": note, "partial": _compact(shaped)}
    else:
        shaped["truncated"] = note
    while len(_compact(shaped)) > limit and "partial" in shaped:
        # Escaping makes the text longer inside JSON: cut by the excess until it fits.
        excess = len(_compact(shaped)) - limit
        shaped["partial"] = shaped["partial"][: max(0, len(shaped["partial"]) - excess - 8)]
    return shaped


def _answer(doc: dict[str, Any]) -> "CallToolResult":
    from mcp_types import CallToolResult, TextContent

    shaped = bounded(doc)
    return CallToolResult(content=[TextContent(type="text", text=_compact(shaped))], structured_content=shaped)


def _guarded(call: Callable[[], _T]) -> _T:
    """Run one tool's work; a problem of the user's making becomes a one-line MCP tool error."""
    from mcp.server.mcpserver.exceptions import ToolError

    try:
        return call()
    except CodewitnessError as exc:
        raise ToolError(str(exc)) from None
    except ValueError as exc:
        raise ToolError(str(exc)) from None


def build_server(url: str, root: Path | None, *, token: str | None = None, port: int = 0) -> "MCPServer[Any]":
    """The MCP server over the store at ``url`` and the repository at ``root`` (``None``: outside one).

    With ``token``, its HTTP app (``streamable_http_app``) accepts only requests bearing that token;
    ``port`` is where it will listen (named in its auth settings).
    """
    from mcp.server.mcpserver import MCPServer
    from mcp_types import CallToolResult, ToolAnnotations
    from pydantic import Field

    from codewitness._version import __version__

    auth: dict[str, Any] = {}
    if token is not None:
        from mcp.server.auth.settings import AuthSettings

        auth = {
            "token_verifier": _Token(token),
            "auth": AuthSettings(issuer_url=f"http://127.0.0.1:{port}", resource_server_url=None),  # type: ignore[arg-type]
        }
    project = _Project(url, root)
    server: MCPServer[Any] = MCPServer(
        "codewitness",
        **auth,
        version=__version__,
        instructions=(
            "Facts about this code base from codewitness: who wrote each function (AI generation, prompt, "
            "model), how it behaves in production (calls, errors with their inputs, broken invariants), "
            "and whether proposed code passes the merge gate. Before changing a function, call "
            "function_context; to find what is failing, call problems or incidents."
        ),
        log_level="WARNING",
    )
    reads = ToolAnnotations(read_only_hint=True, open_world_hint=False)
    Answer = Annotated[CallToolResult, dict[str, Any]]

    def cache() -> Any:
        from codewitness.attribution.storecache import store_cache

        return store_cache(project.store())

    @server.tool(annotations=reads)
    def function_context(
        file: Annotated[str | None, Field(description="The file, relative to the repository root")] = None,
        line: Annotated[int | None, Field(description="A line inside the function (1-based)", ge=1)] = None,
        qualname: Annotated[str | None, Field(description="Or the function as module.qualname")] = None,
    ) -> Answer:
        """One function: who wrote it (generations, prompts, models, human edit share), how it runs (calls,
        error rate, p50/p95/p99, trend against the previous revision), its newest exceptions with their
        inputs and stacks, broken invariants, review verdicts, its blast radius (entry points, coverage),
        and its behaviour record (replay corpus, baselines pinning it with their latest check).
        Give file and line, or qualname."""
        from codewitness.views.agent import function_brief

        def work() -> dict[str, Any]:
            if qualname and (file or line):
                raise ValueError("give file and line, or qualname; not both")
            if qualname:
                target = qualname
            elif file and line:
                target = f"{_relative(project.root, file)}:{line}"
            else:
                raise ValueError("give file and line (a line inside the function), or qualname")
            store = project.store()
            brief = function_brief(store, target, root=project.root, cache=cache() if project.root else None)
            return dict(brief.to_dict())

        return _answer(_guarded(work))

    @server.tool(annotations=reads)
    def why(
        file: Annotated[str, Field(description="The file, relative to the repository root")],
        line: Annotated[int, Field(description="The line (1-based)", ge=1)],
    ) -> Answer:
        """Why a line is there: its origin (ai, mixed, human), the generation and prompt that wrote it, an
        excerpt of what the agent wrote, and the commits that changed it since, newest first."""
        from codewitness.views.why import why_line

        def work() -> dict[str, Any]:
            if project.root is None:
                raise ValueError("why needs the repository: start the server inside it")
            store = project.store()
            answer = why_line(store, project.root, _relative(project.root, file), line, cache=cache())
            return dict(answer.to_dict())

        return _answer(_guarded(work))

    @server.tool(annotations=reads)
    def problems(
        since: Annotated[str, Field(description="An age (24h, 7d, 30m) or an ISO date")] = "24h",
        origin: Annotated[
            str, Field(description="ai (agent-written, edited or not), mixed, human, unknown or any")
        ] = "ai",
        limit: Annotated[int, Field(description="At most this many functions", ge=1, le=200)] = 20,
    ) -> Answer:
        """Functions ranked by live problems since a time: exceptions (with the newest inputs), broken
        invariants, regressions (error rate up at the newest revision) and slowdowns (mean latency up)."""
        from codewitness._time import parse_since
        from codewitness.store.problems import store_rows
        from codewitness.views.problems import problems_view

        def work() -> dict[str, Any]:
            when = parse_since(since)
            with store_rows(project.store()) as rows:
                view = problems_view(rows, since=when, origin=origin, limit=limit)
            return dict(view.to_dict())

        return _answer(_guarded(work))

    @server.tool(annotations=reads)
    def check_code(
        path: Annotated[str, Field(description="Where the text would be written, relative to the project")],
        content: Annotated[str, Field(description="The proposed file content")],
    ) -> Answer:
        """The merge gate on proposed content before it is written: packages that do not exist or look
        suspicious, names a module does not have (hallucinated APIs), and security rules. Nothing is
        written; findings say rule, line, message and how to fix."""
        from codewitness.checks.gate import check_content
        from codewitness.views.gate import gate_json

        def work() -> dict[str, Any]:
            run = check_content(project.root or Path.cwd(), path, content)
            data = dict(gate_json(run))
            data["failed"] = run.failed
            data["threshold"] = run.threshold
            return data

        return _answer(_guarded(work))

    @server.tool(annotations=reads)
    def incidents(
        since: Annotated[str | None, Field(description="An age (7d, 24h) or an ISO date; none: everything")] = "30d",
        origin: Annotated[
            str | None, Field(description="Only incidents of ai (incl. mixed), mixed, human or unknown code")
        ] = None,
        id: Annotated[str | None, Field(description="One incident in full (inc_..., or a unique prefix)")] = None,
        limit: Annotated[int, Field(description="At most this many incidents", ge=1, le=200)] = 20,
    ) -> Answer:
        """Exceptions and broken invariants grouped into incidents (function, exception type, top frames),
        with first/last seen, counts, revisions, and the origin of the failing code (ai, mixed, human;
        generations, models). With id: samples with inputs, the origin of every function on the stack,
        the blast radius and tags."""
        from codewitness._time import parse_since
        from codewitness.views.incidents import incident_detail, list_incidents

        def work() -> dict[str, Any]:
            store = project.store()
            if id:
                detail = incident_detail(store, id, root=project.root, cache=cache() if project.root else None)
                return dict(detail.to_dict())
            when = parse_since(since) if since else None
            return dict(list_incidents(store, since=when, origin=origin, limit=limit).to_dict())

        return _answer(_guarded(work))

    @server.tool(annotations=reads)
    def insights(
        since: Annotated[str | None, Field(description="An age (7d, 24h) or an ISO date; none: everything")] = "7d",
        kind: Annotated[
            str | None, Field(description="Only one kind: n_plus_one, chatty, slower, error_jump or scaling")
        ] = None,
        origin: Annotated[
            str | None, Field(description="Only about ai (incl. mixed), mixed, human or unknown code")
        ] = None,
    ) -> Answer:
        """What got slower, chattier or flakier in the running code: N+1 queries and repeated outbound
        calls per request (the statement, how many times per request, the function issuing it),
        functions slower (p95, with confidence intervals) or failing more at their newest revision (and
        the generation that changed them), routes that slow down under load. Each names the function's
        origin (ai, mixed, human; generations, models) and its evidence; acknowledged ones are left out."""
        from codewitness._time import parse_since
        from codewitness.views.insights import insights as find

        def work() -> dict[str, Any]:
            when = parse_since(since) if since else None
            found = find(project.store(), since=when, kinds=[kind] if kind else None, origin=origin)
            return dict(found.to_dict())

        return _answer(_guarded(work))

    @server.tool(annotations=reads)
    def schema() -> Answer:
        """The views the query tool reads (cw_runtime, cw_functions, cw_exceptions, cw_breaches,
        cw_generations, ...), each with its columns and what they mean, and the query limits."""
        from codewitness.store.readonly import VIEWS

        return _answer(
            {
                "views": VIEWS,
                "limits": {"rows": 200, "seconds": 2.0, "cell_chars": 2000},
                "note": "read-only: one SELECT/WITH/VALUES/EXPLAIN statement; times are UTC; JSON columns are JSON",
            }
        )

    @server.tool(annotations=reads)
    def query(
        sql: Annotated[str, Field(description="One read-only statement over the cw_* views (see schema)")],
        max_rows: Annotated[int, Field(description="At most this many rows", ge=1, le=200)] = 200,
    ) -> Answer:
        """Read-only SQL over the store's documented views. One statement; writes, ATTACH, PRAGMA and
        several statements are refused; at most 200 rows and 2 seconds."""
        from codewitness.store.readonly import run_query

        def work() -> dict[str, Any]:
            result = run_query(project.store(), sql, max_rows=max_rows)
            return {
                "columns": list(result.columns),
                "rows": [list(r) for r in result.rows],
                "row_count": len(result.rows),
                "truncated": result.truncated,
                "cells_cut": result.cells_cut,
                "seconds": result.seconds,
            }

        return _answer(_guarded(work))

    return server


def _relative(root: Path | None, file: str) -> str:
    """A file the agent named (absolute, or relative to the repository) as repository-relative text."""
    if root is None or not os.path.isabs(file):
        return file.replace(os.sep, "/").removeprefix("./")
    from codewitness.attribution.blame import relative_path

    return relative_path(root, Path(file))


class _Token:
    """The one bearer token the HTTP server accepts."""

    def __init__(self, token: str) -> None:
        self.token = token

    async def verify_token(self, token: str) -> Any:
        from mcp.server.auth.provider import AccessToken

        if secrets.compare_digest(token.encode("utf-8"), self.token.encode("utf-8")):
            return AccessToken(token=token, client_id="codewitness-local", scopes=[])
        return None


def _serve_http(url: str, root: Path | None, port: int, token: str) -> None:
    import anyio
    import uvicorn

    app = build_server(url, root, token=token, port=port).streamable_http_app(host="127.0.0.1")
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    print(f"codewitness mcp: streamable HTTP on http://127.0.0.1:{port}/mcp (bearer token required)", file=sys.stderr)
    anyio.run(uvicorn.Server(config).serve)


def main(argv: list[str] | None = None) -> int:
    """``python -m codewitness.mcp [--db URL] [--http [--port N]]``; the token comes from ``CODEWITNESS_TOKEN``
    (or is made up and printed on stderr)."""
    parser = argparse.ArgumentParser(prog="codewitness mcp", description="The codewitness MCP server.")
    parser.add_argument("--db", help="database URL (default: the project's configuration)")
    parser.add_argument("--http", action="store_true", help="streamable HTTP on 127.0.0.1 instead of stdio")
    parser.add_argument("--port", type=int, default=8787, help="HTTP port (default 8787)")
    args = parser.parse_args(argv)
    try:
        import mcp  # noqa: F401
    except ImportError:
        print(f"codewitness: error: {MissingExtraError('mcp', 'The MCP server')}", file=sys.stderr)
        return 2
    from codewitness._git import repo_root
    from codewitness.errors import GitError

    try:
        from codewitness.config import load_config

        url = args.db or load_config().database_url
    except CodewitnessError as exc:
        print(f"codewitness: error: {exc}", file=sys.stderr)
        return exc.exit_code
    try:
        root: Path | None = repo_root(Path.cwd())
    except GitError:
        root = None  # a store read outside the repository: tools that need it say so
    if args.http:
        token = os.environ.get("CODEWITNESS_TOKEN") or secrets.token_urlsafe(32)
        if "CODEWITNESS_TOKEN" not in os.environ:
            print(f"codewitness mcp: token {token}", file=sys.stderr)
        _serve_http(url, root, args.port, token)
        return 0
    build_server(url, root).run("stdio")
    return 0


if __name__ == "__main__":
    sys.exit(main())
