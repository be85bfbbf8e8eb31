"""``codewitness mcp``: the MCP server for coding agents (stdio, or streamable HTTP on loopback).

The server is its own program (:mod:`codewitness.mcp`, a face of its own): this command resolves the
database and replaces itself with ``python -m codewitness.mcp``, so that nothing of the command line
is loaded into the server and stdout carries the protocol only.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from codewitness.cli._common import database_url
from codewitness.errors import MissingExtraError


def register(app: typer.Typer) -> None:
    """Add ``mcp``."""
    app.command("mcp")(mcp)


def mcp(
    http: Annotated[
        bool, typer.Option("--http", help="Streamable HTTP on 127.0.0.1 with a bearer token instead of stdio.")
    ] = False,
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="The HTTP port.")] = 8787,
    db: Annotated[str | None, typer.Option("--db", metavar="URL", help="Database URL (default: configured).")] = None,
) -> None:
    """Serve codewitness's facts to coding agents over MCP (function context, problems, incidents, SQL).

    With --http the token is CODEWITNESS_TOKEN, or one made up and printed on stderr.
    """
    import importlib.util

    if importlib.util.find_spec("mcp") is None:
        raise MissingExtraError("mcp", "The MCP server")
    args = [sys.executable, "-m", "codewitness.mcp", "--db", database_url(db)]
    if http:
        args += ["--http", "--port", str(port)]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, args)  # noqa: S606 - the server replaces this process
