"""The JSON/CSV API. Every figure comes from ``metrics``; this module only translates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from lexboard.errors import LexboardError, MetricError
from lexboard.metrics import CATALOG, resolve_request, run_metric
from lexboard.metrics.request import FILTERS, parse_zone
from lexboard.output import to_csv
from lexboard.server.state import ServerState
from lexboard.store.ingest import ingest_sources, summary_to_dict
from lexboard.store.overview import dimensions, quarantine_entries, status
from lexboard.store.transcripts import session_transcripts

WINDOW_KEYS = ("from", "to", "tz", "format", *FILTERS)
router = APIRouter()


class ApiError(LexboardError):
    def __init__(self, status_code: int, message: str, hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.status_code = status_code


def error_response(status_code: int, message: str, hint: str | None = None) -> JSONResponse:
    return JSONResponse(
        {"ok": False, "status": status_code, "error": message, "hint": hint},
        status_code=status_code,
    )


def state_of(request: Request) -> ServerState:
    state: ServerState = request.app.state.lexboard
    return state


@router.get("/healthz")
def healthz(request: Request) -> dict[str, Any]:
    state = state_of(request)
    return {"ok": True, "store": str(state.store.path), "data_version": state.data_version}


@router.get("/api/metrics")
def catalog() -> dict[str, Any]:
    return {
        "metrics": [
            {
                "id": m.id,
                "title": m.title,
                "description": m.description,
                "level": m.level,
                "order": m.order,
                "columns": [{"name": c.name, "type": c.type, "help": c.help} for c in m.columns],
                "params": [
                    {
                        "name": p.name,
                        "kind": p.kind,
                        "default": p.default,
                        "choices": list(p.choices),
                        "minimum": p.minimum,
                        "maximum": p.maximum,
                        "help": p.help,
                    }
                    for p in m.params
                ],
            }
            for m in CATALOG.values()
        ]
    }


@router.get("/api/metrics/{metric_id}")
def metric(metric_id: str, request: Request) -> Response:
    state = state_of(request)
    query = request.query_params
    fmt = query.get("format", "json")
    if fmt not in ("json", "csv"):
        raise ApiError(400, f"format {fmt!r} is not supported", "format is json or csv")
    if metric_id not in CATALOG:
        raise ApiError(404, f"unknown metric {metric_id!r}", "metrics: " + ", ".join(CATALOG))
    params = {k: v for k, v in query.items() if k not in WINDOW_KEYS}
    resolved = resolve_request(
        metric_id,
        query.get("from") or None,
        query.get("to") or None,
        query.get("tz") or state.settings.tz,
        {name: query.get(name) for name in FILTERS},
        params,
    )
    key = (metric_id, tuple(sorted(resolved.echo().items())))
    result = state.cached(key, lambda: run_metric(state.store, resolved))
    if fmt == "csv":
        return Response(
            to_csv(result),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{metric_id}.csv"'},
        )
    return JSONResponse(result.to_dict())


def conversations_of(request: Request, session_id: str) -> tuple[str, list[dict[str, Any]]]:
    """The time zone and the conversations under ``session_id`` (404 when none)."""
    state = state_of(request)
    query = request.query_params
    tz = parse_zone(query.get("tz") or state.settings.tz)
    conversations = session_transcripts(
        state.store,
        session_id,
        tz,
        bot_id=query.get("bot_id") or None,
        locale_id=query.get("locale_id") or None,
        originating_request_id=query.get("originating_request_id"),
    )
    if not conversations:
        raise ApiError(404, f"no session {session_id!r} in the store")
    return tz, conversations


@router.get("/api/sessions/{session_id:path}")
def session(session_id: str, request: Request) -> dict[str, Any]:
    tz, conversations = conversations_of(request, session_id)
    return {"session_id": session_id, "tz": tz, "conversations": conversations}


@router.get("/api/status")
def api_status(request: Request) -> dict[str, Any]:
    state = state_of(request)
    result = {
        "data_version": state.data_version,
        **status(state.store),
        # results served from the cache (or from a computation another request started)
        # and results computed: many viewers of one view cost one computation
        "cache": {"hits": state.cache_hits, "computed": state.cache_computed},
    }
    health = state.workers.health if state.workers else {}
    for source in result["sources"]:
        if source["source"] in health:
            live = health[source["source"]]
            source["last_error"] = live.last_error
            source["live"] = True
    return result


@router.get("/api/dimensions")
def api_dimensions(request: Request) -> dict[str, Any]:
    state = state_of(request)
    return state.cached(("dimensions",), lambda: dimensions(state.store))


@router.get("/api/quarantine")
def api_quarantine(request: Request, limit: int = 50) -> dict[str, Any]:
    if limit < 1:
        raise ApiError(400, "limit must be at least 1")
    return quarantine_entries(state_of(request).store, limit)


LOOPBACK = ("127.0.0.1", "::1", "localhost")


@router.post("/api/ingest")
async def api_ingest(request: Request) -> dict[str, Any]:
    """Ingest files on this machine (a CLI `lexboard ingest` forwarded to the store's owner)."""
    if request.client is None or request.client.host not in LOOPBACK:
        raise ApiError(403, "ingest by path is only accepted from this machine")
    require_editor(request)
    try:
        body = await request.json()
        sources = [(str(label), [Path(p) for p in paths]) for label, paths in body["sources"]]
    except (ValueError, KeyError, TypeError):
        raise ApiError(400, "body must be {sources: [[label, [path, ...]], ...]}") from None
    fmt = body.get("format")
    state = state_of(request)

    def run() -> dict[str, Any]:
        with state.writing() as store:
            summary = ingest_sources(
                store, sources, fmt, state.settings.retention_days, body.get("command")
            )
        return summary_to_dict(summary)

    return await run_in_threadpool(run)


def require_editor(request: Request) -> None:
    user = getattr(request.state, "user", None)
    if user is None or not user.is_editor:
        raise ApiError(403, "this needs the editor role", "ask for an editor user or token")


def status_for(exc: LexboardError) -> int:
    if isinstance(exc, ApiError):
        return exc.status_code
    if isinstance(exc, MetricError) and exc.message.startswith("unknown metric"):
        return 404
    return 400
