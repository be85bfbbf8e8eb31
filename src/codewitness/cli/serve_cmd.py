"""``codewitness serve`` and ``codewitness token create|list|revoke``: the server and who may write to it.

``serve`` runs the HTTP API and dashboard on the configured store (or ``--db``), attributing the
repository it runs in; it binds to loopback unless told otherwise. Tokens are shown once when
created and stored hashed; the sensor sends one (``sensor.token``), and a browser signs in with one.
"""

from __future__ import annotations

import ipaddress
import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from codewitness.cli._common import database_url, emit_json, err, get_config, open_store, out, table
from codewitness.errors import InputError, MissingExtraError

token_app = typer.Typer(help="API tokens for ingest and for writes from the dashboard.", no_args_is_help=True)

#: Where ``python -m codewitness.server`` reads its settings (``server.app.SETTINGS_ENV``).
SERVER_SETTINGS_ENV = "CW_SERVE_SETTINGS"

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]


def register(app: typer.Typer) -> None:
    """Add ``serve`` and ``token``."""
    app.command("serve")(serve)
    app.add_typer(token_app, name="token")


def _repository(start: Path) -> Path | None:
    from codewitness._git import repo_root
    from codewitness.errors import GitError

    try:
        return repo_root(start)
    except GitError:
        return None


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(
    host: Annotated[str, typer.Option("--host", help="Address to bind (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port to listen on.")] = 8787,
    db: Annotated[
        str | None, typer.Option("--db", metavar="URL", help="Database URL (default: the project's).")
    ] = None,
    workers: Annotated[int, typer.Option("--workers", min=1, max=64, help="Worker processes (PostgreSQL only).")] = 1,
    auth: Annotated[
        str,
        typer.Option("--auth", metavar="write|read", help="write: tokens for writes (default); read: for reads too."),
    ] = "write",
    repo: Annotated[
        Path | None, typer.Option("--repo", help="The repository to attribute (default: the one around here).")
    ] = None,
) -> None:
    """Run the HTTP API (sensor ingest, queries) and the dashboard."""
    if auth not in ("write", "read"):
        raise InputError(f"--auth is write or read; not {auth!r}")
    import importlib.util

    if importlib.util.find_spec("fastapi") is None or importlib.util.find_spec("uvicorn") is None:
        raise MissingExtraError("server", "codewitness serve")
    root = _repository(repo or Path.cwd())
    if repo is not None and root is None:
        raise InputError(f"{repo} is not inside a git repository")
    url = database_url(db)
    if not _loopback(host):
        err.print(
            f"serving on {host}: anyone who can reach it can read the dashboard"
            + ("" if auth == "read" else " (--auth read asks for a token)"),
            style="yellow",
        )
    shown = f"[{host}]" if ":" in host else host
    with open_store(url) as store:  # migrated here; a bad URL fails before the server starts
        where = store.safe_url
    err.print(f"codewitness dashboard on http://{shown}:{port}/  (store: {where})")
    err.print(f"repository: {root}" if root else "no repository here: pages show runtime facts only")
    # The server is a face of its own: this process becomes ``python -m codewitness.server``, with
    # the settings (the URL may hold a password) in the environment rather than on the command line.
    settings = {"database_url": url, "root": str(root) if root else None, "auth_reads": auth == "read"}
    os.environ[SERVER_SETTINGS_ENV] = json.dumps(settings)
    args = ["--host", host, "--port", str(port), "--workers", str(workers)]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, "-m", "codewitness.server", *args])  # noqa: S606


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Argument(help="What the token is for (ci, shop-prod, my-laptop).")],
    as_json: JsonOpt = False,
) -> None:
    """Create a token; it is printed once and only its hash is kept."""
    from codewitness.store.tokens import create_token

    get_config()
    with open_store() as store:
        created = create_token(store, name)
    if as_json:
        emit_json({"id": created.info.id, "name": created.info.name, "token": created.secret})
        return
    out.print(created.secret)
    err.print(f"token {created.info.id} ({created.info.name}) created; it is shown only now.")
    err.print(
        "the sensor sends it: CODEWITNESS_TOKEN=<token> codewitness run --endpoint http://HOST:8787/api/v1/ingest"
        " -- python app.py; a browser signs in with it at /login"
    )


@token_app.command("list")
def token_list(as_json: JsonOpt = False) -> None:
    """List tokens (never their secrets)."""
    from codewitness.store.tokens import list_tokens

    with open_store() as store:
        tokens = list_tokens(store)
    if as_json:
        emit_json(
            [
                {
                    "id": t.id,
                    "name": t.name,
                    "created_at": t.created_at.isoformat(),
                    "revoked_at": t.revoked_at.isoformat() if t.revoked_at else None,
                }
                for t in tokens
            ]
        )
        return
    if not tokens:
        err.print("no tokens yet: codewitness token create NAME")
        return
    table(
        ["id", "name", "created", "state"],
        [
            [
                t.id,
                t.name,
                t.created_at.strftime("%Y-%m-%d %H:%M"),
                "active" if t.active else f"revoked {t.revoked_at:%Y-%m-%d}",
            ]
            for t in tokens
        ],
        no_wrap=("id",),
    )


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[str, typer.Argument(help="The token's id (codewitness token list).")],
    as_json: JsonOpt = False,
) -> None:
    """Revoke a token; requests and browser sessions with it are refused from now on."""
    from codewitness.store.tokens import revoke_token

    with open_store() as store:
        info = revoke_token(store, token_id)
    if as_json:
        emit_json(
            {"id": info.id, "name": info.name, "revoked_at": info.revoked_at.isoformat() if info.revoked_at else None}
        )
        return
    out.print(f"revoked {info.id} ({info.name})")
