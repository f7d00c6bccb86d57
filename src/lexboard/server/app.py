"""``create_app(settings)``: the FastAPI application over one store it owns."""

from __future__ import annotations

import hmac
import logging
import secrets
import threading
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from lexboard import __version__, owner
from lexboard.config import Settings
from lexboard.errors import LexboardError
from lexboard.server import api, curation, firehose, pages, prometheus
from lexboard.server.auth import LOCAL_EDITOR, Authenticator, User
from lexboard.server.state import ServerState
from lexboard.server.workers import LiveSource, Workers
from lexboard.store import open_store
from lexboard.store.db import Store

log = logging.getLogger("lexboard.server")

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
        "form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def create_app(
    settings: Settings,
    store: Store | None = None,
    announce_url: str | None = None,
    sources: Sequence[LiveSource] = (),
) -> FastAPI:
    """The app; it opens (and owns) ``settings.db`` unless a store is handed in.

    With ``announce_url`` the app writes ``<db>.server.json`` while it runs, so other
    ``lexboard`` commands send their requests here instead of opening the file.
    """

    authenticator = Authenticator(settings.extra.get("auth"), str(settings.config_file))
    local_token = secrets.token_urlsafe(32)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = store is None
        state = ServerState(settings, store or open_store(settings.db))
        app.state.lexboard = state
        workers = Workers(state, list(sources))
        state.workers = workers
        workers.start()
        # the first page's plotly.js is then already compressed
        threading.Thread(target=pages.warm_plotly_js_gzip, name="plotly-gzip", daemon=True).start()
        if announce_url:
            # over HTTPS local commands trust exactly this server's certificate
            cafile = settings.ssl_certfile if announce_url.startswith("https:") else None
            owner.announce(state.store.path, announce_url, local_token, cafile)
        try:
            yield
        finally:
            workers.stop()
            if announce_url:
                owner.withdraw(state.store.path)
            if owned:
                state.store.close()

    app = FastAPI(title="lexboard", version=__version__, lifespan=lifespan)
    app.include_router(api.router)
    app.include_router(pages.router)
    app.include_router(curation.reads)
    app.include_router(curation.writes)  # 404 unless write_widgets = true
    app.state.csrf_secret = secrets.token_bytes(32)
    app.include_router(prometheus.router)  # GET /metrics, GET /api/check
    app.include_router(firehose.router)  # POST /ingest/firehose (its own access key)

    @app.exception_handler(LexboardError)
    async def lexboard_error(_: Request, exc: LexboardError) -> JSONResponse:
        return api.error_response(api.status_for(exc), exc.message, exc.hint)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = "not found" if exc.status_code == 404 else str(exc.detail)
        return api.error_response(exc.status_code, message)

    @app.exception_handler(Exception)
    async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return api.error_response(
            500, f"internal error ({type(exc).__name__}); the server log has the details"
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return api.error_response(400, f"{where}: {first.get('msg', 'invalid request')}")

    @app.middleware("http")
    async def security_headers(request: Request, call_next):  # type: ignore[no-untyped-def]
        user = _who(request, authenticator, local_token)
        if user is None and request.url.path not in OPEN_PATHS:
            response: Response = api.error_response(
                401, "authentication required", "log in with a user or a bearer token"
            )
            response.headers["WWW-Authenticate"] = 'Basic realm="lexboard", charset="UTF-8"'
        else:
            request.state.user = user
            response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    return app


# Firehose has no user login: its endpoint checks the firehose_access_key setting itself.
OPEN_PATHS = ("/healthz", "/favicon.ico", firehose.PATH)


def _who(request: Request, authenticator: Authenticator, local_token: str) -> User | None:
    header = request.headers.get("authorization")
    if header and hmac.compare_digest(header.encode(), f"Bearer {local_token}".encode()):
        return LOCAL_EDITOR  # a lexboard command on this machine, via the owner file
    if authenticator.configured:
        return authenticator.authenticate(header)
    client = request.client.host if request.client else ""
    return LOCAL_EDITOR if client in api.LOOPBACK else None
