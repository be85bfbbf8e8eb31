"""The server's settings, its application factory, and running it under uvicorn.

Example:
    >>> settings = ServerSettings(database_url="sqlite:////tmp/witness.db", root=Path("."))  # doctest: +SKIP
    >>> serve(settings, host="127.0.0.1", port=8787)  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from codewitness._version import __version__
from codewitness.errors import CodewitnessError, NotFoundError, StoreError, UsageError

__all__ = ["ServerSettings", "app_from_environment", "create_app", "serve"]

#: Where ``serve --workers N`` hands the settings to each worker process.
SETTINGS_ENV = "CW_SERVE_SETTINGS"
STATIC = Path(__file__).parent / "static"


@dataclass(frozen=True)
class ServerSettings:
    """How one server runs.

    Attributes:
        database_url: the store.
        root: the repository whose code the pages attribute (``None``: runtime facts only).
        auth_reads: reads need a token or session too (``--auth read``); writes always do.
        max_body_bytes: the largest request body taken (compressed, as sent).
        max_batch_bytes: the largest ingest batch once decompressed.
    """

    database_url: str
    root: Path | None = None
    auth_reads: bool = False
    max_body_bytes: int = 8 << 20
    max_batch_bytes: int = 64 << 20

    def to_json(self) -> str:
        """For a worker process."""
        data = asdict(self)
        data["root"] = str(self.root) if self.root else None
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> ServerSettings:
        """The settings :meth:`to_json` wrote."""
        data = json.loads(text)
        data["root"] = Path(data["root"]) if data.get("root") else None
        return cls(**data)


def _status(exc: CodewitnessError) -> int:
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, UsageError):
        return 400
    if isinstance(exc, StoreError):
        return 503
    return 400


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or "text/html" not in request.headers.get("accept", "")


def create_app(settings: ServerSettings) -> FastAPI:
    """The ASGI application for ``settings``; the store opens (and migrates) when it starts."""
    from codewitness.server import pages
    from codewitness.server._render import render_error
    from codewitness.server.api.v1 import router as api_router
    from codewitness.store import open_store
    from codewitness.views.catalog import ReportMemo

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = open_store(settings.database_url)
        app.state.store = store
        try:
            yield
        finally:
            store.close()

    app = FastAPI(
        title="codewitness",
        version=__version__,
        description="Runtime facts from the codewitness sensor in, attribution and runtime views out.",
        openapi_url="/api/v1/openapi.json",
        docs_url=None,  # Swagger UI and ReDoc load their assets from a CDN; the schema is enough
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.memo = ReportMemo(settings.root) if settings.root is not None else None

    @app.exception_handler(CodewitnessError)
    async def _our_error(request: Request, exc: CodewitnessError) -> Response:
        status = _status(exc)
        if _wants_json(request):
            return JSONResponse({"error": str(exc)}, status_code=status)
        return render_error(request, status, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _bad_request(request: Request, exc: RequestValidationError) -> Response:
        problems = []
        for error in exc.errors():
            where = ".".join(str(p) for p in error.get("loc", ()) if p not in ("query", "path", "body"))
            problems.append(f"{where}: {error.get('msg', 'invalid')}" if where else str(error.get("msg")))
        message = "; ".join(problems) or "invalid request"
        if _wants_json(request):
            return JSONResponse({"error": message}, status_code=400)
        return render_error(request, 400, message)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        headers = dict(exc.headers or {})
        if _wants_json(request):
            return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code, headers=headers)
        if exc.status_code == 401 and request.method == "GET":
            from urllib.parse import quote

            target = quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""), safe="")
            return Response(status_code=303, headers={"Location": f"/login?next={target}"})
        return render_error(request, exc.status_code, str(exc.detail), headers=headers)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(api_router)
    app.include_router(pages.router)
    return app


def app_from_environment() -> FastAPI:
    """The application of a ``serve --workers N`` worker (settings from :data:`SETTINGS_ENV`)."""
    return create_app(ServerSettings.from_json(os.environ[SETTINGS_ENV]))


def serve(settings: ServerSettings, *, host: str, port: int, workers: int = 1, log_level: str = "info") -> None:
    """Run the server until interrupted.

    Raises:
        UsageError: several workers on SQLite (one writer: use PostgreSQL), or a port in use.
        StoreError: the database cannot be opened.
    """
    import uvicorn

    from codewitness.store import open_store

    if workers > 1 and not settings.database_url.startswith(("postgresql", "postgres")):
        raise UsageError("--workers above 1 needs PostgreSQL (--db postgresql://...): SQLite has one writer")
    open_store(settings.database_url).close()  # migrate once, and fail here with a clear message
    options: dict[str, Any] = {"host": host, "port": port, "log_level": log_level, "access_log": False}
    if workers > 1:
        os.environ[SETTINGS_ENV] = settings.to_json()
        uvicorn.run("codewitness.server.app:app_from_environment", factory=True, workers=workers, **options)
    else:
        uvicorn.run(create_app(settings), **options)
