"""HTML pages and their JSON twins: the dashboard, widgets, a session's transcript."""

from __future__ import annotations

import contextlib
import gzip
import threading
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import available_timezones

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from lexboard import __version__
from lexboard.metrics import resolve_request, run_metric
from lexboard.metrics.request import FILTERS
from lexboard.server.api import WINDOW_KEYS, ApiError, conversations_of, state_of
from lexboard.server.curation import csrf_token
from lexboard.server.widgets import SECTIONS, WIDGETS, WIDGETS_BY_ID, render

router = APIRouter()
templates = Environment(
    loader=PackageLoader("lexboard.server", "templates"),
    autoescape=select_autoescape(["html"], default=True),
)
STATIC = Path(str(resources.files("lexboard.server") / "static"))
RANGES = [
    ("1h", "last hour"),
    ("3h", "last 3 hours"),
    ("12h", "last 12 hours"),
    ("1d", "last day"),
    ("3d", "last 3 days"),
    ("1w", "last week"),
    ("30d", "last 30 days"),
    ("custom", "custom"),
]
ZONES = [*sorted(z for z in available_timezones() if "/" in z and not z.startswith("Etc/")), "UTC"]


def plotly_js() -> Path:
    """The dashboard's plotly.js: a bundle of the plotly.js release with only the trace
    types the widgets draw, shipped in the package (no CDN, works offline).

    tools/plotly/build.mjs makes it; it is 1.4 MB against the full bundle's 4.8 MB, which
    a new browser spends about 1.5 s parsing and starting on a 2-core machine.
    """
    path = STATIC / "plotly.min.js"
    if not path.is_file():
        raise ApiError(500, f"plotly.js is missing from the installation: {path}")
    return path


_GZIP_LOCK = threading.Lock()


@cache
def _gzipped(path: Path) -> bytes:
    return gzip.compress(path.read_bytes(), compresslevel=6, mtime=0)


def warm_plotly_js_gzip() -> None:
    """Compress plotly.js ahead of the first page (a thread's target: never raises)."""
    with contextlib.suppress(ApiError, OSError):  # the request that needs it reports it
        plotly_js_gzip()


def plotly_js_gzip() -> bytes:
    """plotly.js gzip-compressed, once per process (1.4 MB, about 0.4 MB on the wire).

    The app starts this in the background when it starts, so the first page is not kept
    waiting for it.
    """
    with _GZIP_LOCK:
        return _gzipped(plotly_js())


@router.get("/", response_class=HTMLResponse)
def dashboard(request: Request) -> HTMLResponse:
    state = state_of(request)
    user = getattr(request.state, "user", None)
    writable = state.settings.write_widgets and user is not None and user.is_editor
    page = templates.get_template("dashboard.html").render(
        static="/static",
        settings=state.settings,
        csrf=csrf_token(request, user) if writable else None,
        sections=SECTIONS,
        widgets=WIDGETS,
        ranges=RANGES,
        zones=ZONES,
        version=__version__,
    )
    return HTMLResponse(page)


@router.get("/favicon.ico")
def favicon() -> FileResponse:
    return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml")


@router.get("/static/{name}")
def static(name: str, request: Request) -> Response:
    cache = {"Cache-Control": "public, max-age=86400"}  # URLs carry ?v=<version>
    if name == "plotly.min.js":
        if "gzip" not in request.headers.get("accept-encoding", ""):
            return FileResponse(plotly_js(), media_type="text/javascript", headers=cache)
        return Response(
            plotly_js_gzip(),
            media_type="text/javascript",
            headers={**cache, "Content-Encoding": "gzip", "Vary": "Accept-Encoding"},
        )
    path = STATIC / name
    if "/" in name or name.startswith(".") or not path.is_file():
        raise ApiError(404, f"no static file {name!r}")
    kinds = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
    kind = kinds.get(path.suffix, "application/octet-stream")
    return FileResponse(path, media_type=kind, headers=cache)


@router.get("/api/widgets")
def widget_list() -> dict[str, Any]:
    return {
        "sections": list(SECTIONS),
        "widgets": [
            {
                "id": w.id,
                "metric": w.metric,
                "title": w.title,
                "section": w.section,
                "kind": w.kind,
                "params": w.params,
            }
            for w in WIDGETS
        ],
    }


@router.get("/api/widgets/{widget_id}")
def widget(widget_id: str, request: Request) -> JSONResponse:
    state = state_of(request)
    chosen = WIDGETS_BY_ID.get(widget_id)
    if chosen is None:
        raise ApiError(404, f"unknown widget {widget_id!r}", "widgets: " + ", ".join(WIDGETS_BY_ID))
    query = request.query_params
    params = {**chosen.params, **{k: v for k, v in query.items() if k not in WINDOW_KEYS}}
    resolved = resolve_request(
        chosen.metric,
        query.get("from") or None,
        query.get("to") or None,
        query.get("tz") or state.settings.tz,
        {name: query.get(name) for name in FILTERS},
        params,
    )
    key = ("widget", widget_id, tuple(sorted(resolved.echo().items())))
    payload = state.cached(key, lambda: render(chosen, run_metric(state.store, resolved)))
    return JSONResponse(payload)


@router.get("/sessions/{session_id:path}", response_class=HTMLResponse)
def session_page(session_id: str, request: Request) -> HTMLResponse:
    tz, conversations = conversations_of(request, session_id)
    query = request.query_params
    json_url = f"/api/sessions/{quote(session_id, safe='')}?" + urlencode(dict(query))
    page = templates.get_template("session.html").render(
        static="/static",
        session_id=session_id,
        tz=tz,
        conversations=conversations,
        json_url=json_url,
        version=__version__,
    )
    return HTMLResponse(page)
